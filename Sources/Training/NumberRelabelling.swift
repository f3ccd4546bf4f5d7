import Curriculum
import Model

/// Training only: each question's numbers get their slot ids in a random order (the first number
/// named may be slot 3, the second slot 1, ...), the worked solution following. The pointers
/// pick slots by id, so an id no longer says where in the sentence a number stands: which number
/// is which operand has to be read from the words around it, not from the template's order.
/// A relabelled question asks and answers the same thing (the reasoner reads each slot's digits
/// by its id). `total` sums the numbers from A through C in sentence order, so its questions
/// keep their order.
extension ModelBatch {
    mutating func relabelNumbers(_ questions: [Question], slots maxSlots: Int, rng: inout SplitMix64) {
        for b in 0..<size {
            let row = b * seq ..< (b + 1) * seq
            let count = min(maxSlots, Int(slots[row].max() ?? 0))
            guard count >= 2, questions[b].program?.op != .total else { continue }
            let order = Array(1...count).shuffled(using: &rng).map { Int32($0) }
            for i in row where slots[i] >= 1 && slots[i] <= Int32(count) { slots[i] = order[Int(slots[i]) - 1] }
            guard programs != nil else { continue }
            for column in [0, 1, 4] {
                let i = b * Self.programWidth + column
                if programs![i] >= 0 && programs![i] < Int32(count) { programs![i] = order[Int(programs![i])] - 1 }
            }
        }
    }
}
