import Curriculum
import Model

extension ModelTarget {
    init(_ answer: Answer) {
        switch answer {
        case .yes: self = .yesNo(true)
        case .no: self = .yesNo(false)
        case let .number(n): self = .number(n)
        }
    }
}

/// Turns questions into model batches: tokens, places and number slots padded to the longest
/// question of the batch.
public struct Batcher: Sendable {
    public let tokenizer: Tokenizer
    public let maxLen: Int

    public init(tokenizer: Tokenizer, maxLen: Int) {
        self.tokenizer = tokenizer
        self.maxLen = maxLen
    }

    /// Throws when a question does not fit `maxLen` tokens. Unknown words become UNK.
    public func batch(_ questions: [Question], withTargets: Bool = true) throws -> ModelBatch {
        let encoded = try questions.map { try tokenizer.encodeChecked($0.text, maxLength: maxLen) }
        let T = max(2, encoded.map(\.length).max() ?? 2)
        let B = questions.count
        var tokens = [Int32](repeating: Vocabulary.padID, count: B * T)
        var places = [Int32](repeating: 0, count: B * T), slots = places
        var lengths = [Int32](repeating: 0, count: B)
        for (b, e) in encoded.enumerated() {
            for t in 0..<e.length {
                tokens[b * T + t] = e.tokens[t]
                places[b * T + t] = e.places[t]
                slots[b * T + t] = e.numberIndex[t]
            }
            lengths[b] = Int32(e.length)
        }
        var batch = ModelBatch(size: B, seq: T, tokens: tokens, places: places, slots: slots, lengths: lengths,
                               targets: withTargets ? questions.map { ModelTarget($0.answer) } : nil)
        if withTargets && questions.contains(where: { $0.program != nil }) {
            batch.programs = questions.flatMap { q -> [Int32] in
                guard let p = q.program else { return [-1, -1, -1, -1, -1] }
                return [Int32(p.a), Int32(p.b ?? -1), Int32(p.op.rawValue), Int32(p.relation?.rawValue ?? -1),
                        Int32(p.c ?? -1)]
            }
        }
        return batch
    }
}

extension Prediction {
    /// The model's answer in the questions-file vocabulary.
    public var answer: Answer { isNumber ? .number(number) : (yes ? .yes : .no) }
}
