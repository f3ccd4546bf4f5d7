import Compute
import Foundation

/// Loss weights the trainer passes to each step.
public struct LossSettings: Sendable {
    public var labelSmoothing: Float = 0
    public var lambdaVQ: Float = 0.1
    public var lambdaStop: Float = 0.5
    /// Weight of an entropy bonus on the controller's op choices. The trainer anneals it to zero:
    /// early on it keeps every op in play, so a program that needs two ops together (add_2 then
    /// equal) is found before the softmax saturates on a one-op approximation (same_parity).
    public var lambdaEntropy: Float = 0
    /// Weight of the worked-solution loss (`ProgramSupervision`): cross-entropy of the pointer,
    /// op and relation logits against the lesson's program, per head, mean over the batch.
    public var lambdaProgram: Float = 0
    public init(labelSmoothing: Float = 0, lambdaVQ: Float = 0.1, lambdaStop: Float = 0.5, lambdaEntropy: Float = 0) {
        self.labelSmoothing = labelSmoothing; self.lambdaVQ = lambdaVQ; self.lambdaStop = lambdaStop
        self.lambdaEntropy = lambdaEntropy
    }
}

/// One answer with the program that produced it.
public struct Prediction: Sendable {
    public var isNumber: Bool
    public var yes: Bool
    public var pYes: Float
    public var number: Int
    public var trace: ReasoningTrace
    /// How sure the controller is of the program it ran: the product of the softmax
    /// probabilities of its argmax choices (pointer A, the step-1 op, and for a yes/no answer
    /// pointer B and the relation), each over the choices it could make for this question.
    public var programConfidence: Float = 1
    /// Squared distance of each VQ head's projection to its nearest code (heads, then stages):
    /// how far the question sits from every concept the codebooks learned.
    public var codeDistances: [Float] = []

    public init(isNumber: Bool, yes: Bool, pYes: Float, number: Int, trace: ReasoningTrace,
                programConfidence: Float = 1, codeDistances: [Float] = []) {
        self.isNumber = isNumber; self.yes = yes; self.pYes = pYes; self.number = number; self.trace = trace
        self.programConfidence = programConfidence; self.codeDistances = codeDistances
    }
}

/// The program the reasoner ran: relation(op(A), B), or op(A) for a number answer; a binary op
/// (add, subtract) also reads C: op(A, C).
public struct ReasoningTrace: Sendable {
    public var operandA: Int?
    public var operandB: Int?
    public var slotA: Int
    public var slotB: Int
    public var unary: StepOp
    public var relation: Relation
    public var pStop: Float
    public var codes: [Int]
    public var operandC: Int? = nil
    public var slotC: Int = 0
}

/// Loss parts and accuracy of one forward pass (means over the batch).
public struct StepStats: Sendable {
    public var loss: Double = 0
    public var answerLoss: Double = 0
    /// The worked-solution term (already weighted), part of `loss`.
    public var programLoss: Double = 0
    public var vqLoss: Double = 0
    public var stopLoss: Double = 0
    public var correct: Int = 0
    public var count: Int = 0
    /// Code indices chosen per VQ head (P heads then S stages), [B] each.
    public var codeIndices: [[Int32]] = []
    public init() {}
}

/// The concept model: encoder -> word reader -> multi-VQ bottleneck -> controller picking typed
/// ops and operands -> typed reasoner and decoder. Every layer runs through `Backend`, so a step
/// stays on the device: the batch goes up once and only loss, metrics and answers come back,
/// when asked for.
///
/// One component per file, each with its forward next to its backward:
/// - `Encoder.swift`: token, position, place and slot embeddings, the transformer layers, the
///   final LayerNorm and the summary (the [CLS] state), `xf: [B, T, D]`, `s: [B, D]`;
/// - `WordReader.swift`: the order-free bag of the question's words, `u: [B, D]`, which the VQ
///   heads, the relation, STOP and the decoder read;
/// - `VectorQuantizer.swift`: P parallel VQ heads and S residual stages over `u`, their codes
///   concatenated into the controller input `hin: [B, D + (P+1) Dc]`, code usage and restarts;
/// - `Controller.swift`: the op/relation controller over `hin`, and the pointer controller over
///   the summary that picks operands A and B and the step-1 op, `out: [B, outW]`;
/// - `Reasoner.swift`: the typed reasoner and decoder (one backend kernel) and reading back
///   answers, programs and their confidence;
/// - `ProgramSupervision.swift`: the worked-solution loss.
///
/// This file holds the parameters and the wiring.
public final class ConceptModel {
    public let config: ModelConfig
    public let backend: any Backend
    public let params: ParameterStore
    let ws: Workspace

    let tokEmb: Parameter, posEmb: Parameter, placeEmb: Parameter, slotEmb: Parameter
    let layers: [EncoderLayer]
    let lnF: LayerNormLayer
    let vqProj: [Linear]
    let resProj: Linear
    let headBooks: [Parameter]
    let stageBooks: [Parameter]
    let ctrl1: Linear, ctrl2: Linear
    let gain: Parameter
    /// The word reader: a word-embedding table [V, D] and its LayerNorm.
    let bowEmb: Parameter
    let bowLN: LayerNormLayer
    /// The pointer controller: summary -> hidden -> pointers A, B and the step-1 op.
    let ptr1: Linear, ptr2: Linear

