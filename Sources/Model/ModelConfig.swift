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
    /// When false the encoder sees every digit as one shared "digit" token with its number slot,
    /// not its value or place: which concept is asked and which number is which operand never
    /// depend on the numbers themselves, so held-out and out-of-range numbers read like trained
    /// ones. The digit values go only to the typed reasoner, which computes on them exactly.
    public var encoderSeesDigitValues = false
    /// Pointer logits for operands A and B come from attention over the numbers' encodings (a
    /// query from the controller against the encoder output at each number's first digit)
    /// instead of from fixed per-slot outputs of the controller: a number is picked by what the
    /// sentence says around it ("the successor of 45"), not by whether it is named first.
    public var contentPointers = false
    /// With content pointers, each number's key is built from the words right around it (the
    /// word before it and the word after it, two tables of their own), not from its encoding: a
    /// key carries no position and no number index, so "A = the second number" cannot be said,
    /// only "A = the number after 'of'" (`--pointers local`).
    public var localPointerKeys = false
    /// How tokens get their position ids (see `PositionScheme`).
    public var positions: PositionScheme = .words
    /// When false the encoder is not told which number (first, second, ...) a digit belongs to:
    /// a number's encoding then says what surrounds it, not where it is in the order, so
    /// content pointers pick an operand by its role ("the successor of 45") and cannot learn
    /// "the first number" as a shortcut. Word positions still keep the numbers apart.
    public var encoderSeesSlots = true
    /// Operand B's pointer logits are its own minus operand A's, so B leans away from whatever A
    /// points at. Two independent pointers have a saddle: when both sit on the wrong numbers
    /// (A on b, B on a), moving either alone gives a false program (equal(add_2(a), a)), so
    /// only the joint move that gradient descent cannot make is rewarded; coupled, moving A
    /// moves B the other way. For two numbers B is then "the other one".
    public var coupledPointers = false
    /// One program per yes/no question: `smaller` is not offered (greater with the operands
    /// swapped says the same) and predecessor / subtract_2 do not feed a relation (successor /
    /// add_2 of the other number say the same); they still answer "what comes before".
    /// Without this, an op can absorb which number is which (equal(predecessor(A), B) for one
    /// frame, equal(successor(A), B) with the pointers swapped for another), so the pointers
    /// can learn "the first number" instead of reading the sentence.
    public var canonicalPrograms = false
    /// The four arithmetic step-1 ops also get factored logits from the op reader (the word bag,
    /// or the summary for the summary reader): logit(successor) += plus + one, predecessor +=
    /// minus + one, add_2 += plus + two, subtract_2 += minus + two, where (plus, minus, one, two)
    /// = Linear(reader). Direction and size are then read apart, so "plus" learned from "plus
    /// one" carries over to "plus two" in a frame only successor used (`--factored_ops`).
    /// `.only`: those four logits are the factors alone (the summary's own for them are dropped).
    public var factoredOps: OpFactoring = .off
    /// The step-1 op is read from the words around the number pointer A picks (up to three
    /// words before it and two after it, an additive vote per word for identity, plus, minus,
    /// one, two and between), not from the whole question: "{a} plus two" and "two more than
    /// {a}" tie the op to the number next to its words, wherever the frame puts that number
    /// (`--local_ops`): `.replaced` drops the controller's own op logits, `.added` sums both.
    public var localOps: LocalOps = .off
    /// Programs compare the question's first and last numbers, each with its own op read from the
    /// words around it: relation(op1(first), op2(last)), or op1(first) for a number answer.
    /// Nothing picks operands, so no program can swap them for an inverse op on the other number
    /// (`--programs positional`). Needs `slots` = 2 x the op count (virtual slots, see
    /// `ConceptModel.positionalNumbers`).
    public var positionalPrograms = false
    /// What the op controller and the VQ heads read (see `OpReader`).
    public var opReader: OpReader = .summary
    /// How the word reader pools its words (see `WordPooling`).
    public var wordPooling: WordPooling = .mean
    /// Initial logit bias of the identity op at step 1 (the Occam prior).
    public var identityPrior: Float = 2
    /// Initial logit bias of subtract_2 at step 1. No Grade 1 concept needs it (add_2 on the other
    /// operand says the same), and a free inverse lets the search learn "plus two" as
    /// subtract_2 of the other number, whose operand no longer sits next to the words that name
    /// the op; a negative prior keeps the forward op (`--subtract2_prior`).
    public var subtract2Prior: Float = 0
    /// When false the step-1 op subtract_2 is not offered at all (its logit is held at -30 and
    /// gets no gradient): no Grade 1 question needs it (add_2 of the other number says the same),
    /// so every "two" frame must be read as add_2 and the pointers, not the op, say which number
    /// is the smaller one (`--subtract2 false`).
    public var offersSubtract2 = true
    /// Commitment weight inside the VQ loss.
    public var vqBeta: Float = 0.25

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
        if positionalPrograms && opReader != .words {
            throw fail("--programs positional reads the relation from the words; it needs --op_reader words, not \(opReader.rawValue)")
        }
        if positionalPrograms && (slots != 2 * UnaryOp.allCases.count || localOps != .off || contentPointers) {
            throw fail("--programs positional needs \(2 * UnaryOp.allCases.count) virtual slots and no --local_ops or content pointers")
        }
        if localOps == .replaced && factoredOps != .off {
            throw fail("--local_ops replaced drops the controller's op logits, so it cannot take --factored_ops \(factoredOps.rawValue) (use --local_ops added)")
        }
        if opReader == .hybrid && contentPointers {
            throw fail("--op_reader hybrid picks the op and the pointers with one summary controller; it cannot take --pointers content or local")
        }
    }

    /// Width of the controller's output row: pointers A and B, step-1 op, step-2 relation, STOP,
    /// then the decoder's learned yes/no and digit terms.
    var outputWidth: Int { 2 * slots + UnaryOp.allCases.count + Relation.allCases.count + 1 + 2 + places * 10 }
    /// The word-bag reader takes its pointers from the summary through a controller of its own,
    /// unless content pointers (queried by the op controller) pick them.
    var summaryPointers: Bool { readsWords && !contentPointers && !positionalPrograms }
    /// Whether the word-bag reader exists (`words` or `hybrid`).
    var readsWords: Bool { opReader != .summary }
    /// Leading output columns the summary's own controller writes: the pointers, and for
    /// `hybrid` the step-1 op logits after them.
    var summaryColumns: Int { 2 * slots + (opReader == .hybrid ? UnaryOp.allCases.count : 0) }
    var codeVectorWidth: Int { (vqHeads + 1) * codeDim }
}

