import Compute

/// The multi-VQ bottleneck: P parallel heads and S residual stages over the reader u: [B, D].
/// Head p: z_p = proj_p(u): [B, Dc] -> its nearest code e_p; residual: r_0 = res(u),
/// e_s = nearest(r_s), r_{s+1} = r_s - e_s, q_R = sum_s e_s. The controller input is
/// hin = [u; e_1..e_P; q_R]: [B, D + (P+1) Dc].
extension ConceptModel {
    /// Assembles hin: [B, hinW] in place; during training also counts which codes were used.
    func quantizerForward(reader: any DeviceBuffer, rows B: Int, training: Bool) throws {
        let cfg = config, be = backend, D = cfg.dModel, Dc = cfg.codeDim, K = cfg.codes
        let hinW = D + cfg.codeVectorWidth
        let hin = try ws.get("ctrl.in", B * hinW)
        try be.copy2D(reader, srcOffset: 0, srcStride: D, to: hin, dstOffset: 0, dstStride: hinW, rows: B, cols: D)
        let ones = try ws.get("vq.ones", B)
        if training { try be.fill(ones, value: 1, offset: 0, count: B) }
        for (p, proj) in vqProj.enumerated() {
            let z = try ws.get("vq.z\(p)", B * Dc), e = try ws.get("vq.e\(p)", B * Dc)
            let idx = try ws.get("vq.idx\(p)", B, .int32), dist = try ws.get("vq.dist\(p)", B)
            try proj.forward(be, x: reader, y: z, rows: B)
            try be.vqNearest(x: z, codebook: headBooks[p].read(), indices: idx, distances: dist, rows: B, codes: K, dim: Dc)
            try be.embeddingGather(table: headBooks[p].read(), ids: idx, out: e, count: B, dim: Dc)
            try be.copy2D(e, srcOffset: 0, srcStride: Dc, to: hin, dstOffset: D + p * Dc, dstStride: hinW, rows: B, cols: Dc)
            if training { try be.embeddingScatterAdd(dOut: ones, ids: idx, dTable: pendingUsage[p], count: B, dim: 1) }
        }
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
    }

    /// dHin: [B, hinW] -> dReader: [B, D] (its first D columns, then every projection's share)
    /// and the codebooks' gradients. The VQ loss is lambda (|sg(z) - e|^2 + beta |z - sg(e)|^2) / Dc,
    /// mean over the batch (`vqScale` = 2 lambda lossScale / (Dc B)). Training routes the gradient
    /// at a code to z (straight-through); `exactGradients` gives the true one.
    func quantizerBackward(reader: any DeviceBuffer, dHin: any DeviceBuffer, dReader: any DeviceBuffer, rows B: Int,
                           vqScale: Float) throws {
        let cfg = config, be = backend, D = cfg.dModel, Dc = cfg.codeDim
        let hinW = D + cfg.codeVectorWidth
        try be.copy2D(dHin, srcOffset: 0, srcStride: hinW, to: dReader, dstOffset: 0, dstStride: D, rows: B, cols: D)
        let straightThrough = !exactGradients
        let encW = vqScale * (exactGradients ? 1 + cfg.vqBeta : cfg.vqBeta)
        let bookW = vqScale * (exactGradients ? 1 + cfg.vqBeta : 1)
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

    /// Re-seeds codes no question used in `usage` with projections of the given batch's readings,
    /// so a codebook never collapses to a few codes. Returns how many codes were restarted.
    public func restartDeadCodes(usage: [[Int]], batch: ModelBatch, rng: inout ModelRNG) throws -> Int {
        guard usage.count == headBooks.count + stageBooks.count else { return 0 }
        _ = try forward(batch, hard: true)
        let B = batch.size, Dc = config.codeDim, D = config.dModel
        let u = try ws.get("words.u", B * D), zBuf = try ws.get("vq.z0", B * Dc)
        var restarted = 0
        for (p, book) in (headBooks + stageBooks).enumerated() {
            let dead = usage[p].indices.filter { usage[p][$0] == 0 }
            if dead.isEmpty { continue }
            // Stage codebooks restart from the first stage's input; good enough to revive them.
            try (p < vqProj.count ? vqProj[p] : resProj).forward(backend, x: u, y: zBuf, rows: B)
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
