/// Sizes and loss settings of the typed reasoner op (`Backend.reasoner`).
///
/// Program per question: step 1 applies a unary NUM op to operand A (pointer over the number
/// slots); STOP after step 1 answers that NUM; otherwise step 2 relates it to operand B with a
/// relation and answers the BOOL. Soft mode takes the softmax mixture over pointers and ops;
/// hard mode (eval) the argmax of each. Numbers are digit arrays (ones first, `places` long);
/// an op whose result leaves [0, 10^places) gives no value (relations on it are false).
///
/// Unary ops, in order: identity, successor (+1), predecessor (-1), add_2 (+2), subtract_2 (-2),
/// between (A + 1 when another number of the question is A + 2, else A - 1 when another is A - 2,
/// else no value: the number between two numbers two apart, whichever of them A is).
/// Relations, in order: equal, greater, smaller, same_parity (ones digits' parity), same_tens
/// (digit of place 1), same_ones (digit of place 0), makes_ten (ones digits sum to 10).
///
/// Logit row layout (width = 2*slots + 6 + 7 + 1 + 2 + places*10):
///   [0, slots) pointer A; [slots, 2 slots) pointer B; then 6 unary-op logits; 7 relation
///   logits; 1 STOP logit; 2 decoder yes/no terms (no, yes); places*10 decoder digit terms.
///
/// Decoder: yes/no logits = [t0, t1 + gain * logit(clamp(p, 1e-4))], digit logits per place =
/// t + gain * log(dist + 1e-4) where p is the BOOL and dist the NUM's per-place digit mixture.
/// With `enabled` false the typed path is cut: p = 0.5, dist = 0.
///
/// Loss per row (only where a target is given): cross-entropy with label smoothing on yes/no or
/// on every digit place (mean over places), plus lambdaStop * BCE(pStop, is-number), minus
/// lambdaEntropy * (H(unary weights) + H(relation weights)). dLogits is the gradient of
/// lossScale * that loss (soft mode; hard mode writes zeros for the op/pointer logits).
///
/// Masks (`relationMask`, `boolOpMask`) make programs canonical: without `smaller`, and without
/// predecessor and subtract_2 before a relation, every yes/no question has one program up to
/// symmetric relations (no `smaller(a, b)` beside `greater(b, a)`, no `equal(predecessor(a), b)`
/// beside `equal(successor(b), a)`), so which number is operand A is fixed by the question.
///
/// rowStats columns: 0 answer loss, 1 stop loss (unweighted BCE), 2 entropy H(unary)+H(relation),
/// 3 correct (1/0), 4 is-number (1/0), 5 p(yes), 6 the number decoded, 7 d(loss)/d(gain) times
/// lossScale, 8 pStop, 9 pointer entropy H(piA)+H(piB) (soft mode with a target; else 0). The
/// loss per row is answer + lambdaStop * stop - lambdaEntropy * [2] + lambdaPointer * [9]. trace columns: slot A, slot B, unary op, relation (argmax of each).
public struct ReasonerSpec: Equatable, Sendable {
    public static let unaryCount = 6
    public static let relationCount = 7
    public static let statsWidth = 10

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
    /// Bit k set: unary op k's result may feed a relation (the BOOL path); every op still gives
    /// a NUM answer. Weight on a masked op adds nothing to the BOOL.
    public var boolOpMask: Int32 = Self.allUnaryOps
    /// Weight of a penalty on the pointers' entropy, + lambdaPointer * (H(piA) + H(piB)). In soft
    /// mode the decoder can say "yes" whenever any pointer combination makes the relation hold
    /// (p = 0.25 with both pointers split between two numbers is far above a "no"'s p = 0), so
    /// nothing makes the pointers commit and eval's argmax takes a coin flip; this does.
    public var lambdaPointer: Float = 0

    public static let allRelations: Int32 = (1 << 7) - 1
    public static let allUnaryOps: Int32 = (1 << 6) - 1

    public init(slots: Int, places: Int, hard: Bool, enabled: Bool = true, labelSmoothing: Float = 0,
                lambdaStop: Float = 0.5, lambdaEntropy: Float = 0, lossScale: Float = 1) {
        self.slots = slots; self.places = places; self.hard = hard; self.enabled = enabled
        self.labelSmoothing = labelSmoothing; self.lambdaStop = lambdaStop; self.lambdaEntropy = lambdaEntropy
        self.lossScale = lossScale
    }

    public var width: Int { 2 * slots + Self.unaryCount + Self.relationCount + 1 + 2 + places * 10 }
}
