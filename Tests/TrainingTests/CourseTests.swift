import Compute
import Curriculum
import Foundation
import XCTest
@testable import Training

/// Courses: levels end on mastery or at their cap (never earlier), replay draws its share from
/// earlier levels, and a run resumed mid-course continues bit-identically.
final class CourseTests: XCTestCase {
    static let counting: [Concept] = [.countAfter, .countBefore]
    static let relations: [Concept] = [.greater, .smaller, .sameParity]

    func course(firstBar: Double, secondBar: Double, cap: Int = 4, replay: Double = 0.25) -> Course {
        Course(name: "test", checkEvery: 2, levels: [
            .init(name: "first", concepts: Self.counting, mastery: firstBar, maxSteps: 40, replay: 0),
            .init(name: "second", concepts: Self.relations, mastery: secondBar, maxSteps: cap, replay: replay),
        ])
    }

    func options(_ course: Course, seed: UInt64, dir: URL, steps: Int = 10) -> TrainOptions {
        var o = TrainingTests.tinyOptions(seed: seed, dir: dir.path)
        o.course = course; o.steps = steps
        return o
    }

    /// Gating with pinned scores: level 1's concepts pass only from step 6 on, so it ends at the
    /// check at step 6, not before; level 2's never pass, so it ends at its cap, marked not mastered.
    func testLevelsEndOnMasteryOrAtTheirCapOnly() throws {
        let dir = try makeTempDir()
        let t = try Trainer(options: options(course(firstBar: 0.98, secondBar: 0.98, cap: 3), seed: 3, dir: dir, steps: 12),
                            backend: CPUBackend(threads: 1))
        t.log = { _ in }
        var checks: [Int] = []
        t.masteryScorer = { concepts in
            checks.append(t.step)
            let passing = Self.counting.contains(concepts[0]) && t.step >= 6
            return Dictionary(uniqueKeysWithValues: concepts.map { ($0.rawValue, passing ? 0.99 : 0.97) })
        }
        for _ in 0..<12 { try t.trainStep() }
        let records = t.courseProgress.records
        XCTAssertEqual(records.map(\.level), ["first", "second"])
        XCTAssertEqual(records[0].end, 6, "level 1 must not end before its concepts pass")
        XCTAssertTrue(records[0].mastered)
        XCTAssertEqual(records[1].start, 6)
        XCTAssertEqual(records[1].end, 9, "an unmastered level ends at its cap")
        XCTAssertFalse(records[1].mastered)
        XCTAssertEqual(checks, [2, 4, 6, 8, 9], "checks every 2 steps of a level and at its cap")
        XCTAssertEqual(t.courseProgress.level, 2)
    }

    /// The real scorer: each of the level's concepts, a fraction in [0, 1].
    func testMasteryScoresCoverTheLevelsConcepts() throws {
        let dir = try makeTempDir()
        let t = try Trainer(options: options(course(firstBar: 0.9, secondBar: 0.9), seed: 4, dir: dir), backend: CPUBackend(threads: 1))
        let scores = try t.masteryScores(Self.relations)
        XCTAssertEqual(Set(scores.keys), Set(Self.relations.map(\.rawValue)))
        XCTAssertTrue(scores.values.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    func testReplayShareComesFromEarlierLevels() throws {
        let dir = try makeTempDir()
        let t = try Trainer(options: options(course(firstBar: 0.9, secondBar: 0.9, replay: 0.25), seed: 5, dir: dir),
                            backend: CPUBackend(threads: 1))
        var qs = t.courseQuestions(t.options.course!, count: 200)
        XCTAssertTrue(qs.allSatisfy { Self.counting.contains($0.concept) }, "level 1 trains its own concepts only")
        t.courseProgress.level = 1
        qs = t.courseQuestions(t.options.course!, count: 200)
        XCTAssertEqual(qs.filter { Self.counting.contains($0.concept) }.count, 50, "25% replay of level 1")
        XCTAssertEqual(qs.filter { Self.relations.contains($0.concept) }.count, 150)
        t.courseProgress.level = 2
        qs = t.courseQuestions(t.options.course!, count: 200)
        XCTAssertEqual(Set(qs.map(\.concept)), Set(Self.counting + Self.relations), "after the last level: the whole course")
    }

    /// A level's preview share comes from the later levels (interleaving instead of gating).
    func testPreviewShareComesFromLaterLevels() throws {
        let dir = try makeTempDir()
        var c = course(firstBar: 0.9, secondBar: 0.9, replay: 0.25)
        c.levels[0].preview = 0.4
        try c.validate(name: "test")
        let t = try Trainer(options: options(c, seed: 5, dir: dir), backend: CPUBackend(threads: 1))
        let qs = t.courseQuestions(t.options.course!, count: 200)
        XCTAssertEqual(qs.filter { Self.relations.contains($0.concept) }.count, 80, "40% preview of level 2")
        XCTAssertEqual(qs.filter { Self.counting.contains($0.concept) }.count, 120)
        c.levels[1].preview = 0.2
        XCTAssertThrowsError(try c.validate(name: "test"), "the last level has nothing to preview")
    }

    /// 10 steps straight and 5 + checkpoint + resume + 5 (mid-level, after a level change) give
    /// bitwise-equal weights, losses and course progress.
    func testResumeMidCourseIsBitIdentical() throws {
        let dir = try makeTempDir()
        let seed = UInt64.random(in: 1...10_000)
        let c = course(firstBar: 0.98, secondBar: 0.98, cap: 40)
        let be = CPUBackend(threads: 2)
        // Level 1 passes at its first check (step 2), level 2 never: the resume lands mid-level 2.
        func pinned(_ t: Trainer) {
            t.log = { _ in }
            t.masteryScorer = { concepts in Dictionary(uniqueKeysWithValues: concepts.map { ($0.rawValue, Self.counting.contains($0) ? 1 : 0.5) }) }
        }
        let straight = try Trainer(options: options(c, seed: seed, dir: dir), backend: be)
        pinned(straight)
        var lossesA: [Double] = []
        for _ in 0..<10 { lossesA.append(try straight.trainStep().stats.loss) }
        let first = try Trainer(options: options(c, seed: seed, dir: dir), backend: be)
        pinned(first)
        var lossesB: [Double] = []
        for _ in 0..<5 { lossesB.append(try first.trainStep().stats.loss) }
        XCTAssertEqual(first.courseProgress.level, 1, "the checkpoint is taken mid-level 2")
        let url = dir.appendingPathComponent("mid.safetensors")
        try first.checkpoint().write(to: url)
        let resumed = try Trainer.resume(from: url, backend: be)
        pinned(resumed)
        XCTAssertEqual(resumed.courseProgress, first.courseProgress)
        for _ in 0..<5 { lossesB.append(try resumed.trainStep().stats.loss) }
        XCTAssertEqual(lossesA, lossesB, "losses differ after resume (seed \(seed))")
        XCTAssertEqual(straight.courseProgress, resumed.courseProgress)
        let a = try straight.model.params.snapshot(), b = try resumed.model.params.snapshot()
        for (name, va) in a { XCTAssertEqual(va.map(\.bitPattern), b[name]!.map(\.bitPattern), "\(name) (seed \(seed))") }
    }
}
