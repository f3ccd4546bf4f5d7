import Compute
import Curriculum
import Foundation
import Model
import XCTest
@testable import Training

/// Training relabels each question's numbers in a random slot order; what each question asks
/// must not change: every worked-solution role still names the same number, the slot ids are the
/// same set, `total` questions keep their order, and the order does change elsewhere.
final class NumberRelabellingTests: XCTestCase {
    /// The number of slot id `slot` in row b (digits joined by place), nil where none.
    func number(_ batch: ModelBatch, row b: Int, slot: Int32) -> Int? {
        var value = 0, found = false
        for t in 0..<batch.seq where batch.slots[b * batch.seq + t] == slot {
            let place = Int(batch.places[b * batch.seq + t]), digit = Int(batch.tokens[b * batch.seq + t]) - 3
            value += digit * Int(pow(10, Double(place - 1)))
            found = true
        }
        return found ? value : nil
    }

    func testRelabellingKeepsEveryRoleOnItsNumber() throws {
        var o = TrainOptions.grade2Quick
        o.dModel = 16; o.heads = 2; o.batchSize = 8; o.saveDir = NSTemporaryDirectory(); o.seed = UInt64.random(in: 1...1000)
        let t = try Trainer(options: o, backend: CPUBackend(threads: 1))
        var rng = SplitMix64(seed: o.seed)
        var moved = 0, rows = 0
        for _ in 0..<20 {
            let questions = t.generator.generate(split: .train, count: 64, rng: &rng)
            let before = try t.batcher.batch(questions)
            var after = before
            after.relabelNumbers(questions, slots: t.model.config.slots, rng: &rng)
            for b in 0..<before.size {
                rows += 1
                let row = b * before.seq ..< (b + 1) * before.seq
                XCTAssertEqual(Set(before.slots[row]), Set(after.slots[row]), questions[b].text)
                if before.slots[row] != after.slots[row] { moved += 1 }
                if questions[b].program?.op == .total { XCTAssertEqual(before.slots[row], after.slots[row], questions[b].text) }
                for column in [0, 1, 4] {
                    let i = b * ModelBatch.programWidth + column
                    let old = before.programs![i], new = after.programs![i]
                    XCTAssertEqual(old < 0, new < 0)
                    guard old >= 0 else { continue }
                    XCTAssertEqual(number(before, row: b, slot: old + 1), number(after, row: b, slot: new + 1),
                                   "\(questions[b].text): role column \(column)")
                }
            }
        }
        XCTAssertGreaterThan(moved, rows / 4, "relabelling left almost every question in sentence order")
    }
}
