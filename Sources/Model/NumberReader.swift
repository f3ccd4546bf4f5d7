import Compute

/// The number reader: each number of the question is read from its own encoder states, and the
/// same small network scores it for every role, so which number is operand A, B or C is decided
/// by the words around that number ("away from {a}", "to get {a}", "Is {b} ..."), not by which
/// slot a whole-question summary maps a sentence's start to.
///
/// n_s = mean of xf over the digit tokens of number s: [B, S, D]; h_s = gelu(fc1(n_s)): [B*S, H];
/// role scores r_s = h_s W_roles: [B*S, 3] (written transposed, [3, B*S], so role r's block is
/// a [B, S] matrix for the pointer columns). The step-1 op stays with the summary (Round 13:
/// op votes per number, summed, lost held-out phrasings of missing_addend).
///
/// Docs/RESULTS.md, Round 13: the summary's pointer columns read "How much is ..." as "the first
/// number is A" in "How much is left if you take 42 away from 73?".
extension ConceptModel {
    /// [B, S, T]: 1/n on each of the n digit tokens of number s (slots are 1-based in the batch).
    static func numberWeights(_ batch: ModelBatch, slots S: Int) -> [Float] {
        let T = batch.seq
        var w = [Float](repeating: 0, count: batch.size * S * T)
        for b in 0..<batch.size {
            var counts = [Int](repeating: 0, count: S)
            for t in 0..<T {
                let s = Int(batch.slots[b * T + t])
                if s >= 1, s <= S { counts[s - 1] += 1 }
            }
            for t in 0..<T {
                let s = Int(batch.slots[b * T + t])
                if s >= 1, s <= S { w[(b * S + s - 1) * T + t] = 1 / Float(counts[s - 1]) }
            }
        }
        return w
    }

    /// Reads the numbers (needs xf from the encoder); leaves the roles [3, B*S] in the workspace
    /// for `numbersWrite`.
    func numbersForward(_ batch: ModelBatch) throws {
        let cfg = config, be = backend, B = batch.size, T = batch.seq, D = cfg.dModel, S = cfg.slots
        let H = cfg.controllerHidden
        let w = try ws.get("num.w", B * S * T)
        try be.upload(Self.numberWeights(batch, slots: S), to: w)
        let n = try ws.get("num.n", B * S * D), c1 = try ws.get("num.c1", B * S * H), h = try ws.get("num.h", B * S * H)
        try be.gemmStridedBatched(transA: false, transB: false, m: S, n: D, k: T, alpha: 1,
                                  a: w, aOffset: 0, lda: T, strideA: S * T, b: try ws.get("xf", B * T * D), bOffset: 0,
                                  ldb: D, strideB: T * D, beta: 0, c: n, cOffset: 0, ldc: D, strideC: S * D, batch: B)
        try be.gemm(m: B * S, n: H, k: D, a: n, b: num1.w.read(), c: c1)
        try be.addBiasGelu(c1, bias: num1.b.read(), h, rows: B * S, cols: H)
        // rolesT [3, B*S] = W_roles^T [3, H] x h^T [H, B*S]
        try be.gemm(transA: true, transB: true, m: 3, n: B * S, k: H, a: numRoles.read(), b: h,
                    c: try ws.get("num.rolesT", 3 * B * S))
    }

    /// Writes the role scores into out's pointer columns.
    func numbersWrite(out: any DeviceBuffer, rows B: Int) throws {
        let be = backend, S = config.slots, outW = config.outputWidth
        let rolesT = try ws.get("num.rolesT", 3 * B * S)
        for r in 0..<3 {
            try be.copy2D(rolesT, srcOffset: r * B * S, srcStride: S, to: out, dstOffset: r * S, dstStride: outW, rows: B, cols: S)
        }
    }

    /// dPointers: [B, 3S] (the pointer columns' gradient) -> the reader's weights and dn: [B, S, D],
    /// which `numbersBackwardIntoStates` spreads over xf.
    func numbersBackward(dPointers: any DeviceBuffer, rows B: Int) throws {
        let cfg = config, be = backend, D = cfg.dModel, S = cfg.slots, H = cfg.controllerHidden
        let dRolesT = try ws.get("num.drolesT", 3 * B * S)
        for r in 0..<3 {
            try be.copy2D(dPointers, srcOffset: r * S, srcStride: 3 * S, to: dRolesT, dstOffset: r * B * S, dstStride: S, rows: B, cols: S)
        }
        let h = try ws.get("num.h", B * S * H), c1 = try ws.get("num.c1", B * S * H), dh = try ws.get("num.dh", B * S * H)
        let rolesW = try numRoles.read()
        try params.accumulatingGrads([numRoles]) { g in
            // dW_roles [H, 3] += h^T [H, B*S] x dRolesT^T [B*S, 3]
            try be.gemm(transA: true, transB: true, m: H, n: 3, k: B * S, a: h, b: dRolesT, beta: 1, c: g[0])
        }
        // dh = dRolesT^T [B*S, 3] x W_roles^T [3, H]
        try be.gemm(transA: true, transB: true, m: B * S, n: H, k: 3, a: dRolesT, b: rolesW, c: dh)
        try be.geluBackward(x: c1, dY: dh, dX: dh, count: B * S * H)
        try num1.backward(be, x: try ws.get("num.n", B * S * D), dY: dh, dX: try ws.get("num.dn", B * S * D), rows: B * S)
    }

    /// dxf[b] [T, D] += w[b]^T [T, S] x dn[b] [S, D]
    func numbersBackwardIntoStates(dxf: any DeviceBuffer, rows B: Int, seq T: Int) throws {
        let D = config.dModel, S = config.slots
        try backend.gemmStridedBatched(transA: true, transB: false, m: T, n: D, k: S, alpha: 1,
                                       a: try ws.get("num.w", B * S * T), aOffset: 0, lda: T, strideA: S * T,
                                       b: try ws.get("num.dn", B * S * D), bOffset: 0, ldb: D, strideB: S * D,
                                       beta: 1, c: dxf, cOffset: 0, ldc: D, strideC: T * D, batch: B)
    }
}
