import Compute
import Foundation

/// The typed reasoner and decoder (one backend kernel, `Backend.reasoner`): from the controller
/// row out: [B, outW] and the question's numbers as digits, numbers: [B, slots, places], it runs
/// relation(op(A[, C]), B) or op(A[, C]) with exact digit ops, mixes the programs softly in training (argmax
/// in eval), decodes the answer through a learned gain, and writes the loss gradient at out
/// straight into ctrl.dout: [B, outW]. This file also reads answers and programs back.
extension ConceptModel {
    /// Runs the reasoner; returns dOut: [B, outW] (the answer loss's gradient at out).
    func reasonerForward(out: any DeviceBuffer, rows B: Int, loss: LossSettings, hard: Bool, lossScale: Float) throws -> any DeviceBuffer {
        let cfg = config, be = backend
        var spec = ReasonerSpec(slots: cfg.slots, places: cfg.places, hard: hard, enabled: reasonerEnabled,
                                labelSmoothing: loss.labelSmoothing, lambdaStop: loss.lambdaStop,
                                lambdaEntropy: loss.lambdaEntropy, lossScale: lossScale / Float(B))
        spec.offeredOps = offeredOps
        spec.relationMask = offeredRelations
        let dOut = try ws.get("ctrl.dout", B * cfg.outputWidth)
        try be.reasoner(logits: out, numbers: try ws.get("ids.numbers", B * cfg.slots * cfg.places, .int32),
                        targets: try ws.get("ids.targets", B * 2, .int32), gain: gain.read(), dLogits: dOut,
                        rowStats: try ws.get("reasoner.stats", B * ReasonerSpec.statsWidth),
                        trace: try ws.get("reasoner.trace", B * ReasonerSpec.traceWidth, .int32), rows: B, spec: spec)
        return dOut
    }

    /// The ops the model's grade offers (`ModelConfig.grade`).
    var offeredOps: Int32 { config.grade >= 2 ? ReasonerSpec.allOps : ReasonerSpec.oneNumberOps }
    /// The relations the model's grade offers (even and odd are Grade 2's).
    var offeredRelations: Int32 { config.grade >= 2 ? ReasonerSpec.allRelations : ReasonerSpec.pairRelations }

    /// The decoder gain's gradient: d(loss)/d(gain) = sum over rows of rowStats[:, 7].
    func reasonerBackward(rows B: Int) throws {
        let be = backend
        let rowStats = try ws.get("reasoner.stats", B * ReasonerSpec.statsWidth)
        let col = try ws.get("reasoner.col", B), one = try ws.get("reasoner.sum", 1)
        try be.copy2D(rowStats, srcOffset: 7, srcStride: ReasonerSpec.statsWidth, to: col, dstOffset: 0, dstStride: 1,
                      rows: B, cols: 1)
        try be.sum(col, count: B, out: one)
        try params.accumulatingGrads([gain]) { g in try be.add(g[0], one, g[0], count: 1) }
    }

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

    /// Targets as int32 [B, 2]: (kind, value) with kind 1 = yes/no, 2 = number, 0 = none.
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

