import Compute

/// The word reader: an order-free bag of the question's words, u = LN(mean of a word table over
/// its word tokens): [B, D]. The VQ heads, the relation, STOP and the decoder read it, so which
/// relation a question asks for is a function of the words it uses, not of their arrangement;
/// word order still decides which number is which operand (the pointer controller reads the
/// encoder's summary). Docs/RESULTS.md, Round 7: relations from the words beat the summary on
/// held-out phrasings; Round 9: it also keeps the fixed held-out sentences at 1.000 where the
/// summary reader drops to 0.715 on a concept.
extension ConceptModel {
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

    /// e = words[token]: [B, T, D]; mean[b] = w[b] [1, T] x e[b] [T, D]; u = LN(mean): [B, D].
    func wordsForward(_ batch: ModelBatch) throws -> any DeviceBuffer {
        let be = backend, B = batch.size, T = batch.seq, D = config.dModel
        let w = try ws.get("words.w", B * T), e = try ws.get("words.e", B * T * D)
        let mean = try ws.get("words.mean", B * D), u = try ws.get("words.u", B * D)
        try be.embeddingGather(table: bowEmb.read(), ids: try ws.get("ids.tokens", B * T, .int32), out: e, count: B * T, dim: D)
        try be.upload(Self.wordWeights(batch), to: w)
        try be.gemmStridedBatched(transA: false, transB: false, m: 1, n: D, k: T, alpha: 1,
                                  a: w, aOffset: 0, lda: T, strideA: T, b: e, bOffset: 0, ldb: D, strideB: T * D,
                                  beta: 0, c: mean, cOffset: 0, ldc: D, strideC: D, batch: B)
        try bowLN.forward(be, x: mean, y: u, mean: try ws.get("words.m", B), rstd: try ws.get("words.r", B), rows: B)
        return u
    }

    /// du: [B, D] -> dmean through the LayerNorm -> de[b] = w[b]^T [T, 1] x dmean[b] [1, D] -> the
    /// word table's gradient.
    func wordsBackward(rows B: Int, seq T: Int, du: any DeviceBuffer) throws {
        let be = backend, D = config.dModel
        let w = try ws.get("words.w", B * T), de = try ws.get("words.e.grad", B * T * D)
        let dmean = try ws.get("words.mean.grad", B * D)
        try bowLN.backward(be, x: try ws.get("words.mean", B * D), mean: try ws.get("words.m", B),
                           rstd: try ws.get("words.r", B), dY: du, dX: dmean, rows: B)
        try be.gemmStridedBatched(transA: true, transB: false, m: T, n: D, k: 1, alpha: 1,
                                  a: w, aOffset: 0, lda: T, strideA: T, b: dmean, bOffset: 0, ldb: D, strideB: D,
                                  beta: 0, c: de, cOffset: 0, ldc: D, strideC: T * D, batch: B)
        try params.accumulatingGrads([bowEmb]) { g in
            try be.embeddingScatterAdd(dOut: de, ids: try ws.get("ids.tokens", B * T, .int32), dTable: g[0],
                                       count: B * T, dim: D)
        }
    }
}