/// Position ids of the encoder's input tokens.
public enum PositionScheme: String, Codable, CaseIterable, Sendable {
    /// The index of the word in the sentence (a number counts as one word).
    case words
    /// How many numbers the sentence has named up to this token: the words before the first
    /// number share one id, the words after it the next, and so on. Word order within a stretch
    /// between numbers is not encoded, so "both odd or both even" reads like "both even or both
    /// odd", while which number a phrase follows ("{a} plus two" vs "{b} plus two") still is.
    case segments
}

/// What the controller's op, relation, STOP and decoder outputs (and the VQ heads) read.
public enum OpReader: String, Codable, CaseIterable, Sendable {
    /// The encoder's summary: one state that mixes which words are used with where they stand.
    case summary
    /// An order-free bag of the question's words (the mean of a word-embedding table over its
    /// word tokens, LayerNorm'd): which program a question asks for is then a function of the
    /// words it uses, not of their arrangement, so a new arrangement of known words ("Is 7 equal
    /// to 5 plus two?" where training said "Is 5 plus two equal to 7?") asks for the same
    /// program. Word order still decides which number is which operand: the pointers alone read
    /// the encoder's summary, through a controller of their own (or, with content pointers, an
    /// attention from the op controller over the numbers' encodings).
    case words
    /// The relation, STOP and decoder outputs (and the VQ heads) read the bag of words; the
    /// pointers and the step-1 op read the summary through their own controller. Order-free
    /// relations (same parity, same tens, …) are then chosen by the words, while the op and
    /// the operands, whose meaning depends on word order, are chosen together by the summary.
    case hybrid
}

/// Whether and how the arithmetic step-1 ops get factored logits (`ModelConfig.factoredOps`).
public enum OpFactoring: String, Codable, CaseIterable, Sendable {
    case off
    /// Factors added to the controller's own logits.
    case added
    /// Factors instead of the controller's own logits for the four arithmetic ops.
    case only
    /// Factors added, and the controller's own four logits keep no interaction term (projected
    /// onto level + direction + size: x - v (v . x), v = (1, -1, -1, 1) / 2 over successor,
    /// predecessor, add_2, subtract_2), so whatever the controller reads as "minus" for
    /// "minus two" it also reads as "minus" for "minus one".
    case projected
}

/// Whether the step-1 op is read from the words around pointer A's number (`ModelConfig.localOps`).
public enum LocalOps: String, Codable, CaseIterable, Sendable {
    case off
    /// The local reading replaces the controller's op logits.
    case replaced
    /// The local reading is added to the controller's op logits.
    case added
}

/// How `OpReader.words` pools the embeddings of a question's words.
public enum WordPooling: String, Codable, CaseIterable, Sendable {
    /// Every word counts the same.
    case mean
    /// Softmax weights from a learned query: the reader can learn that "parity" or "ten" decides
    /// a question while "is", "the" and "of" are frame, so more frame words do not dilute it.
    case attention
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
    /// Row of the same question in another phrasing, or -1: [B]. Paired rows are asked for the
    /// same program (`LossSettings.lambdaParaphrase`).
    public var paraphraseOf: [Int32]? = nil
    /// Worked solutions: int32 [B, 4] = (slot of A, slot of B, step-1 op, relation), slots
    /// 0-based in the order the question names its numbers; -1 where a part has no target.
    public var programs: [Int32]? = nil

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
        part.programs = programs.map { Array($0[(4 * lo)..<(4 * hi)]) }
        // A pair split across micro-batches is dropped (even micro-batches keep adjacent pairs).
        part.paraphraseOf = paraphraseOf.map { all in
            all[lo..<hi].map { $0 >= Int32(lo) && $0 < Int32(hi) ? $0 - Int32(lo) : -1 }
        }
        return part
    }
}