    /// How the encoder's last forward split the batch (what backward walks again).
    var encoderChunks: [EncoderChunk] = []
    /// Chunks the encoder runs in under `--amp`: the fp32 working buffers hold a quarter of the
    /// batch's tokens (Docs/BENCHMARKS.md, amp memory).
    var ampEncoderChunks = 4

    /// Set false to cut the typed ops out of the decoder (the ablation).
    public var reasonerEnabled = true
    /// Training uses VQ-VAE's surrogate gradients: the gradient reaching a chosen code goes to the
    /// encoder output it replaced (straight-through), the codebook term moves only codes and the
    /// commitment term (weight beta) only the encoder. With `exactGradients` the backward is the
    /// true derivative of the forward (no stop-gradients), which is what finite differences see.
    public var exactGradients = false

    /// What forward leaves for backward: the batch shape and the VQ loss scale it used.
    var saved: (batch: Int, seq: Int, vqScale: Float)?
    /// Code usage per codebook (heads then stages) on the device: float counts [codes] each,
    /// `pending` for the step in flight, `committed` since the last dead-code restart.
    var pendingUsage: [any DeviceBuffer] = []
    var committedUsage: [any DeviceBuffer] = []

    public init(config: ModelConfig, backend: any Backend, seed: UInt64) throws {
        try config.validate()
        self.config = config
        self.backend = backend
        params = ParameterStore(backend: backend)
        ws = Workspace(backend: backend)
        var rng = ModelRNG(seed: seed)
        let D = config.dModel
        // Parameters are made in a fixed order: the RNG draws them in this order.
        tokEmb = try params.make("embed.tokens", [config.vocabSize, D], .normal(std: 0.02), decays: true, rng: &rng)
        posEmb = try params.make("embed.positions", [config.maxLen, D], .normal(std: 0.02), decays: true, rng: &rng)
        placeEmb = try params.make("embed.places", [config.places + 2, D], .normal(std: 0.02), decays: true, rng: &rng)
        slotEmb = try params.make("embed.slots", [config.slots + 2, D], .normal(std: 0.02), decays: true, rng: &rng)
        var ls: [EncoderLayer] = []
        for l in 0..<config.layers {
            ls.append(try EncoderLayer(params, "encoder.\(l)", dim: D, heads: config.heads,
                                       ffnMult: config.ffnMult, layers: config.layers, rng: &rng))
        }
        layers = ls
        lnF = try LayerNormLayer(params, "encoder.ln_f", D, rng: &rng)
        var vp: [Linear] = []
        for p in 0..<config.vqHeads {
            vp.append(try Linear(params, "vq.head\(p).proj", D, config.codeDim, std: 1 / Double(D).squareRoot(), rng: &rng))
        }
        vqProj = vp
        resProj = try Linear(params, "vq.residual.proj", D, config.codeDim, std: 1 / Double(D).squareRoot(), rng: &rng)
        var hb: [Parameter] = [], sb: [Parameter] = []
        for p in 0..<config.vqHeads {
            hb.append(try params.make("vq.head\(p).codebook", [config.codes, config.codeDim], .normal(std: 1), decays: false, rng: &rng))
        }
        for s in 0..<config.vqStages {
            // Later stages quantise what is left, which is smaller.
            sb.append(try params.make("vq.stage\(s).codebook", [config.codes, config.codeDim],
                                      .normal(std: 1 / Double(1 << s)), decays: false, rng: &rng))
        }
        headBooks = hb
        stageBooks = sb
        let hin = D + config.codeVectorWidth
        ctrl1 = try Linear(params, "controller.fc1", hin, config.controllerHidden, std: 1 / Double(hin).squareRoot(), rng: &rng)
        ctrl2 = try Linear(params, "controller.fc2", config.controllerHidden, config.outputWidth,
                           std: 1 / Double(config.controllerHidden).squareRoot(), rng: &rng)
        try Self.setOpPriors(ctrl2, config: config, backend: backend)
        gain = try params.make("decoder.gain", [1], .ones, decays: false, rng: &rng)
        bowEmb = try params.make("words.tokens", [config.vocabSize, D], .normal(std: 0.02), decays: true, rng: &rng)
        bowLN = try LayerNormLayer(params, "words.ln", D, rng: &rng)
        ptr1 = try Linear(params, "pointers.fc1", D, config.controllerHidden, std: 1 / Double(D).squareRoot(), rng: &rng)
        ptr2 = try Linear(params, "pointers.fc2", config.controllerHidden, config.pointerColumns,
                          std: 1 / Double(config.controllerHidden).squareRoot(), rng: &rng)
        // The step-1 op is chosen here, so the Occam prior goes here too.
        try Self.setOpPriors(ptr2, config: config, backend: backend)
        let books = config.vqHeads + config.vqStages
        pendingUsage = try (0..<books).map { _ in try backend.zeros(config.codes) }
        committedUsage = try (0..<books).map { _ in try backend.zeros(config.codes) }
    }

