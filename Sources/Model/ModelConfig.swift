/// Every size of the concept model. Grade 1 defaults; all set from flags.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var vocabSize: Int
    /// Token id of each digit 0...9, so the reasoner can read digit values from the tokens.
    public var digitTokenIds: [Int32]
    public var maxLen: Int = 32
    public var dModel: Int = 64
    public var layers: Int = 2
    public var heads: Int = 4
    public var ffnMult: Int = 4
    /// Places a NUM holds: ones, tens, hundreds, thousands.
    public var places: Int = 4
    /// How many numbers in one question the reasoner can point at.
    public var slots: Int = 4
    /// P parallel VQ heads and S sequential residual stages.
    public var vqHeads: Int = 2
    public var vqStages: Int = 2
    public var codes: Int = 16
    public var codeDim: Int = 16
    public var controllerHidden: Int = 64
    /// Initial logit bias of the identity op at step 1 (the Occam prior).
    public var identityPrior: Float = 2
    /// Commitment weight inside the VQ loss.
    public var vqBeta: Float = 0.25
    /// The highest grade taught: a Grade 1 model is offered the one-number ops only (Grade 2's
    /// add, subtract, next_term and place_value stay out of its op softmax).
    public var grade: Int = 1

    public init(vocabSize: Int, digitTokenIds: [Int32]) {
        self.vocabSize = vocabSize
        self.digitTokenIds = digitTokenIds
    }

    public func validate() throws {
        func fail(_ s: String) -> ModelError { .invalidConfig(s) }
        guard digitTokenIds.count == 10 else { throw fail("digitTokenIds must hold 10 ids, has \(digitTokenIds.count)") }
        guard dModel > 0, heads > 0, dModel % heads == 0 else {
            throw fail("--d_model \(dModel) must be a positive multiple of heads (\(heads))")
        }
        guard layers >= 1, maxLen >= 2, places >= 1, slots >= 1, vqHeads >= 1, vqStages >= 1,
              codes >= 2, codeDim >= 1, controllerHidden >= 1, ffnMult >= 1 else {
            throw fail("every model size must be positive (codes >= 2)")
        }
    }

    /// Width of the controller's output row: pointers A, B and C, step-1 op, step-2 relation,
    /// STOP, then the decoder's learned yes/no and digit terms.
    var outputWidth: Int { 3 * slots + StepOp.allCases.count + Relation.allCases.count + 1 + 2 + places * 10 }
    var codeVectorWidth: Int { (vqHeads + 1) * codeDim }
}

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case invalidBatch(String)

    public var description: String {
        switch self {
        case let .invalidConfig(s): return "invalid model config: \(s)"
        case let .invalidBatch(s): return "invalid batch: \(s)"
        }
    }
}

/// What a question asks for, as the loss sees it.
public enum ModelTarget: Equatable, Sendable {
    case yesNo(Bool)
    case number(Int)
}

/// A batch of tokenised questions: every array is [B, T] row-major except lengths: [B].
public struct ModelBatch: Sendable {
    public var size: Int
    public var seq: Int
    public var tokens: [Int32]
    /// 0 for a word, 1 ones, 2 tens, ... for a digit token.
    public var places: [Int32]
    /// 0 for a word, k for a digit of the k-th number in the question.
    public var slots: [Int32]
    public var lengths: [Int32]
    public var targets: [ModelTarget]?
    /// Worked solutions: int32 [B, 5] = (slot of A, slot of B, step-1 op, relation, slot of C),
    /// slots 0-based in the order the question names its numbers; -1 where a part has no target.
    public var programs: [Int32]? = nil
    /// Columns of `programs` per row.
    public static let programWidth = 5

    public init(size: Int, seq: Int, tokens: [Int32], places: [Int32], slots: [Int32], lengths: [Int32],
                targets: [ModelTarget]?) {
        self.size = size; self.seq = seq; self.tokens = tokens; self.places = places
        self.slots = slots; self.lengths = lengths; self.targets = targets
    }

    /// Rows lo..<hi as their own batch (micro-batching).
    public func slice(_ lo: Int, _ hi: Int) -> ModelBatch {
        let a = lo * seq, b = hi * seq
        var part = ModelBatch(size: hi - lo, seq: seq, tokens: Array(tokens[a..<b]), places: Array(places[a..<b]),
                              slots: Array(slots[a..<b]), lengths: Array(lengths[lo..<hi]),
                              targets: targets.map { Array($0[lo..<hi]) })
        part.programs = programs.map { Array($0[(Self.programWidth * lo)..<(Self.programWidth * hi)]) }
        return part
    }
}
