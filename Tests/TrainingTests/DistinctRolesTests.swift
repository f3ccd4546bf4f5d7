import Compute
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

    func testMasksMoveTheUsedRolesOffTakenNumbers() {
        // Four slots; A, B and C all peak on slot 1.
        let S = 4, U = ReasonerSpec.opCount, R = ReasonerSpec.relationCount
        let width = 3 * S + U + R + 1
        func row(op: StepOp, number: Bool) -> [Float] {
            var r = [Float](repeating: 0, count: width)
            r[0 * S + 1] = 5; r[1 * S + 1] = 3; r[2 * S + 1] = 4
            r[1 * S + 2] = 2; r[2 * S + 2] = 1
            r[3 * S + op.rawValue] = 9
            r[3 * S + U + R] = number ? 5 : -5
            return r
        }
        let two = [true, true, false, false], three = [true, true, true, false]
        // add(A, C) answering a number: C leaves A's number; B is not used and is left alone.
        var m = ConceptModel.distinctRoleMasks(row: row(op: .add, number: true)[...], present: two, slots: S)
        XCTAssertTrue(m.contains { $0.role == 2 && $0.slot == 1 })
        XCTAssertFalse(m.contains { $0.role != 2 })
        // With three numbers, C still only leaves A's (B unused cannot take C's number).
        m = ConceptModel.distinctRoleMasks(row: row(op: .add, number: true)[...], present: three, slots: S)
        XCTAssertEqual(m.map(\.slot), [1])
        // equal(add(A, C), B) on three numbers: C leaves A's, then B leaves A's and C's (slot 2).
        m = ConceptModel.distinctRoleMasks(row: row(op: .add, number: false)[...], present: three, slots: S)
        XCTAssertTrue(m.contains { $0.role == 1 && $0.slot == 1 } && m.contains { $0.role == 1 && $0.slot == 2 })
        // relation(id(A), B): only B moves; C is not used.
        m = ConceptModel.distinctRoleMasks(row: row(op: .identity, number: false)[...], present: two, slots: S)
        XCTAssertEqual(m.map(\.role), [1])
        XCTAssertFalse(m.contains { $0.role == 0 }, "A keeps its choice")
        // Two numbers and three roles: B and C both leave A's number and may share the other.
        m = ConceptModel.distinctRoleMasks(row: row(op: .add, number: false)[...], present: two, slots: S)
        XCTAssertTrue(m.allSatisfy { $0.slot == 1 } && Set(m.map(\.role)) == [1, 2])
        // One number: nothing to move.
        XCTAssertTrue(ConceptModel.distinctRoleMasks(row: row(op: .add, number: true)[...], present: [false, true, false, false],
                                                     slots: S).isEmpty)
    }
}
