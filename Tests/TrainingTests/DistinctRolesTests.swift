import Curriculum
import XCTest
@testable import Model

/// Eval reads each number in at most one role (`ConceptModel.distinctRoleMasks`): every program
/// the lessons write does, and the masks move B and C off the numbers earlier roles took.
final class DistinctRolesTests: XCTestCase {
    func testEveryLessonProgramReadsEachNumberOnce() {
        var rng = SplitMix64(seed: 5)
        let generator = LessonGenerator(config: LessonConfig(seed: 5, grade: 2))
        var checked = 0
        for split in Split.allCases {
            for q in generator.generate(split: split, count: 2000, rng: &rng) {
                guard let p = q.program else { continue }
                let used = [p.a] + [p.b, p.c].compactMap { $0 }
                XCTAssertEqual(Set(used).count, used.count, "\(q.text): \(p)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 10000)
    }

    func testMasksMoveLaterRolesOffTakenNumbers() {
        // Four slots, two numbers present: A and C both peak on slot 1.
        let S = 4
        var row = [Float](repeating: 0, count: 3 * S)
        row[0 * S + 1] = 5; row[1 * S + 1] = 3; row[2 * S + 1] = 4
        let two = [true, true, false, false]
        let masks = ConceptModel.distinctRoleMasks(row: row[...], present: two, slots: S)
        XCTAssertTrue(masks.contains { $0.role == 2 && $0.slot == 1 }, "C must leave A's number")
        XCTAssertTrue(masks.contains { $0.role == 1 && $0.slot == 1 }, "B must leave A's number")
        XCTAssertFalse(masks.contains { $0.role == 0 }, "A keeps its choice")
        XCTAssertFalse(masks.contains { $0.slot == 0 }, "with two numbers, B and C may share the other")
        // Three numbers: C also leaves B's.
        row[1 * S + 2] = 6
        let three = ConceptModel.distinctRoleMasks(row: row[...], present: [true, true, true, false], slots: S)
        XCTAssertTrue(three.contains { $0.role == 2 && $0.slot == 2 })
        // One number: nothing to move.
        XCTAssertTrue(ConceptModel.distinctRoleMasks(row: row[...], present: [false, true, false, false], slots: S).isEmpty)
    }
}