    /// Brings loss parts, accuracy and predictions of the last forward back to the host.
    func readResults(batch: ModelBatch, numbers: [Int32], loss: LossSettings, stats base: StepStats)
        throws -> (stats: StepStats, predictions: [Prediction]) {
        let cfg = config, be = backend, B = batch.size, W = ReasonerSpec.statsWidth, Dc = cfg.codeDim
        var stats = base
        let rows = try be.download(try ws.get("reasoner.stats", B * W), offset: 0, count: B * W)
        let TW = ReasonerSpec.traceWidth
        let trace = try be.downloadInt32(try ws.get("reasoner.trace", B * TW, .int32), offset: 0, count: B * TW)
        var codes: [[Int32]] = []
        for p in 0..<cfg.vqHeads { codes.append(try be.downloadInt32(try ws.get("vq.idx\(p)", B, .int32), offset: 0, count: B)) }
        for st in 0..<cfg.vqStages { codes.append(try be.downloadInt32(try ws.get("vq.sidx\(st)", B, .int32), offset: 0, count: B)) }
        stats.codeIndices = codes
        var vq = 0.0
        let sum = try ws.get("reasoner.sum", 1)
        let distanceNames = (0..<cfg.vqHeads).map { "vq.dist\($0)" } + (0..<cfg.vqStages).map { "vq.sdist\($0)" }
        for name in distanceNames {
            try be.sum(try ws.get(name, B), count: B, out: sum)
            vq += Double(try be.download(sum)[0])
        }
        stats.vqLoss = vq * Double(1 + cfg.vqBeta) / Double(Dc * B) * Double(loss.lambdaVQ)
        let distances = try distanceNames.map { try be.download(try ws.get($0, B), offset: 0, count: B) }
        let outW = cfg.outputWidth
        let logits = try be.download(try ws.get("ctrl.out", B * outW), offset: 0, count: B * outW)
        var preds: [Prediction] = []
        preds.reserveCapacity(B)
        var entropy = 0.0
        for b in 0..<B {
            let r = rows[(b * W)..<((b + 1) * W)].map { $0 }
            stats.answerLoss += Double(r[0]) / Double(B)
            stats.stopLoss += Double(r[1]) * Double(loss.lambdaStop) / Double(B)
            entropy += Double(r[2]) / Double(B)
            if r[3] > 0.5 { stats.correct += 1 }
            let slotA = Int(trace[TW * b]), slotB = Int(trace[TW * b + 1]), slotC = Int(trace[TW * b + 4])
            let unary = StepOp(rawValue: Int(trace[TW * b + 2])) ?? .identity
            func value(_ slot: Int) -> Int? {
                guard slot >= 0, slot < cfg.slots, numbers[(b * cfg.slots + slot) * cfg.places] >= 0 else { return nil }
                let d = (0..<cfg.places).map { Int(numbers[(b * cfg.slots + slot) * cfg.places + $0]) }
                return Digits(digits: d).value
            }
            let t = ReasoningTrace(operandA: value(slotA), operandB: value(slotB), slotA: slotA, slotB: slotB, unary: unary,
                                   relation: Relation(rawValue: Int(trace[TW * b + 3])) ?? .equal,
                                   pStop: r[8], codes: codes.map { Int($0[b]) },
                                   operandC: unary.isBinary ? value(slotC) : nil, slotC: slotC)
            let present = (0..<cfg.slots).map { numbers[(b * cfg.slots + $0) * cfg.places] >= 0 }
            let confidence = Self.programConfidence(row: logits[(b * outW)..<((b + 1) * outW)], present: present,
                                                    slotA: slotA, slotB: slotB, slotC: slotC, unary: unary.rawValue,
                                                    relation: Int(trace[TW * b + 3]), isNumber: r[4] > 0.5, slots: cfg.slots,
                                                    offeredOps: offeredOps, offeredRelations: offeredRelations)
            preds.append(Prediction(isNumber: r[4] > 0.5, yes: r[5] > 0.5, pYes: r[5], number: Int(r[6]), trace: t,
                                    programConfidence: confidence, codeDistances: distances.map { $0[b] }))
        }
        if batch.targets == nil { stats.correct = 0; stats.answerLoss = 0; stats.stopLoss = 0 }
        stats.loss = stats.answerLoss + stats.stopLoss + stats.vqLoss + stats.programLoss - Double(loss.lambdaEntropy) * entropy
        return (stats, preds)
    }

    /// The product of the softmax probabilities of the program's argmax choices (see
    /// `Prediction.programConfidence`); pointers are normalised over the slots holding a number.
    /// row: [outW], one question's controller output.
    static func programConfidence(row: ArraySlice<Float>, present: [Bool], slotA: Int, slotB: Int, slotC: Int,
                                  unary: Int, relation: Int, isNumber: Bool, slots S: Int,
                                  offeredOps: Int32 = ReasonerSpec.allOps,
                                  offeredRelations: Int32 = ReasonerSpec.allRelations) -> Float {
        let r = Array(row)
        func prob(_ lo: Int, _ count: Int, _ chosen: Int, allowed: (Int) -> Bool = { _ in true }) -> Float {
            guard chosen >= 0, chosen < count, allowed(chosen) else { return 0 }
            let idx = (0..<count).filter(allowed)
            let m = idx.map { r[lo + $0] }.max() ?? 0
            let z = idx.reduce(Float(0)) { $0 + exp(r[lo + $1] - m) }
            return exp(r[lo + chosen] - m) / z
        }
        let U = ReasonerSpec.opCount, R = ReasonerSpec.relationCount
        var p = prob(0, S, slotA) { present[$0] }
        p *= prob(3 * S, U, unary) { (offeredOps >> $0) & 1 != 0 }
        if StepOp(rawValue: unary)?.isBinary == true { p *= prob(2 * S, S, slotC) { present[$0] } }
        if !isNumber {
            // Even and odd never read B: where it points costs them no confidence.
            if Relation(rawValue: relation)?.readsB != false { p *= prob(S, S, slotB) { present[$0] } }
            p *= prob(3 * S + U, R, relation) { (offeredRelations >> $0) & 1 != 0 }
        }
        return p
    }
}
