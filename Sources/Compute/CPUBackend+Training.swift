import CKernels
import Foundation

extension CPUBackend {
    public func mul(_ a: any DeviceBuffer, _ b: any DeviceBuffer, _ y: any DeviceBuffer, count: Int) throws {
        let A = try cpu(a, .float32, "a"), B = try cpu(b, .float32, "b"), Y = try cpu(y, .float32, "y")
        try need(A, count, "a"); try need(B, count, "b"); try need(Y, count, "y")
        let ap = A.floats, bp = B.floats, yp = Y.floats
        parallelFor(count, grain: 32768) { r in for i in r { yp[i] = ap[i] * bp[i] } }
    }

    public func sumOfSquares(_ x: any DeviceBuffer, count: Int, out: any DeviceBuffer) throws {
        let X = try cpu(x, .float32, "x"), O = try cpu(out, .float32, "out")
        try need(X, count, "x"); try need(O, 1, "out")
        var total = 0.0
        var i = 0
        while i < count {
            let end = min(count, i + 4096)
            var s: Float = 0
            for j in i..<end { let v = X.floats[j]; s += v * v }
            total += Double(s)
            i = end
        }
        O.floats[0] = Float(total)
    }

    public func crossEntropy(logits: any DeviceBuffer, targets: any DeviceBuffer, losses: any DeviceBuffer,
                             dLogits: any DeviceBuffer, rows: Int, classes: Int, smoothing: Float, gradScale: Float) throws {
        let L = try cpu(logits, .float32, "logits"), T = try cpu(targets, .int32, "targets")
        let O = try cpu(losses, .float32, "losses"), D = try cpu(dLogits, .float32, "dLogits")
        try need(L, rows * classes, "logits"); try need(T, rows, "targets")
        try need(O, rows, "losses"); try need(D, rows * classes, "dLogits")
        for i in 0..<rows {
            let t = Int(T.ints[i])
            guard t < classes else {
                throw ComputeError.invalidArgument("target \(t) at row \(i) is outside 0..<\(classes)")
            }
        }
        let lp = L.floats, tp = T.ints, op = O.floats, dp = D.floats
        let off = smoothing / Float(classes), on = 1 - smoothing + off
        parallelFor(rows, grain: max(1, 4096 / max(1, classes))) { rr in
            for i in rr {
                let row = lp + i * classes, d = dp + i * classes
                let t = Int(tp[i])
                if t < 0 {
                    op[i] = 0
                    for j in 0..<classes { d[j] = 0 }
                    continue
                }
                var mx = -Float.infinity
                for j in 0..<classes { mx = max(mx, row[j]) }
                var s: Float = 0
                for j in 0..<classes { s += expf(row[j] - mx) }
                let lse = mx + logf(s)
                var loss: Float = 0
                for j in 0..<classes {
                    let target = j == t ? on : off
                    let logp = row[j] - lse
                    loss -= target * logp
                    d[j] = gradScale * (expf(logp) - target)
                }
                op[i] = loss
            }
        }
    }

    public func adamW(param: any DeviceBuffer, grad: any DeviceBuffer, m: any DeviceBuffer, v: any DeviceBuffer,
                      count: Int, lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float,
                      step: Int, gradScale: Float) throws {
        let P = try cpu(param, .float32, "param"), G = try cpu(grad, .float32, "grad")
        let M = try cpu(m, .float32, "m"), V = try cpu(v, .float32, "v")
        try need(P, count, "param"); try need(G, count, "grad"); try need(M, count, "m"); try need(V, count, "v")
        guard step >= 1 else { throw ComputeError.invalidArgument("adamW step \(step) must be >= 1") }
        let bc1 = 1 - powf(beta1, Float(step)), bc2 = 1 - powf(beta2, Float(step))
        let pp = P.floats, gp = G.floats, mp = M.floats, vp = V.floats
        parallelFor(count, grain: 16384) { r in
            ck_adamw(pp, gp, mp, vp, r.lowerBound, r.upperBound, lr, beta1, beta2, eps, weightDecay, bc1, bc2, gradScale)
        }
    }

    public func emaUpdate(ema: any DeviceBuffer, param: any DeviceBuffer, decay: Float, count: Int) throws {
        let E = try cpu(ema, .float32, "ema"), P = try cpu(param, .float32, "param")
        try need(E, count, "ema"); try need(P, count, "param")
        let ep = E.floats, pp = P.floats
        parallelFor(count, grain: 32768) { r in for i in r { ep[i] = decay * ep[i] + (1 - decay) * pp[i] } }
    }

