import Compute

/// The number reader: each number of the question is read from its own encoder states, and the
/// same small network scores it for every role, so which number is operand A, B or C is decided
/// by the words around that number ("away from {a}", "to get {a}", "Is {b} ..."), not by which
/// slot a whole-question summary maps a sentence's start to.
///
/// n_s = mean of xf over the digit tokens of number s: [B, S, D]; h_s = gelu(fc1(n_s)): [B*S, H];
/// role scores r_s = h_s W_roles: [B*S, 3] (written transposed, [3, B*S], so role r's block is
/// a [B, S] matrix for the pointer columns); op votes v_s = h_s W_ops: [B*S, U], summed over the
/// numbers the question has and added to the summary's op logits: "to get {a}" says {a} is a
/// total, which is what tells subtract from add when both are named with "add".
///
/// Docs/RESULTS.md, Round 13: the summary's pointer columns read "How much is ..." as "the first
/// number is A" in "How much is left if you take 42 away from 73?".
extension ConceptModel {
    /// [B, S, T]: 1/n on each of the n digit tokens of number s (slots are 1-based in the batch),
    /// and mask [B, S]: 1 where the question has number s.
    static func numberWeights(_ batch: ModelBatch, slots S: Int) -> (weights: [Float], mask: [Float]) {
        let T = batch.seq
        var w = [Float](repeating: 0, count: batch.size * S * T), mask = [Float](repeating: 0, count: batch.size * S)
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
            for s in 0..<S where counts[s] > 0 { mask[b * S + s] = 1 }
        }
        return (w, mask)
    }

    /// Reads the numbers (needs xf from the encoder); leaves the roles [3, B*S] and the op votes
    /// summed per question [B, U] in the workspace for `numbersWrite`.
    func numbersForward(_ batch: ModelBatch) throws {
        let cfg = config, be = backend, B = batch.size, T = batch.seq, D = cfg.dModel, S = cfg.slots
        let H = cfg.controllerHidden, U = ReasonerSpec.opCount
        let (weights, mask) = Self.numberWeights(batch, slots: S)
        let w = try ws.get("num.w", B * S * T), m = try ws.get("num.mask", B * S)
        try be.upload(weights, to: w)
        try be.upload(mask, to: m)
        let n = try ws.get("num.n", B * S * D), c1 = try ws.get("num.c1", B * S * H), h = try ws.get("num.h", B * S * H)
        try be.gemmStridedBatched(transA: false, transB: false, m: S, n: D, k: T, alpha: 1,
                                  a: w, aOffset: 0, lda: T, strideA: S * T, b: try ws.get("xf", B * T * D), bOffset: 0,
                                  ldb: D, strideB: T * D, beta: 0, c: n, cOffset: 0, ldc: D, strideC: S * D, batch: B)
        try be.gemm(m: B * S, n: H, k: D, a: n, b: num1.w.read(), c: c1)
        try be.addBiasGelu(c1, bias: num1.b.read(), h, rows: B * S, cols: H)
        // rolesT [3, B*S] = W_roles^T [3, H] x h^T [H, B*S]
        try be.gemm(transA: true, transB: true, m: 3, n: B * S, k: H, a: numRoles.read(), b: h,
                    c: try ws.get("num.rolesT", 3 * B * S))
        // votes [B*S, U] = h W_ops; summed[b] [1, U] = mask[b] [1, S] x votes[b] [S, U]
        let votes = try ws.get("num.votes", B * S * U)
        try be.gemm(m: B * S, n: U, k: H, a: h, b: numOps.read(), c: votes)
        try be.gemmStridedBatched(transA: false, transB: false, m: 1, n: U, k: S, alpha: 1,
                                  a: m, aOffset: 0, lda: S, strideA: S, b: votes, bOffset: 0, ldb: U, strideB: S * U,
                                  beta: 0, c: try ws.get("num.opsum", B * U), cOffset: 0, ldc: U, strideC: U, batch: B)
    }

    /// Writes the role scores into out's pointer columns and adds the op votes to its op columns.
    func numbersWrite(out: any DeviceBuffer, rows B: Int) throws {
        let be = backend, S = config.slots, U = ReasonerSpec.opCount, outW = config.outputWidth
        let rolesT = try ws.get("num.rolesT", 3 * B * S)
        for r in 0..<3 {
            try be.copy2D(rolesT, srcOffset: r * B * S, srcStride: S, to: out, dstOffset: r * S, dstStride: outW, rows: B, cols: S)
        }
        let ops = try ws.get("num.ops.tmp", B * U), sum = try ws.get("num.opsum", B * U)
        try be.copy2D(out, srcOffset: 3 * S, srcStride: outW, to: ops, dstOffset: 0, dstStride: U, rows: B, cols: U)
        try be.add(ops, sum, ops, count: B * U)
        try be.copy2D(ops, srcOffset: 0, srcStride: U, to: out, dstOffset: 3 * S, dstStride: outW, rows: B, cols: U)
    }

    /// dPointers: [B, 3S] (the pointer columns' gradient), dOps: [B, U] (the op columns') ->
    /// the reader's weights and dn: [B, S, D], which `numbersBackwardIntoStates` spreads over xf.
    func numbersBackward(dPointers: any DeviceBuffer, dOps: any DeviceBuffer, rows B: Int) throws {
        let cfg = config, be = backend, D = cfg.dModel, S = cfg.slots, H = cfg.controllerHidden, U = ReasonerSpec.opCount
        let dRolesT = try ws.get("num.drolesT", 3 * B * S)
        for r in 0..<3 {
            try be.copy2D(dPointers, srcOffset: r * S, srcStride: 3 * S, to: dRolesT, dstOffset: r * B * S, dstStride: S, rows: B, cols: S)
        }
        let h = try ws.get("num.h", B * S * H), c1 = try ws.get("num.c1", B * S * H), dh = try ws.get("num.dh", B * S * H)
        let m = try ws.get("num.mask", B * S), dVotes = try ws.get("num.dvotes", B * S * U)
        // dVotes[b] [S, U] = mask[b]^T [S, 1] x dOps[b] [1, U]
        try be.gemmStridedBatched(transA: true, transB: false, m: S, n: U, k: 1, alpha: 1,
                                  a: m, aOffset: 0, lda: S, strideA: S, b: dOps, bOffset: 0, ldb: U, strideB: U,
                                  beta: 0, c: dVotes, cOffset: 0, ldc: U, strideC: S * U, batch: B)
        let rolesW = try numRoles.read(), opsW = try numOps.read()
        try params.accumulatingGrads([numRoles, numOps]) { g in
            // dW_roles [H, 3] += h^T [H, B*S] x dRolesT^T [B*S, 3]; dW_ops [H, U] += h^T dVotes
            try be.gemm(transA: true, transB: true, m: H, n: 3, k: B * S, a: h, b: dRolesT, beta: 1, c: g[0])
            try be.gemm(transA: true, m: H, n: U, k: B * S, a: h, b: dVotes, beta: 1, c: g[1])
        }
        // dh = dRolesT^T [B*S, 3] x W_roles^T [3, H] + dVotes W_ops^T
        try be.gemm(transA: true, transB: true, m: B * S, n: H, k: 3, a: dRolesT, b: rolesW, c: dh)
        try be.gemm(transB: true, m: B * S, n: H, k: U, a: dVotes, b: opsW, beta: 1, c: dh)
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
