import Compute
import Foundation

/// Loss weights and switches the trainer passes to each step.
public struct LossSettings: Sendable {
    public var labelSmoothing: Float = 0
    public var lambdaVQ: Float = 0.1
    public var lambdaStop: Float = 0.5
    /// Weight of an entropy bonus on the controller's op choices. The trainer anneals it to zero:
    /// early on it keeps every op in play, so a program that needs two ops together (add_2 then
    /// equal) is found before the softmax saturates on a one-op approximation (same_parity).
    public var lambdaEntropy: Float = 0
    /// Weight of the pointer-entropy penalty (`ReasonerSpec.lambdaPointer`): makes the soft
    /// search commit to one operand per pointer, as eval's argmax does.
    public var lambdaPointer: Float = 0
    /// Weight of the paraphrase-consistency term: for each pair of rows holding one question in
    /// two phrasings, the squared difference of their op, relation and STOP logits and of their
    /// pointer logits over the same numbers (mean over the batch's rows).
    public var lambdaParaphrase: Float = 0
    /// Weight of the worked-solution loss (`ProgramSupervision`): cross-entropy of the pointer,
    /// op and relation logits against the lesson's program, per head, mean over the batch.
    public var lambdaProgram: Float = 0
    public init(labelSmoothing: Float = 0, lambdaVQ: Float = 0.1, lambdaStop: Float = 0.5, lambdaEntropy: Float = 0,
                lambdaPointer: Float = 0) {
        self.labelSmoothing = labelSmoothing; self.lambdaVQ = lambdaVQ; self.lambdaStop = lambdaStop
        self.lambdaEntropy = lambdaEntropy; self.lambdaPointer = lambdaPointer
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

public struct ReasoningTrace: Sendable {
    public var operandA: Int?
    public var operandB: Int?
    public var slotA: Int
    public var slotB: Int
    public var unary: UnaryOp
    /// The op on operand B (`positionalPrograms`; identity otherwise).
    public var unaryB: UnaryOp = .identity
    public var relation: Relation
    public var pStop: Float
    public var codes: [Int]
}

/// Loss parts and accuracy of one forward pass (means over the batch).
public struct StepStats: Sendable {
    public var loss: Double = 0
    public var answerLoss: Double = 0
    /// The paraphrase-consistency term (already weighted), part of `loss`.
    public var paraphraseLoss: Double = 0
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

/// The concept model: encoder -> multi-VQ bottleneck -> controller picking typed ops -> decoder.
/// Every layer runs through `Backend`, so a step stays on the device: the batch goes up once and
/// only loss, metrics and answers come back, when asked for.
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
    /// Query projections of the content pointers (`contentPointers`): controller hidden -> [D].
    let pointerQueries: [Linear]
    /// `localPointerKeys`: embeddings of the word before and the word after a number, [V, D] each.
    let contextBefore: Parameter?, contextAfter: Parameter?
    /// `OpReader.words`: the word-bag table and its LayerNorm, and the pointers' own controller
    /// (summary -> hidden -> the 2 * slots pointer logits).
    let bowEmb: Parameter?
    let bowLN: LayerNormLayer?
    /// `WordPooling.attention`: the query scoring each word, [D].
    let bowQuery: Parameter?
    let ptr1: Linear?, ptr2: Linear?
    /// `factoredOps`: reader -> (plus, minus, one, two), [D] -> [4].
    let opFactors: Linear?
    /// `localOps`: per-word op features of the words before a number (rows 0..<V) and after it
    /// (rows V..<2V), [2V, localOpFeatures], and their bias, [localOpFeatures].
    let localOpWords: Parameter?, localOpBias: Parameter?
    let gain: Parameter

    /// Set false to cut the typed ops out of the decoder (the ablation).
    public var reasonerEnabled = true
    /// Training uses VQ-VAE's surrogate gradients: the gradient reaching a chosen code goes to the
    /// encoder output it replaced (straight-through), the codebook term moves only codes and the
    /// commitment term (weight beta) only the encoder. With `exactGradients` the backward is the
    /// true derivative of the forward (no stop-gradients), which is what finite differences see.
    public var exactGradients = false

    /// What forward leaves for backward: the batch shape and the loss scale it used.
    private var saved: (batch: Int, seq: Int, vqScale: Float, paraphrase: (count: Int, scale: Float)?)?
    /// Code usage per codebook (heads then stages) on the device: float counts [codes] each,
    /// `pending` for the step in flight, `committed` since the last dead-code restart.
    private var pendingUsage: [any DeviceBuffer] = []
    private var committedUsage: [any DeviceBuffer] = []

    public init(config: ModelConfig, backend: any Backend, seed: UInt64) throws {
        try config.validate()
        self.config = config
        self.backend = backend
        params = ParameterStore(backend: backend)
        ws = Workspace(backend: backend)
        var rng = ModelRNG(seed: seed)
        let D = config.dModel
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
        // Occam prior: step 1 starts out preferring the identity op, so a relation that needs no
        // arithmetic (greater, smaller) is not learned as greater(predecessor(a), b), which only
        // errs on the rare |a - b| = 1 questions and is hard to leave once the softmax saturates.
        try Self.setOpPriors(ctrl2, config: config, backend: backend)
        var queries: [Linear] = []
        if config.contentPointers {
            for operand in ["a", "b"] {
                queries.append(try Linear(params, "controller.pointer_\(operand).query", config.controllerHidden, D,
                                          std: 1 / Double(config.controllerHidden).squareRoot(), rng: &rng))
            }
        }
        pointerQueries = queries
        if config.contentPointers && config.localPointerKeys {
            contextBefore = try params.make("pointers.context_before", [config.vocabSize, D], .normal(std: 1),
                                            decays: true, rng: &rng)
            contextAfter = try params.make("pointers.context_after", [config.vocabSize, D], .normal(std: 1),
                                           decays: true, rng: &rng)
        } else {
            contextBefore = nil; contextAfter = nil
        }
        gain = try params.make("decoder.gain", [1], .ones, decays: false, rng: &rng)
        // Made last, so a summary-reader model draws the same initial weights as before.
        if config.readsWords {
            bowEmb = try params.make("words.tokens", [config.vocabSize, D], .normal(std: 0.02), decays: true, rng: &rng)
            bowLN = try LayerNormLayer(params, "words.ln", D, rng: &rng)
        } else {
            bowEmb = nil; bowLN = nil
        }
        // Zero query: attention pooling starts as the plain mean.
        bowQuery = config.readsWords && config.wordPooling == .attention
            ? try params.make("words.query", [D], .zeros, decays: false, rng: &rng) : nil
        if config.summaryPointers {
            ptr1 = try Linear(params, "pointers.fc1", D, config.controllerHidden, std: 1 / Double(D).squareRoot(), rng: &rng)
            ptr2 = try Linear(params, "pointers.fc2", config.controllerHidden, config.summaryColumns,
                              std: 1 / Double(config.controllerHidden).squareRoot(), rng: &rng)
            // The priors go where the step-1 op is chosen.
            if config.opReader == .hybrid { try Self.setOpPriors(ptr2!, config: config, backend: backend) }
        } else {
            ptr1 = nil; ptr2 = nil
        }
        opFactors = config.factoredOps != .off
            ? try Linear(params, "ops.factors", D, Self.opFactorCount, std: 1 / Double(D).squareRoot(), rng: &rng) : nil
        if config.localOps != .off || config.positionalPrograms {
            let F = Self.localOpFeatures
            localOpWords = try params.make("ops.local.words", [2 * config.vocabSize, F], .normal(std: 0.02), decays: true, rng: &rng)
            let bias = try params.make("ops.local.bias", [F], .zeros, decays: false, rng: &rng)
            // The Occam prior again: a number with no op words around it keeps its value.
            var b0 = [Float](repeating: 0, count: F)
            b0[0] = config.identityPrior
            try backend.upload(b0, to: bias.value)
            localOpBias = bias
        } else {
            localOpWords = nil; localOpBias = nil
        }
        let books = config.vqHeads + config.vqStages
        pendingUsage = try (0..<books).map { _ in try backend.zeros(config.codes) }
        committedUsage = try (0..<books).map { _ in try backend.zeros(config.codes) }
    }

    /// Bytes of activation buffers currently held (kept activations, scratch and the rest).
    public var activationBytes: Int { ws.bytes }
    /// Bytes of the encoder activations kept from forward to backward: what `halfActivations` halves.
    public var keptActivationBytes: Int { ws.keptBytes }

    /// Mixed precision storage (`--amp`): encoder activations kept for backward are stored as
    /// fp16 (vstore_half / Float16) and read back to fp32; every op still computes in fp32.
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

    // MARK: forward

    /// Number slots of every question as digits (ones first), -1 where a slot holds no number:
    /// numbers: int32 [B, slots, places], read from the digit tokens and their places.
    func readNumbers(_ batch: ModelBatch) -> [Int32] {
        let cfg = config, T = batch.seq, S = cfg.slots, P = cfg.places
        var digitOf: [Int32: Int32] = [:]
        for (d, id) in cfg.digitTokenIds.enumerated() { digitOf[id] = Int32(d) }
        var out = [Int32](repeating: -1, count: batch.size * S * P)
        for b in 0..<batch.size {
            var seen = [Bool](repeating: false, count: S), tooWide = [Bool](repeating: false, count: S)
            var digits = [Int32](repeating: 0, count: S * P)
            for t in 0..<min(T, Int(batch.lengths[b])) {
                let i = b * T + t
                let slot = Int(batch.slots[i]), place = Int(batch.places[i])
                guard slot >= 1, slot <= S, place >= 1, let d = digitOf[batch.tokens[i]] else { continue }
                seen[slot - 1] = true
                if place <= P { digits[(slot - 1) * P + place - 1] = d } else { tooWide[slot - 1] = true }
            }
            // A number wider than `places` digits cannot be held; its slot reads as absent.
            for k in 0..<S where seen[k] && !tooWide[k] {
                for p in 0..<P { out[(b * S + k) * P + p] = digits[k * P + p] }
            }
        }
        return out
    }

    static func encodeTargets(_ targets: [ModelTarget]?, count: Int) -> [Int32] {
        var out = [Int32](repeating: 0, count: count * 2)
        guard let targets else { return out }
        for (b, t) in targets.enumerated() {
            switch t {
            case let .yesNo(y): out[2 * b] = 1; out[2 * b + 1] = y ? 1 : 0
            case let .number(n): out[2 * b] = 2; out[2 * b + 1] = Int32(clamping: n)
            }
        }
        return out
    }

    /// Runs the model on a batch. With targets, computes the loss gradient at the controller
    /// output and keeps what backward needs. `hard` picks the argmax op at every step (eval);
    /// training uses the soft mixture. Everything stays on the device unless `readback`: then
    /// the loss parts, accuracy and predictions come back (log steps, eval, ask).
    public func forward(_ batch: ModelBatch, loss: LossSettings = LossSettings(), hard: Bool = false,
                        lossScale: Float = 1, readback: Bool = true) throws -> (stats: StepStats, predictions: [Prediction]) {
        let cfg = config, be = backend
        let B = batch.size, T = batch.seq, D = cfg.dModel, N = B * T
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

        // The batch goes up once: ids, positions, lengths, number digits, targets.
        let ids = try ws.get("ids.tokens", N, .int32), posIds = try ws.get("ids.pos", N, .int32)
        let placeIds = try ws.get("ids.places", N, .int32), slotIds = try ws.get("ids.slots", N, .int32)
        let lengths = try ws.get("ids.lengths", B, .int32), clsIds = try ws.get("ids.cls", B, .int32)
        let numbersBuf = try ws.get("ids.numbers", B * cfg.slots * cfg.places, .int32)
        let targetsBuf = try ws.get("ids.targets", B * 2, .int32)
        if cfg.encoderSeesDigitValues {
            try be.upload(batch.tokens, to: ids)
            try be.upload(batch.places.map { min(max($0, 0), Int32(cfg.places + 1)) }, to: placeIds)
        } else {
            let digits = Set(cfg.digitTokenIds)
            try be.upload(batch.tokens.map { digits.contains($0) ? cfg.digitTokenIds[0] : $0 }, to: ids)
            try be.upload(batch.places.map { $0 > 0 ? Int32(1) : Int32(0) }, to: placeIds)
        }
        try be.upload(cfg.positions == .words ? Self.wordPositions(batch) : Self.segmentPositions(batch), to: posIds)
        try be.upload(batch.slots.map { min(max($0, 0), Int32(cfg.slots + 1)) }, to: slotIds)
        try be.upload(batch.lengths.map { min(max($0, 1), Int32(T)) }, to: lengths)
        try be.upload((0..<B).map { Int32($0 * T) }, to: clsIds)
        let real = readNumbers(batch)
        let numbers = cfg.positionalPrograms ? Self.positionalNumbers(real, slots: cfg.slots, places: cfg.places) : real
        try be.upload(numbers, to: numbersBuf)
        try be.upload(Self.encodeTargets(batch.targets, count: B), to: targetsBuf)

        // Embeddings: x0[b, t] = tok + pos + place + slot : [B, T, D]
        let x0 = try ws.get("x0", N * D), tmp = try ws.get("embed.tmp", N * D)
        try be.embeddingGather(table: tokEmb.read(), ids: ids, out: x0, count: N, dim: D)
        let slotTable = cfg.encoderSeesSlots ? [(slotEmb, slotIds)] : []
        for (table, tids) in [(posEmb, posIds), (placeEmb, placeIds)] + slotTable {
            try be.embeddingGather(table: table.read(), ids: tids, out: tmp, count: N, dim: D)
            try be.add(x0, tmp, x0, count: N * D)
        }

        // Encoder: x_{l+1} = layer_l(x_l): [B, T, D]
        var x = x0
        for (l, layer) in layers.enumerated() {
            let y = try ws.get("x\(l + 1)", N * D)
            try layer.forward(be, ws: ws, x: x, y: y, lengths: lengths, batch: B, seq: T)
            x = y
        }
        let xf = try ws.get("xf", N * D), mF = try ws.get("lnf.m", N), rF = try ws.get("lnf.r", N)
        try lnF.forward(be, x: x, y: xf, mean: mF, rstd: rF, rows: N)
        // Summary s: [B, D] is the state at position 0 (the CLS token).
        let s = try ws.get("summary", B * D)
        try be.embeddingGather(table: xf, ids: clsIds, out: s, count: B, dim: D)
        // What the VQ heads and the op controller read: the summary, or the bag of words u: [B, D].
        let reader = cfg.readsWords ? try wordsForward(batch, ids: ids) : s

        // Controller input hin: [B, D + (P+1) Dc] = [s; q_1..q_P; q_R], assembled in place.
        let Dc = cfg.codeDim, K = cfg.codes
        let hinW = D + cfg.codeVectorWidth
        let hin = try ws.get("ctrl.in", B * hinW)
        try be.copy2D(reader, srcOffset: 0, srcStride: D, to: hin, dstOffset: 0, dstStride: hinW, rows: B, cols: D)
        let training = batch.targets != nil
        let ones = try ws.get("vq.ones", B)
        if training { try be.fill(ones, value: 1, offset: 0, count: B) }
        // Head p: z_p = proj_p(s): [B, Dc] -> nearest code e_p = book_p[idx_p] (straight-through).
        for (p, proj) in vqProj.enumerated() {
            let z = try ws.get("vq.z\(p)", B * Dc), e = try ws.get("vq.e\(p)", B * Dc)
            let idx = try ws.get("vq.idx\(p)", B, .int32), dist = try ws.get("vq.dist\(p)", B)
            try proj.forward(be, x: reader, y: z, rows: B)
            try be.vqNearest(x: z, codebook: headBooks[p].read(), indices: idx, distances: dist, rows: B, codes: K, dim: Dc)
            try be.embeddingGather(table: headBooks[p].read(), ids: idx, out: e, count: B, dim: Dc)
            try be.copy2D(e, srcOffset: 0, srcStride: Dc, to: hin, dstOffset: D + p * Dc, dstStride: hinW, rows: B, cols: Dc)
            if training { try be.embeddingScatterAdd(dOut: ones, ids: idx, dTable: pendingUsage[p], count: B, dim: 1) }
        }
        // Residual stages: r_0 = res(s), e_s = nearest(r_s), r_{s+1} = r_s - e_s, q_R = sum e_s.
        let qR = try ws.get("vq.qR", B * Dc)
        try be.fill(qR, value: 0, offset: 0, count: B * Dc)
        try resProj.forward(be, x: reader, y: try ws.get("vq.r0", B * Dc), rows: B)
        for st in 0..<cfg.vqStages {
            let r = try ws.get("vq.r\(st)", B * Dc), e = try ws.get("vq.es\(st)", B * Dc)
            let idx = try ws.get("vq.sidx\(st)", B, .int32), dist = try ws.get("vq.sdist\(st)", B)
            try be.vqNearest(x: r, codebook: stageBooks[st].read(), indices: idx, distances: dist, rows: B, codes: K, dim: Dc)
            try be.embeddingGather(table: stageBooks[st].read(), ids: idx, out: e, count: B, dim: Dc)
            try be.axpy(alpha: 1, x: e, y: qR, count: B * Dc)
            if st + 1 < cfg.vqStages {
                let next = try ws.get("vq.r\(st + 1)", B * Dc)
                try be.copy(r, srcOffset: 0, to: next, dstOffset: 0, count: B * Dc)
                try be.axpy(alpha: -1, x: e, y: next, count: B * Dc)
            }
            if training {
                try be.embeddingScatterAdd(dOut: ones, ids: idx, dTable: pendingUsage[vqProj.count + st], count: B, dim: 1)
            }
        }
        try be.copy2D(qR, srcOffset: 0, srcStride: Dc, to: hin, dstOffset: D + cfg.vqHeads * Dc, dstStride: hinW, rows: B, cols: Dc)

        // Controller: out = fc2(gelu(fc1(hin))): [B, outputWidth]
        let H = cfg.controllerHidden, outW = cfg.outputWidth
        let c1 = try ws.get("ctrl.c1", B * H), hc = try ws.get("ctrl.h", B * H)
        let out = try ws.get("ctrl.out", B * outW)
        try be.gemm(m: B, n: H, k: hinW, a: hin, b: ctrl1.w.read(), c: c1)
        try be.addBiasGelu(c1, bias: ctrl1.b.read(), hc, rows: B, cols: H)
        try ctrl2.forward(be, x: hc, y: out, rows: B)
        if cfg.contentPointers {
            try be.upload(Self.numberTokenRows(batch, slots: cfg.slots), to: try ws.get("ids.slottok", B * cfg.slots, .int32))
            if cfg.localPointerKeys {
                let (before, after) = Self.contextTokens(batch, slots: cfg.slots)
                try be.upload(before, to: try ws.get("ids.ctx.before", B * cfg.slots, .int32))
                try be.upload(after, to: try ws.get("ids.ctx.after", B * cfg.slots, .int32))
            }
            try pointerForward(B: B, T: T)
        }
        if cfg.summaryPointers { try summaryPointersForward(B: B) }
        if cfg.factoredOps != .off { try opFactorsForward(B: B, reader: reader, out: out) }
        if cfg.coupledPointers { try coupleColumns(out, rows: B, subtract: (from: cfg.slots, what: 0)) }
        if cfg.localOps != .off { try localOpsForward(batch, numbers: numbers, hard: hard, out: out) }
        if cfg.positionalPrograms { try positionalForward(batch, real: real, out: out) }
        if !cfg.offersSubtract2 {
            let held = try ws.get("ops.sub2.held", B)
            try be.fill(held, value: -30, offset: 0, count: B)
            try be.copy2D(held, srcOffset: 0, srcStride: 1, to: out, dstOffset: 2 * cfg.slots + UnaryOp.subtract2.rawValue,
                          dstStride: outW, rows: B, cols: 1)
        }

        // Typed reasoner and decoder; writes the loss gradient at `out` straight into ctrl.dout.
        var spec = ReasonerSpec(slots: cfg.slots, places: cfg.places, hard: hard, enabled: reasonerEnabled,
                                labelSmoothing: loss.labelSmoothing, lambdaStop: loss.lambdaStop,
                                lambdaEntropy: loss.lambdaEntropy, lossScale: lossScale / Float(B))
        spec.lambdaPointer = loss.lambdaPointer
        if cfg.canonicalPrograms {
            spec.relationMask = ReasonerSpec.allRelations & ~(1 << Int32(Relation.smaller.rawValue))
            spec.boolOpMask = ReasonerSpec.allUnaryOps
                & ~(1 << Int32(UnaryOp.predecessor.rawValue) | 1 << Int32(UnaryOp.subtract2.rawValue))
        }
        let dOut = try ws.get("ctrl.dout", B * outW)
        let rowStats = try ws.get("reasoner.stats", B * ReasonerSpec.statsWidth)
        let trace = try ws.get("reasoner.trace", B * 4, .int32)
        try be.reasoner(logits: out, numbers: numbersBuf, targets: targetsBuf, gain: gain.read(), dLogits: dOut,
                        rowStats: rowStats, trace: trace, rows: B, spec: spec)
        var paraphrase: (count: Int, scale: Float)?
        if training, loss.lambdaParaphrase > 0, let pairs = batch.paraphraseOf {
            let (left, right) = Self.paraphraseIndices(pairs, numbers: numbers, slots: cfg.slots, places: cfg.places,
                                                       width: outW)
            if !left.isEmpty {
                try paraphraseForward(left: left, right: right, out: out)
                paraphrase = (left.count, 2 * loss.lambdaParaphrase * lossScale / Float(B))
            }
        }
        var programLosses: [any DeviceBuffer] = []
        if training, loss.lambdaProgram > 0, let programs = batch.programs {
            programLosses = try programLossForward(programs: programs, out: out, dOut: dOut, rows: B,
                                                   scale: loss.lambdaProgram * lossScale / Float(B))
        }
        if training { saved = (B, T, loss.lambdaVQ * lossScale * 2 / Float(Dc * B), paraphrase) }

        var stats = StepStats()
        stats.count = B
        guard readback else { return (stats, []) }
        for buffer in programLosses {
            let l = try be.download(buffer, offset: 0, count: B)
            stats.programLoss += Double(loss.lambdaProgram) * l.reduce(0.0) { $0 + Double($1) } / Double(B)
        }
        if let paraphrase {
            let diff = try be.download(try ws.get("para.diff", paraphrase.count), offset: 0, count: paraphrase.count)
            stats.paraphraseLoss = Double(loss.lambdaParaphrase) * diff.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(B)
        }
        return try readResults(batch: batch, numbers: real, loss: loss, stats: stats)
    }

    // MARK: word-bag reader (OpReader.words)

    /// Per question, 1/n on each of its n word tokens ([CLS], digits and padding get 0): [B, T].
    static func wordWeights(_ batch: ModelBatch) -> [Float] {
        var out = [Float](repeating: 0, count: batch.size * batch.seq)
        for b in 0..<batch.size {
            let len = min(batch.seq, Int(batch.lengths[b]))
            let words = (1..<max(1, len)).filter { batch.slots[b * batch.seq + $0] == 0 }
            for t in words { out[b * batch.seq + t] = 1 / Float(words.count) }
        }
        return out
    }

    /// Additive attention mask: 0 on each word token, -30 on [CLS], digits and padding: [B, T].
    static func wordMask(_ batch: ModelBatch) -> [Float] {
        wordWeights(batch).map { $0 > 0 ? 0 : -30 }
    }

    /// u = LN(sum_t w[b, t] * words[token[b, t]]): [B, D], the order-free reading of a question.
    /// w is 1/n on the n word tokens (mean pooling), or with attention pooling
    /// w[b] = softmax_t(words[token[b, t]] . query + mask[b, t]).
    private func wordsForward(_ batch: ModelBatch, ids: any DeviceBuffer) throws -> any DeviceBuffer {
        let be = backend, B = batch.size, T = batch.seq, D = config.dModel
        guard let bowEmb, let bowLN else { throw ModelError.invalidConfig("word reader weights missing") }
        let w = try ws.get("words.w", B * T), e = try ws.get("words.e", B * T * D)
        let mean = try ws.get("words.mean", B * D), u = try ws.get("words.u", B * D)
        try be.embeddingGather(table: bowEmb.read(), ids: ids, out: e, count: B * T, dim: D)
        if let bowQuery {
            // scores: [B*T, 1] = e [B*T, D] x query [D, 1], masked, softmax over each question's T.
            let scores = try ws.get("words.scores", B * T), mask = try ws.get("words.mask", B * T)
            try be.upload(Self.wordMask(batch), to: mask)
            try be.gemm(m: B * T, n: 1, k: D, a: e, b: bowQuery.read(), c: scores)
            try be.add(scores, mask, scores, count: B * T)
            try be.softmax(scores, w, rows: B, cols: T)
        } else {
            try be.upload(Self.wordWeights(batch), to: w)
        }
        // Per question: [1, T] x [T, D] -> [1, D].
        try be.gemmStridedBatched(transA: false, transB: false, m: 1, n: D, k: T, alpha: 1,
                                  a: w, aOffset: 0, lda: T, strideA: T, b: e, bOffset: 0, ldb: D, strideB: T * D,
                                  beta: 0, c: mean, cOffset: 0, ldc: D, strideC: D, batch: B)
        try bowLN.forward(be, x: mean, y: u, mean: try ws.get("words.m", B), rstd: try ws.get("words.r", B), rows: B)
        return u
    }

    /// du: [B, D] -> the word table's gradient, through the LayerNorm and the weighted mean.
    private func wordsBackward(B: Int, T: Int, du: any DeviceBuffer) throws {
        let be = backend, D = config.dModel
        guard let bowEmb, let bowLN else { throw ModelError.invalidConfig("word reader weights missing") }
        let w = try ws.get("words.w", B * T), de = try ws.get("words.e.grad", B * T * D)
        let dmean = try ws.get("words.mean.grad", B * D)
        try bowLN.backward(be, x: try ws.get("words.mean", B * D), mean: try ws.get("words.m", B),
                           rstd: try ws.get("words.r", B), dY: du, dX: dmean, rows: B)
        // de[b] = w[b]^T [T, 1] x dmean[b] [1, D]
        try be.gemmStridedBatched(transA: true, transB: false, m: T, n: D, k: 1, alpha: 1,
                                  a: w, aOffset: 0, lda: T, strideA: T, b: dmean, bOffset: 0, ldb: D, strideB: D,
                                  beta: 0, c: de, cOffset: 0, ldc: D, strideC: T * D, batch: B)
        if let bowQuery {
            let e = try ws.get("words.e", B * T * D), dw = try ws.get("words.w.grad", B * T)
            let dscores = try ws.get("words.scores.grad", B * T)
            // dw[b] = dmean[b] [1, D] x e[b]^T [D, T]; then back through the softmax.
            try be.gemmStridedBatched(transA: false, transB: true, m: 1, n: T, k: D, alpha: 1,
                                      a: dmean, aOffset: 0, lda: D, strideA: D, b: e, bOffset: 0, ldb: D, strideB: T * D,
                                      beta: 0, c: dw, cOffset: 0, ldc: T, strideC: T, batch: B)
            try be.softmaxBackward(y: w, dY: dw, dX: dscores, rows: B, cols: T)
            // de += dscores [B*T, 1] x query [1, D]; dquery += e^T [D, B*T] x dscores [B*T, 1].
            try be.gemm(m: B * T, n: D, k: 1, a: dscores, b: bowQuery.read(), beta: 1, c: de)
            try params.accumulatingGrads([bowQuery]) { g in
                try be.gemm(transA: true, m: D, n: 1, k: B * T, a: e, b: dscores, beta: 1, c: g[0])
            }
        }
        try params.accumulatingGrads([bowEmb]) { g in
            try be.embeddingScatterAdd(dOut: de, ids: try ws.get("ids.tokens", B * T, .int32), dTable: g[0],
                                       count: B * T, dim: D)
        }
    }

    /// Pointer logits from the summary: fc2(gelu(fc1(s))): [B, 2 * slots], written over the
    /// controller's pointer columns of out: [B, outW].
    private func summaryPointersForward(B: Int) throws {
        guard let ptr1, let ptr2 else { throw ModelError.invalidConfig("pointer controller weights missing") }
        let be = backend, D = config.dModel, H = config.controllerHidden, S2 = config.summaryColumns
        let c1 = try ws.get("ptr.c1", B * H), h = try ws.get("ptr.h", B * H), logits = try ws.get("ptr.out", B * S2)
        try be.gemm(m: B, n: H, k: D, a: try ws.get("summary", B * D), b: ptr1.w.read(), c: c1)
        try be.addBiasGelu(c1, bias: ptr1.b.read(), h, rows: B, cols: H)
        try ptr2.forward(be, x: h, y: logits, rows: B)
        try be.copy2D(logits, srcOffset: 0, srcStride: S2, to: try ws.get("ctrl.out", B * config.outputWidth),
                      dstOffset: 0, dstStride: config.outputWidth, rows: B, cols: S2)
    }

    /// Moves the pointer columns' gradient out of dOut (zeroing them there, as the op controller's
    /// own pointer outputs were overwritten) and back through the pointer controller into ds: [B, D].
    private func summaryPointersBackward(B: Int, dOut: any DeviceBuffer, ds: any DeviceBuffer) throws {
        guard let ptr1, let ptr2 else { throw ModelError.invalidConfig("pointer controller weights missing") }
        let be = backend, D = config.dModel, H = config.controllerHidden, S2 = config.summaryColumns
        let dl = try ws.get("ptr.dout", B * S2)
        try takeColumns(dOut, rows: B, from: 0, count: S2, into: dl)
        let c1 = try ws.get("ptr.c1", B * H), h = try ws.get("ptr.h", B * H), dh = try ws.get("ptr.dh", B * H)
        try ptr2.backward(be, x: h, dY: dl, dX: dh, rows: B)
        try be.geluBackward(x: c1, dY: dh, dX: dh, count: B * H)
        try ptr1.backward(be, x: try ws.get("summary", B * D), dY: dh, dX: ds, rows: B)
    }

    // MARK: factored ops

    static let opFactorCount = 4

    /// Which factors (plus, minus, one, two) each step-1 op's logit sums: [4, unaryCount].
    static let opFactorMatrix: [Float] = {
        let ops = UnaryOp.allCases.count
        var m = [Float](repeating: 0, count: opFactorCount * ops)
        let plus = 0, minus = 1, one = 2, two = 3
        for (op, factors) in [(UnaryOp.successor, [plus, one]), (.predecessor, [minus, one]),
                              (.add2, [plus, two]), (.subtract2, [minus, two])] {
            for f in factors { m[f * ops + op.rawValue] = 1 }
        }
        return m
    }()

    /// f = opFactors(reader): [B, 4]; out[:, op columns] += f [B, 4] x M [4, ops].
    private func opFactorsForward(B: Int, reader: any DeviceBuffer, out: any DeviceBuffer) throws {
        guard let opFactors else { throw ModelError.invalidConfig("op factor weights missing") }
        let be = backend, F = Self.opFactorCount, ops = UnaryOp.allCases.count
        let f = try ws.get("opf.f", B * F), m = try ws.get("opf.m", F * ops)
        try be.upload(Self.opFactorMatrix, to: m)
        try opFactors.forward(be, x: reader, y: f, rows: B)
        if config.factoredOps == .projected { try projectOpInteraction(out, B: B) }
        if config.factoredOps == .only {
            let zeros = try ws.get("opf.zeros", B * 4)
            try be.fill(zeros, value: 0, offset: 0, count: B * 4)
            try be.copy2D(zeros, srcOffset: 0, srcStride: 4, to: out, dstOffset: 2 * config.slots + UnaryOp.successor.rawValue,
                          dstStride: config.outputWidth, rows: B, cols: 4)
        }
        try be.gemmStridedBatched(transA: false, transB: false, m: B, n: ops, k: F, alpha: 1,
                                  a: f, aOffset: 0, lda: F, strideA: B * F, b: m, bOffset: 0, ldb: ops, strideB: F * ops,
                                  beta: 1, c: out, cOffset: 2 * config.slots, ldc: config.outputWidth,
                                  strideC: B * config.outputWidth, batch: 1)
    }

    /// x[:, successor ... subtract_2] = x P with P = I - v v^T, v = (1, -1, -1, 1) / 2: [B, 4].
    private func projectOpInteraction(_ x: any DeviceBuffer, B: Int) throws {
        let be = backend, first = 2 * config.slots + UnaryOp.successor.rawValue, W = config.outputWidth
        let v: [Float] = [0.5, -0.5, -0.5, 0.5]
        var p = [Float](repeating: 0, count: 16)
        for r in 0..<4 { for c in 0..<4 { p[r * 4 + c] = (r == c ? 1 : 0) - v[r] * v[c] } }
        let pBuf = try ws.get("opf.p", 16), tmp = try ws.get("opf.proj", B * 4)
        try be.upload(p, to: pBuf)
        try be.gemmStridedBatched(transA: false, transB: false, m: B, n: 4, k: 4, alpha: 1,
                                  a: x, aOffset: first, lda: W, strideA: B * W, b: pBuf, bOffset: 0, ldb: 4, strideB: 16,
                                  beta: 0, c: tmp, cOffset: 0, ldc: 4, strideC: B * 4, batch: 1)
        try be.copy2D(tmp, srcOffset: 0, srcStride: 4, to: x, dstOffset: first, dstStride: W, rows: B, cols: 4)
    }

    /// df: [B, 4] = dOut[:, op columns] [B, ops] x M^T [ops, 4], kept for the reader's backward.
    private func opFactorsGradient(B: Int, dOut: any DeviceBuffer) throws {
        let be = backend, F = Self.opFactorCount, ops = UnaryOp.allCases.count
        try be.gemmStridedBatched(transA: false, transB: true, m: B, n: F, k: ops, alpha: 1,
                                  a: dOut, aOffset: 2 * config.slots, lda: config.outputWidth,
                                  strideA: B * config.outputWidth, b: try ws.get("opf.m", F * ops), bOffset: 0,
                                  ldb: ops, strideB: F * ops, beta: 0, c: try ws.get("opf.df", B * F), cOffset: 0,
                                  ldc: F, strideC: B * F, batch: 1)
        // The projection is symmetric: the controller's logits get P times the gradient.
        if config.factoredOps == .projected { try projectOpInteraction(dOut, B: B) }
        if config.factoredOps == .only {
            // The controller's own logits there were overwritten: they get no gradient.
            try takeColumns(dOut, rows: B, from: 2 * config.slots + UnaryOp.successor.rawValue, count: 4,
                            into: try ws.get("opf.dropped", B * 4))
        }
    }

    // MARK: local ops

    /// Op features a word can vote for: identity, plus, minus, one, two, between.
    static let localOpFeatures = 6
    /// Words read before and after each number by `localOps`.
    static let localOpWindow = (before: 3, after: 2)

    /// Which features each step-1 op's logit sums: [features, unaryCount]. The arithmetic ops
    /// are direction + size, so "less" learned from "one less than" and "two" learned from
    /// "two more than" read "two less than" as subtract_2.
    static let localOpMatrix: [Float] = {
        let ops = UnaryOp.allCases.count
        var m = [Float](repeating: 0, count: localOpFeatures * ops)
        let identity = 0, plus = 1, minus = 2, one = 3, two = 4, between = 5
        for (op, features) in [(UnaryOp.identity, [identity]), (.successor, [plus, one]), (.predecessor, [minus, one]),
                               (.add2, [plus, two]), (.subtract2, [minus, two]), (.between, [between])] {
            for f in features { m[f * ops + op.rawValue] = 1 }
        }
        return m
    }()

    /// The words each number slot's op reads: up to `before` words right before the number and
    /// `after` right after it, never crossing [CLS] or another number. Per slot, `before + after`
    /// entries: the table row (word id before the number, V + word id after it) and the slot row
    /// b * S + s its features sum into (B * S, a spare row, where the window runs out).
    static func localOpWindows(_ batch: ModelBatch, slots S: Int, vocab V: Int,
                               before: Int = localOpWindow.before, after: Int = localOpWindow.after)
        -> (ids: [Int32], rows: [Int32]) {
        let W = before + after, T = batch.seq, spare = Int32(batch.size * S)
        var ids = [Int32](repeating: 0, count: batch.size * S * W), rows = [Int32](repeating: spare, count: ids.count)
        for b in 0..<batch.size {
            let len = min(T, Int(batch.lengths[b]))
            func slot(_ t: Int) -> Int { Int(batch.slots[b * T + t]) }
            for s in 1...S {
                guard let first = (0..<len).first(where: { slot($0) == s }),
                      let last = (0..<len).last(where: { slot($0) == s }) else { continue }
                let base = (b * S + s - 1) * W
                var k = 0, t = first - 1
                while k < before, t >= 1, slot(t) == 0 {
                    ids[base + k] = batch.tokens[b * T + t]; rows[base + k] = Int32(b * S + s - 1)
                    k += 1; t -= 1
                }
                k = 0; t = last + 1
                while k < after, t < len, slot(t) == 0 {
                    ids[base + before + k] = Int32(V) + batch.tokens[b * T + t]; rows[base + before + k] = Int32(b * S + s - 1)
                    k += 1; t += 1
                }
            }
        }
        return (ids, rows)
    }

    /// The step-1 op is read from the words around the number pointer A picks:
    /// f[b, s] = bias + sum of the window words' features: [B*S, F]; L = f M: [B*S, ops];
    /// piA = softmax(pointer A logits over present slots): [B, S] (one-hot at eval, as the
    /// reasoner's argmax); op logits[b] = piA[b] [1, S] x L[b] [S, ops], written over out's op columns.
    private func localOpsForward(_ batch: ModelBatch, numbers: [Int32], hard: Bool, out: any DeviceBuffer) throws {
        let cfg = config, be = backend, B = batch.size, S = cfg.slots
        let U = UnaryOp.allCases.count, outW = cfg.outputWidth
        let L = try localOpLogits(batch)
        // Empty slots get -30, as the reasoner leaves them out of its pointer softmax.
        var mask = [Float](repeating: 0, count: B * S)
        for b in 0..<B { for s in 0..<S where numbers[(b * S + s) * cfg.places] < 0 { mask[b * S + s] = -30 } }
        let pa = try ws.get("lop.pa", B * S), pi = try ws.get("lop.pi", B * S), maskBuf = try ws.get("lop.mask", B * S)
        try be.upload(mask, to: maskBuf)
        try be.copy2D(out, srcOffset: 0, srcStride: outW, to: pa, dstOffset: 0, dstStride: S, rows: B, cols: S)
        try be.add(pa, maskBuf, pa, count: B * S)
        if hard { try be.scale(pa, by: 1000, count: B * S) }
        try be.softmax(pa, pi, rows: B, cols: S)
        try be.gemmStridedBatched(transA: false, transB: false, m: 1, n: U, k: S, alpha: 1,
                                  a: pi, aOffset: 0, lda: S, strideA: S, b: L, bOffset: 0, ldb: U, strideB: S * U,
                                  beta: cfg.localOps == .added ? 1 : 0, c: out, cOffset: 2 * S, ldc: outW, strideC: outW, batch: B)
    }

    /// Op logits of every number slot from the words around it: f[b, s] = bias + the window
    /// words' features: [B*S, F]; L = f M: [B*S, ops].
    private func localOpLogits(_ batch: ModelBatch) throws -> any DeviceBuffer {
        guard let localOpWords, let localOpBias else { throw ModelError.invalidConfig("local op weights missing") }
        let cfg = config, be = backend, B = batch.size, S = cfg.slots, F = Self.localOpFeatures
        let U = UnaryOp.allCases.count
        let W = Self.localOpWindow.before + Self.localOpWindow.after
        let (idList, rowList) = Self.localOpWindows(batch, slots: S, vocab: cfg.vocabSize)
        let ids = try ws.get("lop.ids", B * S * W, .int32), rows = try ws.get("lop.rows", B * S * W, .int32)
        try be.upload(idList, to: ids)
        try be.upload(rowList, to: rows)
        let e = try ws.get("lop.e", B * S * W * F), f = try ws.get("lop.f", (B * S + 1) * F)
        try be.embeddingGather(table: localOpWords.read(), ids: ids, out: e, count: B * S * W, dim: F)
        try be.fill(f, value: 0, offset: 0, count: (B * S + 1) * F)
        try be.embeddingScatterAdd(dOut: e, ids: rows, dTable: f, count: B * S * W, dim: F)
        try be.addBias(f, bias: localOpBias.read(), rows: B * S, cols: F)
        let m = try ws.get("lop.m", F * U), L = try ws.get("lop.L", B * S * U)
        try be.upload(Self.localOpMatrix, to: m)
        try be.gemm(m: B * S, n: U, k: F, a: f, b: m, c: L)
        return L
    }

    /// dL: [B*S, ops] -> the word table's and the bias's gradients.
    private func localOpLogitsBackward(B: Int, dL: any DeviceBuffer) throws {
        guard let localOpWords, let localOpBias else { throw ModelError.invalidConfig("local op weights missing") }
        let cfg = config, be = backend, S = cfg.slots, F = Self.localOpFeatures
        let U = UnaryOp.allCases.count
        let W = Self.localOpWindow.before + Self.localOpWindow.after
        // df = dL M^T: [B*S, F], and a zero spare row for the window entries that read no word.
        let df = try ws.get("lop.df", (B * S + 1) * F), de = try ws.get("lop.de", B * S * W * F)
        try be.gemm(transB: true, m: B * S, n: F, k: U, a: dL, b: try ws.get("lop.m", F * U), c: df)
        try be.fill(df, value: 0, offset: B * S * F, count: F)
        try be.embeddingGather(table: df, ids: try ws.get("lop.rows", B * S * W, .int32), out: de, count: B * S * W, dim: F)
        try params.accumulatingGrads([localOpWords, localOpBias]) { g in
            try be.embeddingScatterAdd(dOut: de, ids: try ws.get("lop.ids", B * S * W, .int32), dTable: g[0],
                                       count: B * S * W, dim: F)
            try be.biasBackward(dY: df, dBias: g[1], rows: B * S, cols: F)
        }
    }

    /// Takes the op columns' gradient out of dOut (with `.replaced` the controller's own op
    /// logits were overwritten and get none), adds piA's share to pointer A's columns and accumulates the word table's
    /// and the bias's gradients.
    private func localOpsBackward(B: Int, dOut: any DeviceBuffer) throws {
        let cfg = config, be = backend, S = cfg.slots
        let U = UnaryOp.allCases.count, outW = cfg.outputWidth
        let dop = try ws.get("lop.dop", B * U)
        if cfg.localOps == .added {
            // The controller's own op logits are still summed in: they keep their gradient.
            try be.copy2D(dOut, srcOffset: 2 * S, srcStride: outW, to: dop, dstOffset: 0, dstStride: U, rows: B, cols: U)
        } else {
            try takeColumns(dOut, rows: B, from: 2 * S, count: U, into: dop)
        }
        let pi = try ws.get("lop.pi", B * S), L = try ws.get("lop.L", B * S * U)
        let dL = try ws.get("lop.dL", B * S * U), dpi = try ws.get("lop.dpi", B * S), dpa = try ws.get("lop.dpa", B * S)
        // dL[b] = piA[b]^T [S, 1] x dop[b] [1, ops]; dpiA[b] = dop[b] [1, ops] x L[b]^T [ops, S].
        try be.gemmStridedBatched(transA: true, transB: false, m: S, n: U, k: 1, alpha: 1,
                                  a: pi, aOffset: 0, lda: S, strideA: S, b: dop, bOffset: 0, ldb: U, strideB: U,
                                  beta: 0, c: dL, cOffset: 0, ldc: U, strideC: S * U, batch: B)
        try be.gemmStridedBatched(transA: false, transB: true, m: 1, n: S, k: U, alpha: 1,
                                  a: dop, aOffset: 0, lda: U, strideA: U, b: L, bOffset: 0, ldb: U, strideB: S * U,
                                  beta: 0, c: dpi, cOffset: 0, ldc: S, strideC: S, batch: B)
        try be.softmaxBackward(y: pi, dY: dpi, dX: dpa, rows: B, cols: S)
        let dA = try ws.get("lop.dA", B * S)
        try be.copy2D(dOut, srcOffset: 0, srcStride: outW, to: dA, dstOffset: 0, dstStride: S, rows: B, cols: S)
        try be.add(dA, dpa, dA, count: B * S)
        try be.copy2D(dA, srcOffset: 0, srcStride: S, to: dOut, dstOffset: 0, dstStride: outW, rows: B, cols: S)
        try localOpLogitsBackward(B: B, dL: dL)
    }

    // MARK: positional programs

    /// With `positionalPrograms` the reasoner's slots are virtual: slots 0..<ops hold each op
    /// applied to the question's first number, slots ops..<2 ops each op applied to its last
    /// number (-1 where the op has no value, which the reasoner treats as an empty slot). Pointer
    /// A then picks the first number's op and B the last number's, and the reasoner's own op is
    /// held at identity: relation(op_A(first), op_B(last)), or op_A(first) for a number answer.
    /// real: [B, S, P] digits of the numbers as read -> [B, S, P] virtual.
    static func positionalNumbers(_ real: [Int32], slots S: Int, places P: Int) -> [Int32] {
        let U = UnaryOp.allCases.count
        var out = [Int32](repeating: -1, count: real.count)
        let B = real.count / (S * P)
        for b in 0..<B {
            let present = (0..<S).compactMap { k -> Digits? in
                let d = real[((b * S + k) * P)..<((b * S + k + 1) * P)]
                return d.first! < 0 ? nil : Digits(digits: d.map(Int.init))
            }
            guard let first = present.first, let last = present.last else { continue }
            for (base, x) in [(0, first), (U, last)] {
                let others = present.filter { $0 != x } + (present.filter { $0 == x }.count > 1 ? [x] : [])
                for (k, op) in UnaryOp.allCases.enumerated() {
                    guard let v = op.apply(x, others: others) else { continue }
                    for p in 0..<P { out[(b * S + base + k) * P + p] = Int32(v.digits[p]) }
                }
            }
        }
        return out
    }

    /// Rows of the local op logits L: [B*S, ops] of each question's first and last number.
    static func firstAndLastRows(_ real: [Int32], slots S: Int, places P: Int) -> (first: [Int32], last: [Int32]) {
        let B = real.count / (S * P)
        var first = [Int32](repeating: 0, count: B), last = first
        for b in 0..<B {
            let present = (0..<S).filter { real[(b * S + $0) * P] >= 0 }
            first[b] = Int32(b * S + (present.first ?? 0))
            last[b] = Int32(b * S + (present.last ?? 0))
        }
        return (first, last)
    }

    /// Writes pointer A = [L(first), -30...], pointer B = [-30 x ops, L(last), -30...] and the
    /// reasoner's op logits = identity 0, the rest -30, over out: [B, outW].
    private func positionalForward(_ batch: ModelBatch, real: [Int32], out: any DeviceBuffer) throws {
        let cfg = config, be = backend, B = batch.size, S = cfg.slots, U = UnaryOp.allCases.count
        let outW = cfg.outputWidth
        let L = try localOpLogits(batch)
        let (firstRows, lastRows) = Self.firstAndLastRows(real, slots: S, places: cfg.places)
        let fr = try ws.get("pos.first", B, .int32), lr = try ws.get("pos.last", B, .int32)
        try be.upload(firstRows, to: fr)
        try be.upload(lastRows, to: lr)
        let block = try ws.get("pos.block", B * S), la = try ws.get("pos.la", B * U)
        let parts: [(Int, any DeviceBuffer)] = [(0, fr), (1, lr)]
        for (o, rows) in parts {
            try be.embeddingGather(table: L, ids: rows, out: la, count: B, dim: U)
            try be.fill(block, value: -30, offset: 0, count: B * S)
            try be.copy2D(la, srcOffset: 0, srcStride: U, to: block, dstOffset: o * U, dstStride: S, rows: B, cols: U)
            try be.copy2D(block, srcOffset: 0, srcStride: S, to: out, dstOffset: o * S, dstStride: outW, rows: B, cols: S)
        }
        var ops = [Float](repeating: -30, count: B * U)
        for b in 0..<B { ops[b * U + UnaryOp.identity.rawValue] = 0 }
        let opsBuf = try ws.get("pos.ops", B * U)
        try be.upload(ops, to: opsBuf)
        try be.copy2D(opsBuf, srcOffset: 0, srcStride: U, to: out, dstOffset: 2 * S, dstStride: outW, rows: B, cols: U)
    }

    /// Takes the pointer and op columns' gradients out of dOut (all were overwritten) and sends
    /// the first and last numbers' shares back to the local op logits.
    private func positionalBackward(B: Int, dOut: any DeviceBuffer) throws {
        let cfg = config, be = backend, S = cfg.slots, U = UnaryOp.allCases.count
        try takeColumns(dOut, rows: B, from: 2 * S, count: U, into: try ws.get("pos.dops", B * U))
        let dL = try ws.get("lop.dL", B * S * U), dl = try ws.get("pos.dl", B * U), block = try ws.get("pos.dblock", B * S)
        try be.fill(dL, value: 0, offset: 0, count: B * S * U)
        let parts: [(Int, String)] = [(0, "pos.first"), (1, "pos.last")]
        for (o, name) in parts {
            let ids = try ws.get(name, B, .int32)
            try takeColumns(dOut, rows: B, from: o * S, count: S, into: block)
            try be.copy2D(block, srcOffset: o * U, srcStride: S, to: dl, dstOffset: 0, dstStride: U, rows: B, cols: U)
            try be.embeddingScatterAdd(dOut: dl, ids: ids, dTable: dL, count: B, dim: U)
        }
        try localOpLogitsBackward(B: B, dL: dL)
    }

    // MARK: paraphrase consistency

    /// Element indices into the controller output out: [B, width] of the logits two phrasings of
    /// one question should share: op, relation and STOP columns, and the A and B pointer columns
    /// of each number that occurs once in both rows (slot k of one row to the slot holding the
    /// same number in the other). Each pair is counted once (from its lower row).
    static func paraphraseIndices(_ pairs: [Int32], numbers: [Int32], slots S: Int, places P: Int,
                                  width W: Int) -> (left: [Int32], right: [Int32]) {
        var left: [Int32] = [], right: [Int32] = []
        let programColumns = (2 * S)..<(2 * S + UnaryOp.allCases.count + Relation.allCases.count + 1)
        func value(_ row: Int, _ k: Int) -> ArraySlice<Int32>? {
            let d = numbers[((row * S + k) * P)..<((row * S + k + 1) * P)]
            return d.first! < 0 ? nil : d
        }
        for (i, j32) in pairs.enumerated() {
            let j = Int(j32)
            guard j > i, j < pairs.count else { continue }
            for c in programColumns { left.append(Int32(i * W + c)); right.append(Int32(j * W + c)) }
            for k in 0..<S {
                guard let v = value(i, k) else { continue }
                let inI = (0..<S).filter { value(i, $0) == v }, inJ = (0..<S).filter { value(j, $0) == v }
                guard inI.count == 1, inJ.count == 1 else { continue }
                for base in [0, S] {
                    left.append(Int32(i * W + base + k)); right.append(Int32(j * W + base + inJ[0]))
                }
            }
        }
        return (left, right)
    }

    /// diff[m] = out[left[m]] - out[right[m]].
    private func paraphraseForward(left: [Int32], right: [Int32], out: any DeviceBuffer) throws {
        let be = backend, M = left.count
        let li = try ws.get("para.left", M, .int32), ri = try ws.get("para.right", M, .int32)
        let diff = try ws.get("para.diff", M), r = try ws.get("para.r", M)
        try be.upload(left, to: li)
        try be.upload(right, to: ri)
        try be.embeddingGather(table: out, ids: li, out: diff, count: M, dim: 1)
        try be.embeddingGather(table: out, ids: ri, out: r, count: M, dim: 1)
        try be.axpy(alpha: -1, x: r, y: diff, count: M)
    }

    /// dOut[left] += scale * diff, dOut[right] -= scale * diff (scale = 2 lambda lossScale / B).
    private func paraphraseBackward(count M: Int, scale: Float, dOut: any DeviceBuffer) throws {
        let be = backend
        let g = try ws.get("para.grad", M)
        try be.copy(try ws.get("para.diff", M), srcOffset: 0, to: g, dstOffset: 0, count: M)
        try be.scale(g, by: scale, count: M)
        try be.embeddingScatterAdd(dOut: g, ids: try ws.get("para.left", M, .int32), dTable: dOut, count: M, dim: 1)
        try be.scale(g, by: -1, count: M)
        try be.embeddingScatterAdd(dOut: g, ids: try ws.get("para.right", M, .int32), dTable: dOut, count: M, dim: 1)
    }

    // MARK: coupled pointers

    /// x[:, from ..< from+slots] -= x[:, what ..< what+slots] for x: [rows, outW].
    private func coupleColumns(_ x: any DeviceBuffer, rows B: Int, subtract: (from: Int, what: Int)) throws {
        let S = config.slots, outW = config.outputWidth, be = backend
        let target = try ws.get("couple.target", B * S), source = try ws.get("couple.source", B * S)
        try be.copy2D(x, srcOffset: subtract.from, srcStride: outW, to: target, dstOffset: 0, dstStride: S, rows: B, cols: S)
        try be.copy2D(x, srcOffset: subtract.what, srcStride: outW, to: source, dstOffset: 0, dstStride: S, rows: B, cols: S)
        try be.axpy(alpha: -1, x: source, y: target, count: B * S)
        try be.copy2D(target, srcOffset: 0, srcStride: S, to: x, dstOffset: subtract.from, dstStride: outW, rows: B, cols: S)
    }

    // MARK: content pointers

    /// For each question and slot, the row of `xf` ([B*T, D]) holding the number's first digit;
    /// the question's [CLS] row for an empty slot (its logit is masked by the reasoner anyway).
    static func numberTokenRows(_ batch: ModelBatch, slots S: Int) -> [Int32] {
        var out = [Int32](repeating: 0, count: batch.size * S)
        for b in 0..<batch.size {
            for k in 0..<S { out[b * S + k] = Int32(b * batch.seq) }
            var seen = [Bool](repeating: false, count: S)
            for t in 0..<batch.seq {
                let slot = Int(batch.slots[b * batch.seq + t])
                guard slot >= 1, slot <= S, !seen[slot - 1] else { continue }
                seen[slot - 1] = true
                out[b * S + slot - 1] = Int32(b * batch.seq + t)
            }
        }
        return out
    }

    /// Token ids right before and right after each number slot ([CLS] before the first word, PAD
    /// after the last token; PAD for an empty slot): two arrays [B, S].
    static func contextTokens(_ batch: ModelBatch, slots S: Int) -> (before: [Int32], after: [Int32]) {
        var before = [Int32](repeating: 0, count: batch.size * S), after = before
        for b in 0..<batch.size {
            let T = batch.seq, len = min(T, Int(batch.lengths[b]))
            for t in 0..<len {
                let slot = Int(batch.slots[b * T + t])
                guard slot >= 1, slot <= S else { continue }
                let startsNumber = t == 0 || batch.slots[b * T + t - 1] != Int32(slot)
                let endsNumber = t + 1 >= len || batch.slots[b * T + t + 1] != Int32(slot)
                if startsNumber && t > 0 { before[b * S + slot - 1] = batch.tokens[b * T + t - 1] }
                if endsNumber && t + 1 < len { after[b * S + slot - 1] = batch.tokens[b * T + t + 1] }
            }
        }
        return (before, after)
    }

    /// Pointer logits by attention: hs: [B, S, D] = xf rows of the numbers; for operand o in
    /// (A, B), q_o = query_o(hc): [B, D] and logits[b, s] = q_o[b] . hs[b, s] / sqrt(D), written
    /// over the controller's pointer columns of out: [B, outW].
    private func pointerForward(B: Int, T: Int) throws {
        let cfg = config, be = backend, D = cfg.dModel, S = cfg.slots, outW = cfg.outputWidth
        let scale = 1 / Float(D).squareRoot()
        let hs = try ws.get("ptr.hs", B * S * D), logits = try ws.get("ptr.logits", B * S)
        if let contextBefore, let contextAfter {
            // hs[b, s] = before[word before number s] + after[word after number s]
            let tmp = try ws.get("ptr.hs.after", B * S * D)
            try be.embeddingGather(table: contextBefore.read(), ids: try ws.get("ids.ctx.before", B * S, .int32),
                                   out: hs, count: B * S, dim: D)
            try be.embeddingGather(table: contextAfter.read(), ids: try ws.get("ids.ctx.after", B * S, .int32),
                                   out: tmp, count: B * S, dim: D)
            try be.add(hs, tmp, hs, count: B * S * D)
        } else {
            try be.embeddingGather(table: try ws.get("xf", B * T * D), ids: try ws.get("ids.slottok", B * S, .int32),
                                   out: hs, count: B * S, dim: D)
        }
        let hc = try ws.get("ctrl.h", B * cfg.controllerHidden), out = try ws.get("ctrl.out", B * outW)
        for (o, query) in pointerQueries.enumerated() {
            let q = try ws.get("ptr.q\(o)", B * D)
            try query.forward(be, x: hc, y: q, rows: B)
            // Per question: [1, D] x [S, D]^T -> [1, S].
            try be.gemmStridedBatched(transA: false, transB: true, m: 1, n: S, k: D, alpha: scale,
                                      a: q, aOffset: 0, lda: D, strideA: D, b: hs, bOffset: 0, ldb: D, strideB: S * D,
                                      beta: 0, c: logits, cOffset: 0, ldc: S, strideC: S, batch: B)
            try be.copy2D(logits, srcOffset: 0, srcStride: S, to: out, dstOffset: o * S, dstStride: outW, rows: B, cols: S)
        }
    }

    /// First half of the pointers' backward: moves the pointer columns' gradient out of dOut
    /// into ptr.dlogits{o} and zeroes those columns, because the controller's own pointer
    /// outputs were overwritten and get no gradient. Runs before the controller's backward.
    private func takePointerGradients(B: Int, dOut: any DeviceBuffer) throws {
        for o in pointerQueries.indices {
            try takeColumns(dOut, rows: B, from: o * config.slots, count: config.slots,
                            into: try ws.get("ptr.dlogits\(o)", B * config.slots))
        }
    }

    /// Moves columns from ..< from+count of dOut: [B, outW] into dst: [B, count] and zeroes them in
    /// dOut: their logits were overwritten after the controller wrote them, so the controller's
    /// own outputs there get no gradient.
    private func takeColumns(_ dOut: any DeviceBuffer, rows B: Int, from: Int, count: Int, into dst: any DeviceBuffer) throws {
        let be = backend, outW = config.outputWidth
        let zeros = try ws.get("take.zeros.\(count)", B * count)
        try be.fill(zeros, value: 0, offset: 0, count: B * count)
        try be.copy2D(dOut, srcOffset: from, srcStride: outW, to: dst, dstOffset: 0, dstStride: count, rows: B, cols: count)
        try be.copy2D(zeros, srcOffset: 0, srcStride: count, to: dOut, dstOffset: from, dstStride: outW, rows: B, cols: count)
    }

    /// Initial logit biases of the step-1 ops (identity, subtract_2) in a layer whose outputs
    /// are laid out like the controller row.
    static func setOpPriors(_ layer: Linear, config: ModelConfig, backend: any Backend) throws {
        var bias = try backend.download(layer.b.value)
        bias[2 * config.slots + UnaryOp.identity.rawValue] = config.identityPrior
        bias[2 * config.slots + UnaryOp.subtract2.rawValue] = config.subtract2Prior
        try backend.upload(bias, to: layer.b.value)
    }

    /// Second half: accumulates into dh: [B, H] (the controller hidden's gradient, after the
    /// controller's backward wrote it) and into dxf: [B*T, D] at the numbers' rows.
    private func pointerBackward(B: Int, dh: any DeviceBuffer, dxf: any DeviceBuffer) throws {
        let cfg = config, be = backend, D = cfg.dModel, S = cfg.slots
        let scale = 1 / Float(D).squareRoot()
        let hs = try ws.get("ptr.hs", B * S * D), dhs = try ws.get("ptr.dhs", B * S * D)
        let hc = try ws.get("ctrl.h", B * cfg.controllerHidden), dq = try ws.get("ptr.dq", B * D)
        for (o, query) in pointerQueries.enumerated() {
            let q = try ws.get("ptr.q\(o)", B * D), dl = try ws.get("ptr.dlogits\(o)", B * S)
            // dq[b] = scale * dl[b] [1, S] x hs[b] [S, D]
            try be.gemmStridedBatched(transA: false, transB: false, m: 1, n: D, k: S, alpha: scale,
                                      a: dl, aOffset: 0, lda: S, strideA: S, b: hs, bOffset: 0, ldb: D, strideB: S * D,
                                      beta: 0, c: dq, cOffset: 0, ldc: D, strideC: D, batch: B)
            // dhs[b] (+)= scale * dl[b]^T [S, 1] x q[b] [1, D]
            try be.gemmStridedBatched(transA: true, transB: false, m: S, n: D, k: 1, alpha: scale,
                                      a: dl, aOffset: 0, lda: S, strideA: S, b: q, bOffset: 0, ldb: D, strideB: D,
                                      beta: o == 0 ? 0 : 1, c: dhs, cOffset: 0, ldc: D, strideC: S * D, batch: B)
            try query.backward(be, x: hc, dY: dq, dX: dh, rows: B, accumulateDX: true)
        }
        if let contextBefore, let contextAfter {
            try params.accumulatingGrads([contextBefore, contextAfter]) { g in
                try be.embeddingScatterAdd(dOut: dhs, ids: try ws.get("ids.ctx.before", B * S, .int32), dTable: g[0],
                                           count: B * S, dim: D)
                try be.embeddingScatterAdd(dOut: dhs, ids: try ws.get("ids.ctx.after", B * S, .int32), dTable: g[1],
                                           count: B * S, dim: D)
            }
        } else {
            try be.embeddingScatterAdd(dOut: dhs, ids: try ws.get("ids.slottok", B * S, .int32), dTable: dxf,
                                       count: B * S, dim: D)
        }
    }

    /// Brings loss parts, accuracy and predictions of the last forward back to the host.
    private func readResults(batch: ModelBatch, numbers: [Int32], loss: LossSettings, stats base: StepStats)
        throws -> (stats: StepStats, predictions: [Prediction]) {
        let cfg = config, be = backend, B = batch.size, W = ReasonerSpec.statsWidth, Dc = cfg.codeDim
        var stats = base
        let rows = try be.download(try ws.get("reasoner.stats", B * W), offset: 0, count: B * W)
        let trace = try be.downloadInt32(try ws.get("reasoner.trace", B * 4, .int32), offset: 0, count: B * 4)
        var codes: [[Int32]] = []
        for p in 0..<cfg.vqHeads { codes.append(try be.downloadInt32(try ws.get("vq.idx\(p)", B, .int32), offset: 0, count: B)) }
        for st in 0..<cfg.vqStages { codes.append(try be.downloadInt32(try ws.get("vq.sidx\(st)", B, .int32), offset: 0, count: B)) }
        stats.codeIndices = codes
        var vq = 0.0
        let sum = try ws.get("reasoner.sum", 1)
        for name in (0..<cfg.vqHeads).map({ "vq.dist\($0)" }) + (0..<cfg.vqStages).map({ "vq.sdist\($0)" }) {
            try be.sum(try ws.get(name, B), count: B, out: sum)
            vq += Double(try be.download(sum)[0])
        }
        stats.vqLoss = vq * Double(1 + cfg.vqBeta) / Double(Dc * B) * Double(loss.lambdaVQ)
        var distances: [[Float]] = []
        for name in (0..<cfg.vqHeads).map({ "vq.dist\($0)" }) + (0..<cfg.vqStages).map({ "vq.sdist\($0)" }) {
            distances.append(try be.download(try ws.get(name, B), offset: 0, count: B))
        }
        let outW = cfg.outputWidth
        let logits = try be.download(try ws.get("ctrl.out", B * outW), offset: 0, count: B * outW)
        var preds: [Prediction] = []
        preds.reserveCapacity(B)
        var entropy = 0.0, pointerEntropy = 0.0
        for b in 0..<B {
            let r = rows[(b * W)..<((b + 1) * W)].map { $0 }
            stats.answerLoss += Double(r[0]) / Double(B)
            stats.stopLoss += Double(r[1]) * Double(loss.lambdaStop) / Double(B)
            entropy += Double(r[2]) / Double(B)
            pointerEntropy += Double(r[9]) / Double(B)
            if r[3] > 0.5 { stats.correct += 1 }
            var slotA = Int(trace[4 * b]), slotB = Int(trace[4 * b + 1])
            var unary = UnaryOp(rawValue: Int(trace[4 * b + 2])) ?? .identity, unaryB = UnaryOp.identity
            if cfg.positionalPrograms {
                // Virtual slots: A's slot is the first number's op, B's the last number's.
                let U = UnaryOp.allCases.count
                let present = (0..<cfg.slots).filter { numbers[(b * cfg.slots + $0) * cfg.places] >= 0 }
                unary = UnaryOp(rawValue: slotA) ?? .identity
                unaryB = UnaryOp(rawValue: slotB - U) ?? .identity
                slotA = present.first ?? 0
                slotB = present.last ?? 0
            }
            func value(_ slot: Int) -> Int? {
                guard slot >= 0, slot < cfg.slots, numbers[(b * cfg.slots + slot) * cfg.places] >= 0 else { return nil }
                let d = (0..<cfg.places).map { Int(numbers[(b * cfg.slots + slot) * cfg.places + $0]) }
                return Digits(digits: d).value
            }
            let t = ReasoningTrace(operandA: value(slotA), operandB: value(slotB), slotA: slotA, slotB: slotB,
                                   unary: unary, unaryB: unaryB,
                                   relation: Relation(rawValue: Int(trace[4 * b + 3])) ?? .equal,
                                   pStop: r[8], codes: codes.map { Int($0[b]) })
            let present = (0..<cfg.slots).map { numbers[(b * cfg.slots + $0) * cfg.places] >= 0 }
            let confidence = Self.programConfidence(row: logits[(b * outW)..<((b + 1) * outW)], present: present,
                                                    slotA: slotA, slotB: slotB, unary: unary.rawValue,
                                                    relation: Int(trace[4 * b + 3]), isNumber: r[4] > 0.5,
                                                    slots: cfg.slots, positional: cfg.positionalPrograms)
            preds.append(Prediction(isNumber: r[4] > 0.5, yes: r[5] > 0.5, pYes: r[5], number: Int(r[6]), trace: t,
                                    programConfidence: confidence, codeDistances: distances.map { $0[b] }))
        }
        if batch.targets == nil { stats.correct = 0; stats.answerLoss = 0; stats.stopLoss = 0 }
        stats.loss = stats.answerLoss + stats.stopLoss + stats.vqLoss + stats.paraphraseLoss + stats.programLoss - Double(loss.lambdaEntropy) * entropy
            + Double(loss.lambdaPointer) * pointerEntropy
        return (stats, preds)
    }

    /// The product of the softmax probabilities of the program's argmax choices (see
    /// `Prediction.programConfidence`); pointers are normalised over the slots holding a number.
    static func programConfidence(row: ArraySlice<Float>, present: [Bool], slotA: Int, slotB: Int, unary: Int,
                                  relation: Int, isNumber: Bool, slots S: Int, positional: Bool) -> Float {
        let r = Array(row)
        func prob(_ lo: Int, _ count: Int, _ chosen: Int, allowed: (Int) -> Bool = { _ in true }) -> Float {
            guard chosen >= 0, chosen < count, allowed(chosen) else { return 0 }
            let idx = (0..<count).filter(allowed)
            let m = idx.map { r[lo + $0] }.max() ?? 0
            let z = idx.reduce(Float(0)) { $0 + exp(r[lo + $1] - m) }
            return exp(r[lo + chosen] - m) / z
        }
        let U = ReasonerSpec.unaryCount, R = ReasonerSpec.relationCount
        var p = Float(1)
        if !positional {
            p *= prob(0, S, slotA) { present[$0] }
            p *= prob(2 * S, U, unary)
            if !isNumber { p *= prob(S, S, slotB) { present[$0] } }
        }
        if !isNumber { p *= prob(2 * S + U, R, relation) }
        return p
    }

    /// Position ids that count a whole number as one word: the words after a number sit at the
    /// same positions whether it has two digits or three, so longer numbers shift nothing.
    static func wordPositions(_ batch: ModelBatch) -> [Int32] {
        var out = [Int32](repeating: 0, count: batch.size * batch.seq)
        for b in 0..<batch.size {
            var pos: Int32 = -1
            for t in 0..<batch.seq {
                let i = b * batch.seq + t
                let continuesNumber = t > 0 && batch.slots[i] > 0 && batch.slots[i] == batch.slots[i - 1]
                if !continuesNumber { pos += 1 }
                out[i] = pos
            }
        }
        return out
    }

    /// Position ids by `PositionScheme.segments`: the count of numbers started at or before each
    /// token ([CLS] and the words before the first number are 0).
    static func segmentPositions(_ batch: ModelBatch) -> [Int32] {
        var out = [Int32](repeating: 0, count: batch.size * batch.seq)
        for b in 0..<batch.size {
            var seen: Int32 = 0
            for t in 0..<batch.seq {
                let i = b * batch.seq + t
                if batch.slots[i] > 0 && (t == 0 || batch.slots[i] != batch.slots[i - 1]) { seen += 1 }
                out[i] = seen
            }
        }
        return out
    }

    // MARK: backward

    /// Accumulates gradients of the last forward's loss (times its lossScale) into every parameter.
    public func backward() throws {
        guard let sv = saved else { throw ModelError.invalidBatch("backward called without a forward that had targets") }
        saved = nil
        let cfg = config, be = backend
        let B = sv.batch, T = sv.seq, D = cfg.dModel, N = B * T, Dc = cfg.codeDim
        let H = cfg.controllerHidden, outW = cfg.outputWidth, hinW = D + cfg.codeVectorWidth

        // Decoder gain: d(loss)/d(gain) = sum over rows of rowStats[:, 7].
        let rowStats = try ws.get("reasoner.stats", B * ReasonerSpec.statsWidth)
        let col = try ws.get("reasoner.col", B), one = try ws.get("reasoner.sum", 1)
        try be.copy2D(rowStats, srcOffset: 7, srcStride: ReasonerSpec.statsWidth, to: col, dstOffset: 0, dstStride: 1,
                      rows: B, cols: 1)
        try be.sum(col, count: B, out: one)
        try params.accumulatingGrads([gain]) { g in try be.add(g[0], one, g[0], count: 1) }

        // Controller.
        let hin = try ws.get("ctrl.in", B * hinW), dOut = try ws.get("ctrl.dout", B * outW)
        let c1 = try ws.get("ctrl.c1", B * H), hc = try ws.get("ctrl.h", B * H)
        let dh = try ws.get("ctrl.dh", B * H), dHin = try ws.get("ctrl.dhin", B * hinW)
        // The content pointers read xf, so its gradient starts here (zeroed before anything adds).
        let dxf = try ws.get("xf.grad", N * D)
        try be.fill(dxf, value: 0, offset: 0, count: N * D)
        if let paraphrase = sv.paraphrase { try paraphraseBackward(count: paraphrase.count, scale: paraphrase.scale, dOut: dOut) }
        // B = B' - A in forward, so A' gets -dB as well as its own dA.
        if cfg.coupledPointers { try coupleColumns(dOut, rows: B, subtract: (from: 0, what: cfg.slots)) }
        // A held logit is a constant of the model: nothing upstream gets its gradient.
        if !cfg.offersSubtract2 {
            try takeColumns(dOut, rows: B, from: 2 * cfg.slots + UnaryOp.subtract2.rawValue, count: 1,
                            into: try ws.get("ops.sub2.dropped", B))
        }
        if cfg.positionalPrograms { try positionalBackward(B: B, dOut: dOut) }
        // Before the pointers take their columns: the op's gradient adds to pointer A's.
        if cfg.localOps != .off { try localOpsBackward(B: B, dOut: dOut) }
        // Read before the summary pointers take (and zero) the op columns.
        if cfg.factoredOps != .off { try opFactorsGradient(B: B, dOut: dOut) }
        if cfg.contentPointers { try takePointerGradients(B: B, dOut: dOut) }
        let words = cfg.readsWords
        let s = try ws.get("summary", B * D), ds = try ws.get("summary.grad", B * D)
        if cfg.summaryPointers {
            try summaryPointersBackward(B: B, dOut: dOut, ds: ds)
        } else if words {
            // Word bag plus content pointers: nothing reads the summary.
            try be.fill(ds, value: 0, offset: 0, count: B * D)
        }
        try ctrl2.backward(be, x: hc, dY: dOut, dX: dh, rows: B)
        if cfg.contentPointers { try pointerBackward(B: B, dh: dh, dxf: dxf) }
        try be.geluBackward(x: c1, dY: dh, dX: dh, count: B * H)
        try ctrl1.backward(be, x: hin, dY: dh, dX: dHin, rows: B)

        // The reader's gradient: [B, D] from the controller input, then from every VQ projection.
        // It is ds itself for the summary reader; the word bag's du otherwise (ds then came from
        // the pointer controller alone).
        let reader = words ? try ws.get("words.u", B * D) : s
        let dReader = words ? try ws.get("words.u.grad", B * D) : ds
        try be.copy2D(dHin, srcOffset: 0, srcStride: hinW, to: dReader, dstOffset: 0, dstStride: D, rows: B, cols: D)
        if let opFactors {
            try opFactors.backward(be, x: reader, dY: try ws.get("opf.df", B * Self.opFactorCount), dX: dReader,
                                   rows: B, accumulateDX: true)
        }
        // VQ loss lambda * (|sg(z) - e|^2 + beta |z - sg(e)|^2) / Dc, mean over the batch. Training
        // routes the gradient at a code to z (straight-through); exactGradients gives the true one.
        let straightThrough = !exactGradients
        let encW = sv.vqScale * (exactGradients ? 1 + cfg.vqBeta : cfg.vqBeta)
        let bookW = sv.vqScale * (exactGradients ? 1 + cfg.vqBeta : 1)
        let dq = try ws.get("vq.dq", B * Dc), diff = try ws.get("vq.diff", B * Dc)
        for p in 0..<cfg.vqHeads {
            let z = try ws.get("vq.z\(p)", B * Dc), e = try ws.get("vq.e\(p)", B * Dc)
            let idx = try ws.get("vq.idx\(p)", B, .int32)
            try be.copy2D(dHin, srcOffset: D + p * Dc, srcStride: hinW, to: dq, dstOffset: 0, dstStride: Dc, rows: B, cols: Dc)
            try be.copy(z, srcOffset: 0, to: diff, dstOffset: 0, count: B * Dc)
            try be.axpy(alpha: -1, x: e, y: diff, count: B * Dc)                  // diff = z - e
            if !straightThrough {
                try params.accumulatingGrads([headBooks[p]]) { g in
                    try be.embeddingScatterAdd(dOut: dq, ids: idx, dTable: g[0], count: B, dim: Dc)
                }
                try be.fill(dq, value: 0, offset: 0, count: B * Dc)
            }
            try be.axpy(alpha: encW, x: diff, y: dq, count: B * Dc)               // dz
            try vqProj[p].backward(be, x: reader, dY: dq, dX: dReader, rows: B, accumulateDX: true)
            try be.scale(diff, by: -bookW, count: B * Dc)
            try params.accumulatingGrads([headBooks[p]]) { g in
                try be.embeddingScatterAdd(dOut: diff, ids: idx, dTable: g[0], count: B, dim: Dc)
            }
        }
        // Residual: dr0 gets dq_R (straight-through) plus every stage's commitment term; with exact
        // gradients, codes also receive dq_R and the terms of later stages (r_{s+1} = r_s - e_s).
        let dqR = try ws.get("vq.dqR", B * Dc), dr0 = try ws.get("vq.dr0", B * Dc), later = try ws.get("vq.later", B * Dc)
        try be.copy2D(dHin, srcOffset: D + cfg.vqHeads * Dc, srcStride: hinW, to: dqR, dstOffset: 0, dstStride: Dc,
                      rows: B, cols: Dc)
        if straightThrough {
            try be.copy(dqR, srcOffset: 0, to: dr0, dstOffset: 0, count: B * Dc)
        } else {
            try be.fill(dr0, value: 0, offset: 0, count: B * Dc)
        }
        try be.fill(later, value: 0, offset: 0, count: B * Dc)
        for st in stride(from: cfg.vqStages - 1, through: 0, by: -1) {
            let r = try ws.get("vq.r\(st)", B * Dc), e = try ws.get("vq.es\(st)", B * Dc)
            let idx = try ws.get("vq.sidx\(st)", B, .int32)
            try be.copy(r, srcOffset: 0, to: diff, dstOffset: 0, count: B * Dc)
            try be.axpy(alpha: -1, x: e, y: diff, count: B * Dc)                  // diff = r_s - e_s
            try be.axpy(alpha: encW, x: diff, y: dr0, count: B * Dc)
            // Code rows: -bookW * diff (+ dq_R - later when exact).
            try be.copy(diff, srcOffset: 0, to: dq, dstOffset: 0, count: B * Dc)
            try be.scale(dq, by: -bookW, count: B * Dc)
            if exactGradients {
                try be.axpy(alpha: 1, x: dqR, y: dq, count: B * Dc)
                try be.axpy(alpha: -1, x: later, y: dq, count: B * Dc)
                try be.axpy(alpha: encW, x: diff, y: later, count: B * Dc)
            }
            try params.accumulatingGrads([stageBooks[st]]) { g in
                try be.embeddingScatterAdd(dOut: dq, ids: idx, dTable: g[0], count: B, dim: Dc)
            }
        }
        try resProj.backward(be, x: reader, dY: dr0, dX: dReader, rows: B, accumulateDX: true)
        if words { try wordsBackward(B: B, T: T, du: dReader) }

        // Summary -> final LayerNorm -> encoder layers -> embeddings.
        let clsIds = try ws.get("ids.cls", B, .int32)
        try be.embeddingScatterAdd(dOut: ds, ids: clsIds, dTable: dxf, count: B, dim: D)
        let mF = try ws.get("lnf.m", N), rF = try ws.get("lnf.r", N)
        let dx = try ws.get("x.grad", N * D)
        try lnF.backward(be, x: try ws.get("x\(layers.count)", N * D), mean: mF, rstd: rF, dY: dxf, dX: dx, rows: N)
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            try layers[l].backward(be, ws: ws, x: try ws.get(l == 0 ? "x0" : "x\(l)", N * D), dY: dx, dX: dx,
                                   batch: B, seq: T)
        }
        let ids = try ws.get("ids.tokens", N, .int32), posIds = try ws.get("ids.pos", N, .int32)
        let placeIds = try ws.get("ids.places", N, .int32), slotIds = try ws.get("ids.slots", N, .int32)
        try params.accumulatingGrads([tokEmb, posEmb, placeEmb, slotEmb]) { g in
            for (i, tableIds) in [ids, posIds, placeIds, slotIds].enumerated() where i < 3 || cfg.encoderSeesSlots {
                try be.embeddingScatterAdd(dOut: dx, ids: tableIds, dTable: g[i], count: N, dim: D)
            }
        }
    }

    // MARK: code usage

    /// Adds the step's code usage to the window since the last restart (after a step succeeded).
    public func commitCodeUsage() throws {
        for (p, c) in zip(pendingUsage, committedUsage) {
            try backend.axpy(alpha: 1, x: p, y: c, count: config.codes)
            try backend.fill(p, value: 0, offset: 0, count: config.codes)
        }
    }

    /// Forgets the usage of a step that did not complete (out-of-memory retry).
    public func discardPendingCodeUsage() throws {
        for p in pendingUsage { try backend.fill(p, value: 0, offset: 0, count: config.codes) }
    }

    /// Code usage counts since the last reset, per codebook (heads, then stages).
    public func codeUsage() throws -> [[Int]] {
        try committedUsage.map { try backend.download($0).map { Int($0.rounded()) } }
    }

    public func setCodeUsage(_ usage: [[Int]]) throws {
        guard usage.count == committedUsage.count, usage.allSatisfy({ $0.count == config.codes }) else {
            throw ModelError.invalidConfig("code usage has shape \(usage.map(\.count)), expected \(committedUsage.count) × \(config.codes)")
        }
        for (u, buf) in zip(usage, committedUsage) { try backend.upload(u.map(Float.init), to: buf) }
    }

    // MARK: VQ health

    /// Re-seeds codes no question used in `usage` with summaries of the given batch, so a
    /// codebook never collapses to a few codes. Returns how many codes were restarted.
    public func restartDeadCodes(usage: [[Int]], batch: ModelBatch, rng: inout ModelRNG) throws -> Int {
        guard usage.count == headBooks.count + stageBooks.count else { return 0 }
        _ = try forward(batch, hard: true)
        let B = batch.size, Dc = config.codeDim, D = config.dModel
        let s = try ws.get(config.readsWords ? "words.u" : "summary", B * D), zBuf = try ws.get("vq.z0", B * Dc)
        var restarted = 0
        for (p, book) in (headBooks + stageBooks).enumerated() {
            let dead = usage[p].indices.filter { usage[p][$0] == 0 }
            if dead.isEmpty { continue }
            // Stage codebooks restart from the first stage's input; good enough to revive them.
            try (p < vqProj.count ? vqProj[p] : resProj).forward(backend, x: s, y: zBuf, rows: B)
            let z = try backend.download(zBuf, offset: 0, count: B * Dc)
            var values = try backend.download(book.value)
            let shrink: Float = p < vqProj.count ? 1 : 1 / Float(1 << (p - vqProj.count))
            for c in dead {
                let b = Int(rng.next() % UInt64(B))
                for j in 0..<Dc { values[c * Dc + j] = shrink * z[b * Dc + j] + Float(rng.normal() * 0.01) }
            }
            try backend.upload(values, to: book.value)
            restarted += dead.count
        }
        try params.syncHalf()
        return restarted
    }
}