    public func vqNearest(x: any DeviceBuffer, codebook: any DeviceBuffer, indices: any DeviceBuffer,
                          distances: any DeviceBuffer, rows: Int, codes: Int, dim: Int) throws {
        let X = try cpu(x, .float32, "x"), C = try cpu(codebook, .float32, "codebook")
        let I = try cpu(indices, .int32, "indices"), D = try cpu(distances, .float32, "distances")
        try need(X, rows * dim, "x"); try need(C, codes * dim, "codebook")
        try need(I, rows, "indices"); try need(D, rows, "distances")
        guard codes > 0 else { throw ComputeError.invalidArgument("vqNearest needs at least one code") }
        let xp = X.floats, cp = C.floats, ip = I.ints, dp = D.floats
        parallelFor(rows, grain: max(1, 65536 / max(1, codes * dim))) { rr in
            for i in rr {
                let row = xp + i * dim
                var best = Float.infinity, bestIdx = 0
                for c in 0..<codes {
                    let code = cp + c * dim
                    var d: Float = 0
                    for j in 0..<dim { let t = row[j] - code[j]; d += t * t }
                    if d < best { best = d; bestIdx = c }
                }
                ip[i] = Int32(bestIdx); dp[i] = best
            }
        }
    }

    // Attention works per (batch, head) on tiny T, so vector loops over the packed layout
    // (CKernels/attention.c) beat reshaping for BLAS; the (b, h) tiles split across threads.
    public func attentionForward(qkv: any DeviceBuffer, lengths: any DeviceBuffer, starts: any DeviceBuffer,
                                 probs: any DeviceBuffer, out: any DeviceBuffer, rows: Int, batch B: Int, seq T: Int,
                                 heads H: Int, headDim Dh: Int) throws {
        let Q = try cpu(qkv, .float32, "qkv"), Ln = try cpu(lengths, .int32, "lengths"), S = try cpu(starts, .int32, "starts")
        let P = try cpu(probs, .float32, "probs"), O = try cpu(out, .float32, "out")
        try need(Q, rows * 3 * H * Dh, "qkv"); try need(O, rows * H * Dh, "out")
        try checkSequences(lengths: Ln, starts: S, rows: rows, batch: B, seq: T)
        try need(P, B * H * T * T, "probs")
        let qp = Q.floats, lp = Ln.ints, sp = S.ints, pp = P.floats, op = O.floats
        parallelFor(B * H, grain: max(1, 4096 / max(1, T * T * Dh))) { r in
            ck_attention_forward(qp, lp, sp, pp, op, T, H, Dh, r.lowerBound, r.upperBound)
        }
    }

    public func attentionBackward(qkv: any DeviceBuffer, lengths: any DeviceBuffer, starts: any DeviceBuffer,
                                  probs: any DeviceBuffer, dOut: any DeviceBuffer, dQKV: any DeviceBuffer, rows: Int,
                                  batch B: Int, seq T: Int, heads H: Int, headDim Dh: Int) throws {
        let Q = try cpu(qkv, .float32, "qkv"), Ln = try cpu(lengths, .int32, "lengths"), S = try cpu(starts, .int32, "starts")
        let P = try cpu(probs, .float32, "probs"), DO = try cpu(dOut, .float32, "dOut"), DQ = try cpu(dQKV, .float32, "dQKV")
        try need(Q, rows * 3 * H * Dh, "qkv"); try need(DO, rows * H * Dh, "dOut"); try need(DQ, rows * 3 * H * Dh, "dQKV")
        try checkSequences(lengths: Ln, starts: S, rows: rows, batch: B, seq: T)
        try need(P, B * H * T * T, "probs")
        let qp = Q.floats, lp = Ln.ints, sp = S.ints, pp = P.floats, dop = DO.floats, dqp = DQ.floats
        parallelFor(B * H, grain: max(1, 4096 / max(1, T * T * Dh))) { r in
            ck_attention_backward(qp, lp, sp, pp, dop, dqp, T, H, Dh, r.lowerBound, r.upperBound)
        }
    }

    /// Every sequence's rows lie inside the buffers: the kernels index with them unchecked.
    private func checkSequences(lengths: CPUBuffer, starts: CPUBuffer, rows: Int, batch B: Int, seq T: Int) throws {
        try need(lengths, B, "lengths"); try need(starts, B, "starts")
        for b in 0..<B {
            let start = Int(starts.ints[b]), len = max(1, min(T, Int(lengths.ints[b])))
            guard start >= 0, start + len <= rows else {
                throw ComputeError.invalidArgument("attention: sequence \(b) spans rows \(start)..<\(start + len), outside the \(rows) rows given")
            }
        }
    }
}
