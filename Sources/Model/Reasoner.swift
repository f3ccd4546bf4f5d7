import Foundation

/// The typed reasoner and unified decoder for one question.
///
/// Program: step 1 applies a NUM op to operand A; STOP after step 1 answers that NUM; otherwise
/// step 2 relates it to operand B and answers the BOOL. Operands are chosen by pointers over the
/// numbers in the question. Training takes the soft mixture over pointers and ops (exact and
/// differentiable, since every op's output is exact for each choice); eval takes the argmax.
/// The decoder turns the BOOL into yes/no logits and the NUM into per-place digit logits, plus
/// learned terms from the controller, scaled by a learned gain.
enum Reasoner {
    struct Result {
        var isNumber: Bool
        var yes: Bool
        var pYes: Float
        var number: Int
        var trace: ReasoningTrace
        var answerLoss: Float = 0
        var stopLoss: Float = 0
        var dLogits: [Float]
        var dGain: Float = 0
        var entropy: Float = 0
    }

    static let floor: Float = 1e-4

    static func softmax(_ x: ArraySlice<Float>, mask: [Bool]? = nil) -> [Float] {
        var mx = -Float.infinity
        for (i, v) in x.enumerated() where mask?[i] ?? true { mx = max(mx, v) }
        if mx == -Float.infinity { return [Float](repeating: 0, count: x.count) }
        var out = [Float](repeating: 0, count: x.count)
        var s: Float = 0
        for (i, v) in x.enumerated() where mask?[i] ?? true { out[i] = expf(v - mx); s += out[i] }
        return out.map { $0 / s }
    }

    static func oneHotArgmax(_ p: [Float]) -> [Float] {
        guard let best = p.indices.max(by: { p[$0] < p[$1] }), p[best] > 0 else { return p }
        var out = [Float](repeating: 0, count: p.count)
        out[best] = 1
        return out
    }

    /// dlogits of a softmax group given d(probabilities).
    static func softmaxBackward(_ p: [Float], _ dp: [Float]) -> [Float] {
        var dot: Float = 0
        for i in p.indices { dot += p[i] * dp[i] }
        return p.indices.map { p[$0] * (dp[$0] - dot) }
    }