    /// Bytes of activation buffers currently held (kept activations, scratch and the rest).
    public var activationBytes: Int { ws.bytes }
    /// Bytes of the encoder activations kept from forward to backward: what `halfActivations` halves.
    public var keptActivationBytes: Int { ws.keptBytes }

    /// Mixed precision storage (`--amp`): encoder activations kept for backward are stored as
    /// fp16 (vstore_half / Float16) and read back to fp32; every op still computes in fp32, one
    /// encoder chunk at a time, and GELU's output is recomputed in backward rather than kept.
    public var halfActivations: Bool {
        get { ws.halfStorage }
        set {
            guard newValue != ws.halfStorage else { return }
            ws.clear()
            ws.halfStorage = newValue
        }
    }

    /// `--amp`: fp16 kept activations, fp16 weights read by every op and fp16 gradients, with
    /// fp32 master weights in `params.value` for the optimizer; all arithmetic stays fp32.
    public func setMixedPrecision(_ on: Bool) throws {
        halfActivations = on
        try params.setHalfPrecision(on)
    }

    /// Drops every activation buffer and any saved forward state, e.g. after an out-of-memory
    /// error, so the next forward allocates only what its (smaller) batch needs.
    public func releaseActivations() {
        saved = nil
        ws.clear()
    }

    // MARK: forward and backward

    /// Runs the model on a batch. With targets, computes the loss gradient at the controller
    /// output and keeps what backward needs. `hard` picks the argmax op at every step (eval);
    /// training uses the soft mixture. Everything stays on the device unless `readback`: then
    /// the loss parts, accuracy and predictions come back (log steps, eval, ask).
    public func forward(_ batch: ModelBatch, loss: LossSettings = LossSettings(), hard: Bool = false,
                        lossScale: Float = 1, readback: Bool = true) throws -> (stats: StepStats, predictions: [Prediction]) {
        let cfg = config
        let B = batch.size, T = batch.seq, N = B * T
        guard B > 0 else { throw ModelError.invalidBatch("empty batch") }
        guard T <= cfg.maxLen else { throw ModelError.invalidBatch("sequence length \(T) exceeds max_len \(cfg.maxLen)") }
        guard batch.tokens.count == N, batch.places.count == N, batch.slots.count == N, batch.lengths.count == B else {
            throw ModelError.invalidBatch("arrays do not match [B=\(B), T=\(T)]")
        }
        if let t = batch.targets, t.count != B { throw ModelError.invalidBatch("\(t.count) targets for \(B) questions") }
        for i in 0..<N where batch.tokens[i] < 0 || Int(batch.tokens[i]) >= cfg.vocabSize {
            throw ModelError.invalidBatch("token id \(batch.tokens[i]) outside vocabulary of \(cfg.vocabSize)")
        }
        saved = nil
        let training = batch.targets != nil

        let numbers = try encoderForward(batch)                         // xf: [B, T, D], s: [B, D]
        let u = try wordsForward(batch)                                 // u: [B, D]
        try quantizerForward(reader: u, rows: B, training: training)    // hin: [B, D + (P+1) Dc]
        let out = try controllerForward(rows: B)                        // out: [B, outW]
        let dOut = try reasonerForward(out: out, rows: B, loss: loss, hard: hard, lossScale: lossScale)
        var programLosses: [any DeviceBuffer] = []
        if training, loss.lambdaProgram > 0, let programs = batch.programs {
            programLosses = try programLossForward(programs: programs, out: out, dOut: dOut, rows: B,
                                                   scale: loss.lambdaProgram * lossScale / Float(B))
        }
        if training { saved = (B, T, loss.lambdaVQ * lossScale * 2 / Float(cfg.codeDim * B)) }

        var stats = StepStats()
        stats.count = B
        guard readback else { return (stats, []) }
        for buffer in programLosses {
            let l = try backend.download(buffer, offset: 0, count: B)
            stats.programLoss += Double(loss.lambdaProgram) * l.reduce(0.0) { $0 + Double($1) } / Double(B)
        }
        return try readResults(batch: batch, numbers: numbers, loss: loss, stats: stats)
    }

    /// Accumulates gradients of the last forward's loss (times its lossScale) into every parameter.
    public func backward() throws {
        guard let sv = saved else { throw ModelError.invalidBatch("backward called without a forward that had targets") }
        saved = nil
        let B = sv.batch, T = sv.seq, D = config.dModel
        try reasonerBackward(rows: B)                                   // the decoder gain
        let dHin = try controllerBackward(rows: B)                      // dHin: [B, hinW]; ds: [B, D]
        let dReader = try ws.get("words.u.grad", B * D)
        try quantizerBackward(reader: try ws.get("words.u", B * D), dHin: dHin, dReader: dReader, rows: B,
                              vqScale: sv.vqScale)                      // du: [B, D]
        try wordsBackward(rows: B, seq: T, du: dReader)
        try encoderBackward(rows: B, seq: T, ds: try ws.get("summary.grad", B * D))
    }
}
