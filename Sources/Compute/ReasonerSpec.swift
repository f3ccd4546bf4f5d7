/// Sizes and loss settings of the typed reasoner op (`Backend.reasoner`).
///
/// Program per question: step 1 applies an op to operand A (pointer A over the number slots) and,
/// for the four binary ops, operand C (pointer C); STOP after step 1 answers that NUM; otherwise
/// step 2 relates it to operand B (pointer B) with a relation and answers the BOOL. Soft mode
/// takes the softmax mixture over pointers and ops; hard mode (eval) the argmax of each. Numbers
/// are digit arrays (ones first, `places` long); an op whose result leaves [0, 10^places) gives no
/// value (relations on it are false, it adds nothing to the NUM).
///
/// Step-1 ops, in order: identity, successor (+1), predecessor (-1), add_2 (+2), subtract_2 (-2),
/// between (A + 1 when another number of the question is A + 2, else A - 1 when another is A - 2,
/// else no value: the number between two numbers two apart, whichever of them A is), ones_digit,
/// tens_digit, hundreds_digit (that place's digit of A as a number, 0 past A's top place), add
/// (A + C, carrying place by place), subtract (A - C, borrowing place by place; no value when
/// C > A), next_term (A + (A - C) = 2A - C: the term after C, A of a sequence with a constant
/// step), place_value (the value of digit C, 1-9, at the highest place of A holding it; no value
/// when C is not such a digit of A), total (the sum of the numbers from slot A through slot C in
/// the order the question names them, A before C: "300 plus 40 plus 7"; no value otherwise).
/// Relations, in order: equal, greater, smaller, same_parity (ones digits' parity), same_tens
/// (digit of place 1), same_ones (digit of place 0), makes_ten (ones digits sum to 10), even, odd
/// (of the step-1 result alone: pointer B is read but changes nothing).
///
/// One number per role: no program reads a number twice. A binary op's C is never A, and a
/// relation that reads B (all but even and odd) never takes B from a number step 1 reads (A, C,
/// and for total every number between them); those combinations add nothing in soft mode. In hard
/// mode the argmax program is chosen under the same rule: an op the question has enough numbers
/// for (two for a binary op, one more where a relation reads B), then A, then C among the other
/// numbers, then B among the numbers step 1 does not read.
///
/// Logit row layout (width = 3*slots + 14 + 9 + 1 + 2 + places*10):
///   [0, slots) pointer A; [slots, 2 slots) pointer B; [2 slots, 3 slots) pointer C; then 14 op
///   logits; 9 relation logits; 1 STOP logit; 2 decoder yes/no terms (no, yes); places*10
///   decoder digit terms.
///
/// Decoder: yes/no logits = [t0, t1 + gain * logit(clamp(p, 1e-4))], digit logits per place =
/// t + gain * log(dist + 1e-4) where p is the BOOL and dist the NUM's per-place digit mixture.
/// With `enabled` false the typed path is cut: p = 0.5, dist = 0.
///
/// Loss per row (only where a target is given): cross-entropy with label smoothing on yes/no or
/// on every digit place (mean over places), plus lambdaStop * BCE(pStop, is-number), minus
/// lambdaEntropy * (H(op weights) + H(relation weights)). dLogits is the gradient of
/// lossScale * that loss (soft mode; hard mode writes zeros for the op/pointer logits).
///
/// Masks (`relationMask`, `boolOpMask`, `offeredOps`) restrict which relations are offered, which
/// ops' results may feed a relation (every op still answers a NUM), and which ops exist at all.
///
/// rowStats columns: 0 answer loss, 1 stop loss (unweighted BCE), 2 entropy H(ops)+H(relation),
/// 3 correct (1/0), 4 is-number (1/0), 5 p(yes), 6 the number decoded, 7 d(loss)/d(gain) times
/// lossScale, 8 pStop, 9 pointer entropy H(piA)+H(piB) (soft mode with a target; else 0). The
/// loss per row is answer + lambdaStop * stop - lambdaEntropy * [2]. trace columns: slot A, slot B,
/// op, relation, slot C (argmax of each).
public struct ReasonerSpec: Equatable, Sendable {
    public static let opCount = 14
    public static let relationCount = 9
    public static let statsWidth = 10
    public static let traceWidth = 5

    public var slots: Int
    public var places: Int
    public var hard: Bool
    public var enabled: Bool
    public var labelSmoothing: Float
    public var lambdaStop: Float
    public var lambdaEntropy: Float
    /// Multiplies every gradient (1 / batch rows, times the micro-batch weight).
    public var lossScale: Float
    /// Bit r set: relation r is offered (the relation softmax leaves the others out).
    public var relationMask: Int32 = Self.allRelations
    /// Bit k set: op k's result may feed a relation (the BOOL path); every op still gives a NUM
    /// answer. Weight on a masked op adds nothing to the BOOL.
    public var boolOpMask: Int32 = Self.allOps
    /// Bit k set: op k is offered at all (the op softmax leaves the others out, as it leaves out
    /// `between` where it has no value). A Grade 1 model is offered the one-number ops only.
    public var offeredOps: Int32 = Self.allOps
    /// Grade 1's ops: the one-number ops 0-5 (the digit ops are Grade 2's).
    public static let oneNumberOps: Int32 = (1 << 6) - 1
    /// Grade 1's relations 0-6 (even and odd are Grade 2's).
    public static let pairRelations: Int32 = (1 << 7) - 1

    public static let allRelations: Int32 = (1 << 9) - 1
    public static let allOps: Int32 = (1 << 14) - 1

    public init(slots: Int, places: Int, hard: Bool, enabled: Bool = true, labelSmoothing: Float = 0,
                lambdaStop: Float = 0.5, lambdaEntropy: Float = 0, lossScale: Float = 1) {
        self.slots = slots; self.places = places; self.hard = hard; self.enabled = enabled
        self.labelSmoothing = labelSmoothing; self.lambdaStop = lambdaStop; self.lambdaEntropy = lambdaEntropy
        self.lossScale = lossScale
    }

    public var width: Int { 3 * slots + Self.opCount + Self.relationCount + 1 + 2 + places * 10 }
}