    static func run(config cfg: ModelConfig, logits: [Float], numbers: [Digits?], gain g: Float, hard: Bool,
                    enabled: Bool, target: ModelTarget?, loss: LossSettings) -> Result {
        let NS = cfg.slots, U = UnaryOp.allCases.count, R = Relation.allCases.count, PL = cfg.places
        let oA = 0, oB = NS, oU = 2 * NS, oR = oU + U, oStop = oR + R, oYN = oStop + 1, oDig = oYN + 2
        let present = numbers.map { $0 != nil }
        var piA = softmax(logits[oA..<oB], mask: present)
        var piB = softmax(logits[oB..<oU], mask: present)
        var wU = softmax(logits[oU..<oR])
        var wR = softmax(logits[oR..<oStop])
        var pStop = 1 / (1 + expf(-logits[oStop]))
        if hard {
            piA = oneHotArgmax(piA); piB = oneHotArgmax(piB); wU = oneHotArgmax(wU); wR = oneHotArgmax(wR)
            pStop = pStop > 0.5 ? 1 : 0
        }

        // u[i][k] = step-1 op k applied to number i.
        let u: [[Digits?]] = numbers.map { n in UnaryOp.allCases.map { op in n.flatMap { op.apply($0) } } }
        // BOOL p = sum_ijkr piA_i piB_j wU_k wR_r [rel_r(u_ik, n_j)], with its partials.
        var p: Float = 0
        var gA = [Float](repeating: 0, count: NS), gB = [Float](repeating: 0, count: NS)
        var gU = [Float](repeating: 0, count: U), gR = [Float](repeating: 0, count: R)
        var dist = [Float](repeating: 0, count: PL * 10)
        if enabled {
            for i in 0..<NS where piA[i] > 0 || !hard {
                guard numbers[i] != nil else { continue }
                for j in 0..<NS {
                    guard let nj = numbers[j] else { continue }
                    for k in 0..<U {
                        guard let uik = u[i][k] else { continue }
                        for r in 0..<R where Relation.allCases[r].holds(uik, nj) {
                            let w = piA[i] * piB[j] * wU[k] * wR[r]
                            p += w
                            gA[i] += piB[j] * wU[k] * wR[r]
                            gB[j] += piA[i] * wU[k] * wR[r]
                            gU[k] += piA[i] * piB[j] * wR[r]
                            gR[r] += piA[i] * piB[j] * wU[k]
                        }
                    }
                }
                for k in 0..<U {
                    guard let uik = u[i][k] else { continue }
                    for pl in 0..<PL { dist[pl * 10 + uik.digits[pl]] += piA[i] * wU[k] }
                }
            }
        } else {
            p = 0.5
        }

        // Decoder.
        let pc = min(max(p, floor), 1 - floor)
        let typedYes = enabled ? logf(pc) - logf(1 - pc) : 0
        let yn = [logits[oYN], logits[oYN + 1] + g * typedYes]
        let pyn = softmax(yn[0..<2])
        var digitLogits = [Float](repeating: 0, count: PL * 10)
        for i in 0..<(PL * 10) { digitLogits[i] = logits[oDig + i] + g * logf(dist[i] + floor) }
        var number = 0
        var placeProbs: [[Float]] = []
        for pl in stride(from: PL - 1, through: 0, by: -1) {
            let probs = softmax(digitLogits[(pl * 10)..<(pl * 10 + 10)])
            let best = probs.indices.max(by: { probs[$0] < probs[$1] })!
            number = number * 10 + best
            placeProbs.insert(probs, at: 0)
        }
        let slotA = piA.indices.max(by: { piA[$0] < piA[$1] }) ?? 0
        let slotB = piB.indices.max(by: { piB[$0] < piB[$1] }) ?? 0
        let trace = ReasoningTrace(
            operandA: numbers[slotA]?.value, operandB: numbers[slotB]?.value, slotA: slotA, slotB: slotB,
            unary: UnaryOp(rawValue: wU.indices.max(by: { wU[$0] < wU[$1] })!)!,
            relation: Relation(rawValue: wR.indices.max(by: { wR[$0] < wR[$1] })!)!,
            pStop: pStop, codes: [])
        var res = Result(isNumber: pStop > 0.5, yes: pyn[1] > 0.5, pYes: pyn[1], number: number, trace: trace,
                         dLogits: [Float](repeating: 0, count: logits.count))
        guard let target else { return res }

        // Losses and gradients (soft mode only is trained; hard mode still reports the loss).
        let eps = loss.labelSmoothing
        var isNum: Float = 0
        var dP: Float = 0
        var dDist = [Float](repeating: 0, count: PL * 10)
        switch target {
        case let .yesNo(y):
            let off = eps / 2, on = 1 - eps + off
            let q: [Float] = y ? [off, on] : [on, off]
            res.answerLoss = -(q[0] * logf(max(pyn[0], 1e-30)) + q[1] * logf(max(pyn[1], 1e-30)))
            let d0 = pyn[0] - q[0], d1 = pyn[1] - q[1]
            res.dLogits[oYN] = d0
            res.dLogits[oYN + 1] = d1
            res.dGain += d1 * typedYes
            if enabled && p > floor && p < 1 - floor { dP = d1 * g / (p * (1 - p)) }
        case let .number(n):
            isNum = 1
            let digits = Digits(n, places: PL)?.digits
            let off = eps / 10, on = 1 - eps + off
            for pl in 0..<PL {
                let probs = placeProbs[pl]
                for d in 0..<10 {
                    // A number too wide for `places` has no right digits: every class is wrong.
                    let q: Float = digits.map { $0[pl] == d ? on : off } ?? 0.1
                    res.answerLoss -= q * logf(max(probs[d], 1e-30)) / Float(PL)
                    let dl = (probs[d] - q) / Float(PL)
                    res.dLogits[oDig + pl * 10 + d] = dl
                    res.dGain += dl * logf(dist[pl * 10 + d] + floor)
                    dDist[pl * 10 + d] = dl * g / (dist[pl * 10 + d] + floor)
                }
            }
        }
        res.stopLoss = -(isNum * logf(max(pStop, 1e-30)) + (1 - isNum) * logf(max(1 - pStop, 1e-30)))
        res.dLogits[oStop] = loss.lambdaStop * (pStop - isNum)

        if enabled && !hard {
            var dpiA = gA.map { $0 * dP }
            let dpiB = gB.map { $0 * dP }
            var dwU = gU.map { $0 * dP }
            var dwR = gR.map { $0 * dP }
            for i in 0..<NS where numbers[i] != nil {
                for k in 0..<U {
                    guard let uik = u[i][k] else { continue }
                    var s: Float = 0
                    for pl in 0..<PL { s += dDist[pl * 10 + uik.digits[pl]] }
                    dpiA[i] += wU[k] * s
                    dwU[k] += piA[i] * s
                }
            }
            // Entropy bonus -lambda * H(w): dH/dw_k = -(log w_k + 1).
            if loss.lambdaEntropy > 0 {
                for k in 0..<U where wU[k] > 0 { dwU[k] += loss.lambdaEntropy * (logf(wU[k]) + 1) }
                for r in 0..<R where wR[r] > 0 { dwR[r] += loss.lambdaEntropy * (logf(wR[r]) + 1) }
                res.entropy = -(wU + wR).reduce(0) { $1 > 0 ? $0 + $1 * logf($1) : $0 }
            }
            for (off, grad) in [(oA, softmaxBackward(piA, dpiA)), (oB, softmaxBackward(piB, dpiB)),
                                (oU, softmaxBackward(wU, dwU)), (oR, softmaxBackward(wR, dwR))] {
                for (i, v) in grad.enumerated() { res.dLogits[off + i] = v }
            }
        }
        return res
    }
}
