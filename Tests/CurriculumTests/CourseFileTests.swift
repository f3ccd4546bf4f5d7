import Foundation
import XCTest
@testable import Curriculum

final class CourseFileTests: XCTestCase {
    /// The repository's Grade 1 course reads, covers every Grade 1 concept once, and orders counting first.
    func testGrade1CourseCoversEveryConcept() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let course = try Course.parse(try Data(contentsOf: root.appendingPathComponent("Courses/grade1.json")), name: "grade1.json")
        XCTAssertEqual(Set(course.concepts), Set(Concept.upTo(grade: 1)))
        XCTAssertEqual(course.levels.flatMap(\.concepts).count, Concept.upTo(grade: 1).count, "each concept in one level")
        XCTAssertEqual(Set(course.levels[0].concepts), Set(Concept.counting))
    }

    /// The Grade 2 courses read and cover every concept of both grades once; grade2 starts with
    /// all of Grade 1 and replays it.
    func testGrade2CoursesCoverBothGrades() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for name in ["grade2", "grade2-uniform"] {
            let course = try Course.parse(try Data(contentsOf: root.appendingPathComponent("Courses/\(name).json")), name: name)
            XCTAssertEqual(Set(course.concepts), Set(Concept.allCases), name)
            XCTAssertEqual(course.levels.flatMap(\.concepts).count, Concept.allCases.count, "\(name): each concept in one level")
        }
        let course = try Course.parse(try Data(contentsOf: root.appendingPathComponent("Courses/grade2.json")), name: "grade2")
        XCTAssertEqual(Set(course.levels[0].concepts), Set(Concept.upTo(grade: 1)))
        XCTAssertTrue(course.levels.dropFirst().allSatisfy { $0.replay > 0 })
    }

    /// Each malformed course is one line naming the field that is wrong.
    func testMalformedCoursesNameTheField() {
        let level = #"{"name": "a", "concepts": ["count_after"], "mastery": 0.9, "max_steps": 5, "replay": 0}"#
        func course(_ levels: String, check: String = "10") -> String { #"{"name": "c", "check_every": \#(check), "levels": [\#(levels)]}"# }
        let cases: [(String, String)] = [
            (course(level.replacingOccurrences(of: "count_after", with: "countin")), "levels[0].concepts[0]"),
            (course(level.replacingOccurrences(of: "0.9", with: "\"high\"")), "levels[0].mastery"),
            (course(level.replacingOccurrences(of: #", "max_steps": 5"#, with: "")), "levels[0].max_steps"),
            (course(level.replacingOccurrences(of: "0.9", with: "1.5")), "levels[0].mastery"),
            (course(level.replacingOccurrences(of: #""replay": 0"#, with: #""replay": 0.2"#)), "levels[0].replay"),
            (course(level + ", " + level.replacingOccurrences(of: #""replay": 0"#, with: #""replay": 1"#)), "levels[1].replay"),
            (course(level.replacingOccurrences(of: #"["count_after"]"#, with: "[]")), "levels[0].concepts"),
            (course(""), "levels"),
            (course(level, check: "0"), "check_every"),
            ("{not json", "not a JSON course file"),
        ]
        for (text, field) in cases {
            XCTAssertThrowsError(try Course.parse(Data(text.utf8), name: "c.json")) { error in
                let line = "\(error)"
                XCTAssertTrue(line.hasPrefix("c.json: ") && line.contains(field) && !line.contains("\n"), "\(line) should name \(field)")
            }
        }
    }
}
