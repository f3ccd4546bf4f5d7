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
}

public struct ReasoningTrace: Sendable {
    public var operandA: Int?
    public var operandB: Int?
    public var slotA: Int
    public var slotB: Int
    public var unary: UnaryOp
    public var relation: Relation
    public var pStop: Float
    public var codes: [Int]
}

/// Loss parts and accuracy of one forward pass (means over the batch).
public struct StepStats: Sendable {
    public var loss: Double = 0
    public var answerLoss: Double = 0
    public var vqLoss: Double = 0
    public var stopLoss: Double = 0
    public var correct: Int = 0
    public var count: Int = 0
    /// Code indices chosen per VQ head (P heads then S stages), [B] each.
    public var codeIndices: [[Int32]] = []
    public init() {}
}

/// The concept model: encoder -> multi-VQ bottleneck -> controller picking typed ops -> decoder.
/// Every layer runs through `Backend`; small per-question work (VQ bookkeeping, typed ops) runs
/// on host copies of [B, few] tensors.
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

    /// Set false to cut the typed ops out of the decoder (the ablation).
    public var reasonerEnabled = true
    /// Training uses VQ-VAE's surrogate gradients: the gradient reaching a chosen code goes to the
    /// encoder output it replaced (straight-through), the codebook term moves only codes and the
    /// commitment term (weight beta) only the encoder. With `exactGradients` the backward is the
    /// true derivative of the forward (no stop-gradients), which is what finite differences see.
    public var exactGradients = false

    // State saved by forward for backward.
    private var saved: Saved?
    private struct Saved {
        var batch: ModelBatch
        var z: [[Float]]            // per head [B, Dc]
        var e: [[Float]]            // per head [B, Dc]
        var headIdx: [[Int32]]
        var r: [[Float]]            // per stage residual input [B, Dc]
        var es: [[Float]]           // per stage code [B, Dc]
        var stageIdx: [[Int32]]
        var dOut: [Float]           // [B, outputWidth] gradient of the loss w.r.t. controller output
        var gainGrad: Float
        var lossScaleVQ: Float
    }

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
        gain = try params.make("decoder.gain", [1], .ones, decays: false, rng: &rng)
    }

    /// Bytes of activation buffers currently held.
    public var activationBytes: Int { ws.bytes }

    /// Drops every activation buffer and any saved forward state, e.g. after an out-of-memory
    /// error, so the next forward allocates only what its (smaller) batch needs.
    public func releaseActivations() {
        saved = nil
        ws.clear()
    }

    // MARK: forward

    /// Runs the model on a batch. With targets, computes the loss and keeps what backward needs.
    /// `hard` picks the argmax op at every step (eval); training uses the soft mixture.
    public func forward(_ batch: ModelBatch, loss: LossSettings = LossSettings(), hard: Bool = false,
                        lossScale: Float = 1) throws -> (stats: StepStats, predictions: [Prediction]) {
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

        // Embeddings: x0[b, t] = tok + pos + place + slot
        let ids = try ws.get("ids.tokens", N, .int32), posIds = try ws.get("ids.pos", N, .int32)
        let placeIds = try ws.get("ids.places", N, .int32), slotIds = try ws.get("ids.slots", N, .int32)
        let lengths = try ws.get("ids.lengths", B, .int32), clsIds = try ws.get("ids.cls", B, .int32)
        if cfg.encoderSeesDigitValues {
            try be.upload(batch.tokens, to: ids)
            try be.upload(batch.places.map { min(max($0, 0), Int32(cfg.places + 1)) }, to: placeIds)
        } else {
            let digits = Set(cfg.digitTokenIds)
            try be.upload(batch.tokens.map { digits.contains($0) ? cfg.digitTokenIds[0] : $0 }, to: ids)
            try be.upload(batch.places.map { $0 > 0 ? Int32(1) : Int32(0) }, to: placeIds)
        }
        try be.upload(Self.wordPositions(batch), to: posIds)
        try be.upload(batch.slots.map { min(max($0, 0), Int32(cfg.slots + 1)) }, to: slotIds)
        try be.upload(batch.lengths.map { min(max($0, 1), Int32(T)) }, to: lengths)
        try be.upload((0..<B).map { Int32($0 * T) }, to: clsIds)
        let x0 = try ws.get("x0", N * D), tmp = try ws.get("embed.tmp", N * D)
        try be.embeddingGather(table: tokEmb.value, ids: ids, out: x0, count: N, dim: D)
        for (table, tids) in [(posEmb, posIds), (placeEmb, placeIds), (slotEmb, slotIds)] {
            try be.embeddingGather(table: table.value, ids: tids, out: tmp, count: N, dim: D)
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

        // Multi-VQ bottleneck.
        let Dc = cfg.codeDim, K = cfg.codes
        let zBuf = try ws.get("vq.z", B * Dc), idxBuf = try ws.get("vq.idx", B, .int32), distBuf = try ws.get("vq.dist", B)
        var zs: [[Float]] = [], es: [[Float]] = [], headIdx: [[Int32]] = []
        var vqLoss = 0.0
        for (p, proj) in vqProj.enumerated() {
            try proj.forward(be, x: s, y: zBuf, rows: B)
            try be.vqNearest(x: zBuf, codebook: headBooks[p].value, indices: idxBuf, distances: distBuf,
                             rows: B, codes: K, dim: Dc)
            let z = try be.download(zBuf, offset: 0, count: B * Dc)
            let idx = try be.downloadInt32(idxBuf, offset: 0, count: B)
            let book = try be.download(headBooks[p].value)
            var e = [Float](repeating: 0, count: B * Dc)
            for b in 0..<B {
                for j in 0..<Dc {
                    let v = book[Int(idx[b]) * Dc + j]
                    e[b * Dc + j] = v
                    let d = Double(z[b * Dc + j] - v)
                    vqLoss += d * d * Double(1 + cfg.vqBeta) / Double(Dc * B)
                }
            }
            zs.append(z); es.append(e); headIdx.append(idx)
        }
        try resProj.forward(be, x: s, y: zBuf, rows: B)
        var residual = try be.download(zBuf, offset: 0, count: B * Dc)
        var rs: [[Float]] = [], ess: [[Float]] = [], stageIdx: [[Int32]] = []
        var qR = [Float](repeating: 0, count: B * Dc)
        let rBuf = try ws.get("vq.r", B * Dc)
        for st in 0..<cfg.vqStages {
            try be.upload(residual, to: rBuf)
            try be.vqNearest(x: rBuf, codebook: stageBooks[st].value, indices: idxBuf, distances: distBuf,
                             rows: B, codes: K, dim: Dc)
            let idx = try be.downloadInt32(idxBuf, offset: 0, count: B)
            let book = try be.download(stageBooks[st].value)
            var e = [Float](repeating: 0, count: B * Dc)
            var next = residual
            for b in 0..<B {
                for j in 0..<Dc {
                    let v = book[Int(idx[b]) * Dc + j]
                    e[b * Dc + j] = v
                    qR[b * Dc + j] += v
                    next[b * Dc + j] -= v
                    let d = Double(residual[b * Dc + j] - v)
                    vqLoss += d * d * Double(1 + cfg.vqBeta) / Double(Dc * B)
                }
            }
            rs.append(residual); ess.append(e); stageIdx.append(idx)
            residual = next
        }

        // Controller input: [s; q_1..q_P; q_R] : [B, D + (P+1) Dc]
        let sHost = try be.download(s, offset: 0, count: B * D)
        let hinW = D + cfg.codeVectorWidth
        var hin = [Float](repeating: 0, count: B * hinW)
        for b in 0..<B {
            for j in 0..<D { hin[b * hinW + j] = sHost[b * D + j] }
            for p in 0..<cfg.vqHeads {
                for j in 0..<Dc { hin[b * hinW + D + p * Dc + j] = es[p][b * Dc + j] }
            }
            for j in 0..<Dc { hin[b * hinW + D + cfg.vqHeads * Dc + j] = qR[b * Dc + j] }
        }
        let hinBuf = try ws.get("ctrl.in", B * hinW)
        try be.upload(hin, to: hinBuf)
        let H = cfg.controllerHidden
        let c1 = try ws.get("ctrl.c1", B * H), hc = try ws.get("ctrl.h", B * H)
        let outW = cfg.outputWidth
        let outBuf = try ws.get("ctrl.out", B * outW)
        try ctrl1.forward(be, x: hinBuf, y: c1, rows: B)
        try be.gelu(c1, hc, count: B * H)
        try ctrl2.forward(be, x: hc, y: outBuf, rows: B)
        let out = try be.download(outBuf, offset: 0, count: B * outW)
        let g = try be.download(gain.value)[0]

        // Typed reasoning and the decoder, per question.
        var stats = StepStats()
        stats.count = B
        stats.codeIndices = headIdx + stageIdx
        var preds: [Prediction] = []
        preds.reserveCapacity(B)
        var dOut = [Float](repeating: 0, count: B * outW)
        var gainGrad: Float = 0
        var ansLoss = 0.0, stopLoss = 0.0, entropyLoss = 0.0
        for b in 0..<B {
            let numbers = readNumbers(batch, row: b)
            let target = batch.targets?[b]
            let r = Reasoner.run(config: cfg, logits: Array(out[(b * outW)..<((b + 1) * outW)]), numbers: numbers,
                                 gain: g, hard: hard, enabled: reasonerEnabled, target: target, loss: loss)
            var trace = r.trace
            trace.codes = stats.codeIndices.map { Int($0[b]) }
            preds.append(Prediction(isNumber: r.isNumber, yes: r.yes, pYes: r.pYes, number: r.number, trace: trace))
            if let target {
                ansLoss += Double(r.answerLoss) / Double(B)
                entropyLoss -= Double(loss.lambdaEntropy * r.entropy) / Double(B)
                stopLoss += Double(r.stopLoss) / Double(B)
                switch target {
                case let .yesNo(y): if !r.isNumber && r.yes == y { stats.correct += 1 }
                case let .number(n): if r.isNumber && r.number == n { stats.correct += 1 }
                }
                for j in 0..<outW { dOut[b * outW + j] = r.dLogits[j] * lossScale / Float(B) }
                gainGrad += r.dGain * lossScale / Float(B)
            }
        }
        stats.answerLoss = ansLoss
        stats.stopLoss = stopLoss * Double(loss.lambdaStop)
        stats.vqLoss = vqLoss * Double(loss.lambdaVQ)
        stats.loss = stats.answerLoss + stats.stopLoss + stats.vqLoss + entropyLoss
        saved = batch.targets == nil ? nil : Saved(batch: batch, z: zs, e: es, headIdx: headIdx, r: rs, es: ess,
                                                    stageIdx: stageIdx, dOut: dOut, gainGrad: gainGrad,
                                                    lossScaleVQ: loss.lambdaVQ * lossScale)
        return (stats, preds)
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

    /// Digits of each number slot in question `row`, read from its digit tokens and their places.
    func readNumbers(_ batch: ModelBatch, row b: Int) -> [Digits?] {
        let cfg = config, T = batch.seq
        var digitOf: [Int32: Int] = [:]
        for (d, id) in cfg.digitTokenIds.enumerated() { digitOf[id] = d }
        var numbers = [[Int]?](repeating: nil, count: cfg.slots)
        let len = min(T, Int(batch.lengths[b]))
        for t in 0..<len {
            let i = b * T + t
            let slot = Int(batch.slots[i]), place = Int(batch.places[i])
            guard slot >= 1, slot <= cfg.slots, place >= 1, let d = digitOf[batch.tokens[i]] else { continue }
            if numbers[slot - 1] == nil { numbers[slot - 1] = [Int](repeating: 0, count: cfg.places + 1) }
            if place <= cfg.places { numbers[slot - 1]![place - 1] = d } else { numbers[slot - 1]![cfg.places] = 1 }
        }
        // A number wider than `places` digits cannot be held; the slot reads as absent.
        return numbers.map { n in n.flatMap { $0[cfg.places] == 0 ? Digits(digits: Array($0[0..<cfg.places])) : nil } }
    }

    // MARK: backward

    /// Accumulates gradients of the last forward's loss (times its lossScale) into every parameter.
    public func backward() throws {
        guard let sv = saved else { throw ModelError.invalidBatch("backward called without a forward that had targets") }
        saved = nil
        let cfg = config, be = backend
        let B = sv.batch.size, T = sv.batch.seq, D = cfg.dModel, N = B * T, Dc = cfg.codeDim
        let H = cfg.controllerHidden, outW = cfg.outputWidth, hinW = D + cfg.codeVectorWidth

        // Decoder gain.
        let gg = try be.download(gain.grad)
        try be.upload([gg[0] + sv.gainGrad], to: gain.grad)

        // Controller.
        let dOutBuf = try ws.get("ctrl.dout", B * outW)
        try be.upload(sv.dOut, to: dOutBuf)
        let hinBuf = try ws.get("ctrl.in", B * hinW)
        let c1 = try ws.get("ctrl.c1", B * H), hc = try ws.get("ctrl.h", B * H)
        let dh = try ws.get("ctrl.dh", B * H), dHin = try ws.get("ctrl.dhin", B * hinW)
        try ctrl2.backward(be, x: hc, dY: dOutBuf, dX: dh, rows: B)
        try be.geluBackward(x: c1, dY: dh, dX: dh, count: B * H)
        try ctrl1.backward(be, x: hinBuf, dY: dh, dX: dHin, rows: B)
        let dHinHost = try be.download(dHin, offset: 0, count: B * hinW)

        // VQ: straight-through to z, plus codebook and commitment terms of lambda_vq * VQ loss.
        let s = try ws.get("summary", B * D)
        let ds = try ws.get("summary.grad", B * D)
        var dsHost = [Float](repeating: 0, count: B * D)
        for b in 0..<B { for j in 0..<D { dsHost[b * D + j] = dHinHost[b * hinW + j] } }
        try be.upload(dsHost, to: ds)
        let vqScale = sv.lossScaleVQ * 2 / Float(Dc * B)
        let straightThrough = !exactGradients
        // Weights of the VQ loss's gradient on the encoder side and on the codebook side.
        let encW = exactGradients ? 1 + cfg.vqBeta : cfg.vqBeta
        let bookW: Float = exactGradients ? 1 + cfg.vqBeta : 1
        let dz = try ws.get("vq.dz", B * Dc)
        for p in 0..<cfg.vqHeads {
            var dzHost = [Float](repeating: 0, count: B * Dc)
            var dBook = [Float](repeating: 0, count: cfg.codes * Dc)
            for b in 0..<B {
                let code = Int(sv.headIdx[p][b])
                for j in 0..<Dc {
                    let diff = sv.z[p][b * Dc + j] - sv.e[p][b * Dc + j]
                    let dq = dHinHost[b * hinW + D + p * Dc + j]
                    dzHost[b * Dc + j] = (straightThrough ? dq : 0) + vqScale * encW * diff
                    dBook[code * Dc + j] += (straightThrough ? 0 : dq) - vqScale * bookW * diff
                }
            }
            try be.upload(dzHost, to: dz)
            try vqProj[p].backward(be, x: s, dY: dz, dX: ds, rows: B, accumulateDX: true)
            try addToGrad(headBooks[p], dBook)
        }
        var dr0 = [Float](repeating: 0, count: B * Dc)
        var dqR = [Float](repeating: 0, count: B * Dc)
        for b in 0..<B { for j in 0..<Dc { dqR[b * Dc + j] = dHinHost[b * hinW + D + cfg.vqHeads * Dc + j] } }
        if straightThrough { dr0 = dqR }
        // r_{st+1} = r_st - e_st: the exact derivative also reaches earlier codes through later
        // residuals; training treats earlier codes as constants there.
        var later = [Float](repeating: 0, count: B * Dc)
        for st in stride(from: cfg.vqStages - 1, through: 0, by: -1) {
            var dBook = [Float](repeating: 0, count: cfg.codes * Dc)
            var here = [Float](repeating: 0, count: B * Dc)
            for b in 0..<B {
                let code = Int(sv.stageIdx[st][b])
                for j in 0..<Dc {
                    let diff = sv.r[st][b * Dc + j] - sv.es[st][b * Dc + j]
                    let dr = vqScale * encW * diff
                    here[b * Dc + j] = dr
                    dr0[b * Dc + j] += dr
                    dBook[code * Dc + j] += (straightThrough ? 0 : dqR[b * Dc + j]) - vqScale * bookW * diff
                        - (exactGradients ? later[b * Dc + j] : 0)
                }
            }
            for i in 0..<(B * Dc) { later[i] += here[i] }
            try addToGrad(stageBooks[st], dBook)
        }
        try be.upload(dr0, to: dz)
        try resProj.backward(be, x: s, dY: dz, dX: ds, rows: B, accumulateDX: true)

        // Summary -> final LayerNorm -> encoder layers -> embeddings.
        let clsIds = try ws.get("ids.cls", B, .int32)
        let dxf = try ws.get("xf.grad", N * D)
        try be.fill(dxf, value: 0, offset: 0, count: N * D)
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
        try be.embeddingScatterAdd(dOut: dx, ids: ids, dTable: tokEmb.grad, count: N, dim: D)
        try be.embeddingScatterAdd(dOut: dx, ids: posIds, dTable: posEmb.grad, count: N, dim: D)
        try be.embeddingScatterAdd(dOut: dx, ids: placeIds, dTable: placeEmb.grad, count: N, dim: D)
        try be.embeddingScatterAdd(dOut: dx, ids: slotIds, dTable: slotEmb.grad, count: N, dim: D)
    }

    private func addToGrad(_ p: Parameter, _ delta: [Float]) throws {
        let tmp = try ws.get("grad.tmp", p.count)
        try backend.upload(delta, to: tmp)
        try backend.axpy(alpha: 1, x: tmp, y: p.grad, count: p.count)
    }

    // MARK: VQ health

    /// Re-seeds codes no question used in `usage` with summaries of the given batch, so a
    /// codebook never collapses to a few codes. Returns how many codes were restarted.
    public func restartDeadCodes(usage: [[Int]], batch: ModelBatch, rng: inout ModelRNG) throws -> Int {
        guard usage.count == headBooks.count + stageBooks.count else { return 0 }
        _ = try forward(batch, hard: true)
        let B = batch.size, Dc = config.codeDim, D = config.dModel
        let s = try ws.get("summary", B * D), zBuf = try ws.get("vq.z", B * Dc)
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
        return restarted
    }
}
