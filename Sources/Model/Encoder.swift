import Compute

/// The encoder: embeddings, transformer layers, final LayerNorm and the summary.
///
/// Digits reach the encoder as one shared "digit" token with its number slot and a
/// digit-or-not place, never their value: which concept is asked and which number is which
/// operand never depend on the numbers themselves, so held-out and out-of-range numbers read like
/// trained ones. The digit values go only to the typed reasoner, which computes on them exactly.
extension ConceptModel {
    /// Uploads the batch (ids, positions, slots, lengths, number digits, targets) and runs
    /// x0 = tok + pos + place + slot: [Nv, D] -> layers -> LN -> xf: [B, T, D];
    /// s = xf[:, 0]: [B, D] (the [CLS] state). Returns the numbers as read, int32 [B, slots, places].
    ///
    /// Inside the encoder the batch's Nv real tokens are stored back to back without padding
    /// (sequence b from row starts[b]): padding rows would cost every GEMM, LayerNorm and GELU as
    /// much as real ones (a batch is padded to its longest question, about 1.6 times the mean).
    /// Only xf, which the rest of the model reads per position, is laid out [B, T, D] again, with
    /// zero rows at the padding.
    func encoderForward(_ batch: ModelBatch) throws -> [Int32] {
        let cfg = config, be = backend
        let B = batch.size, T = batch.seq, D = cfg.dModel, N = B * T
        let lens = batch.lengths.map { max(1, min(T, Int($0))) }
        let valid = (0..<B).flatMap { b in (0..<lens[b]).map { Int32(b * T + $0) } }
        let Nv = valid.count
        let ids = try ws.get("ids.tokens", N, .int32), clsIds = try ws.get("ids.cls", B, .int32)
        let lengths = try ws.get("ids.lengths", B, .int32), starts = try ws.get("ids.starts", B, .int32)
        let validIds = try ws.get("ids.valid", Nv, .int32)
        let packedIds = try ["enc.tokens", "enc.pos", "enc.places", "enc.slots"].map { try ws.get($0, Nv, .int32) }
        let numbersBuf = try ws.get("ids.numbers", B * cfg.slots * cfg.places, .int32)
        let targetsBuf = try ws.get("ids.targets", B * 2, .int32)
        let digits = Set(cfg.digitTokenIds)
        let tokens = batch.tokens.map { digits.contains($0) ? cfg.digitTokenIds[0] : $0 }
        let places = batch.places.map { $0 > 0 ? Int32(1) : Int32(0) }
        let positions = Self.wordPositions(batch)
        let slots = batch.slots.map { min(max($0, 0), Int32(cfg.slots + 1)) }
        try be.upload(tokens, to: ids)
        for (column, buffer) in zip([tokens, positions, places, slots], packedIds) {
            try be.upload(valid.map { column[Int($0)] }, to: buffer)
        }
        try be.upload(valid, to: validIds)
        try be.upload(lens.map { Int32($0) }, to: lengths)
        var start: Int32 = 0
        try be.upload(lens.map { len in defer { start += Int32(len) }; return start }, to: starts)
        try be.upload((0..<B).map { Int32($0 * T) }, to: clsIds)
        let numbers = readNumbers(batch)
        try be.upload(numbers, to: numbersBuf)
        try be.upload(Self.encodeTargets(batch.targets, count: B), to: targetsBuf)

        // Embeddings: x0 = tok + pos + place + slot : [Nv, D]
        let x0 = try ws.get("x0", Nv * D), tmp = try ws.get("embed.tmp", Nv * D)
        try be.embeddingGather(table: tokEmb.read(), ids: packedIds[0], out: x0, count: Nv, dim: D)
        for (table, tids) in zip([posEmb, placeEmb, slotEmb], packedIds.dropFirst()) {
            try be.embeddingGather(table: table.read(), ids: tids, out: tmp, count: Nv, dim: D)
            try be.add(x0, tmp, x0, count: Nv * D)
        }
        // Encoder: x_{l+1} = layer_l(x_l): [Nv, D]
        var x = x0
        for (l, layer) in layers.enumerated() {
            let y = try ws.get("x\(l + 1)", Nv * D)
            try layer.forward(be, ws: ws, x: x, y: y, lengths: lengths, starts: starts, rows: Nv, batch: B, seq: T)
            x = y
        }
        let packed = try ws.get("xf.packed", Nv * D), mF = try ws.get("lnf.m", Nv), rF = try ws.get("lnf.r", Nv)
        try lnF.forward(be, x: x, y: packed, mean: mF, rstd: rF, rows: Nv)
        // Back to [B, T, D]: each padded row receives at most one packed row, so the scatter-add
        // into zeros is an exact copy.
        let xf = try ws.get("xf", N * D)
        try be.fill(xf, value: 0, offset: 0, count: N * D)
        try be.embeddingScatterAdd(dOut: packed, ids: validIds, dTable: xf, count: Nv, dim: D)
        try be.embeddingGather(table: xf, ids: clsIds, out: try ws.get("summary", B * D), count: B, dim: D)
        packedRows = Nv
        return numbers
    }

    /// ds: [B, D] (the summary's gradient) -> dxf: [B, T, D] at the [CLS] rows -> its real rows
    /// [Nv, D] -> final LayerNorm -> layers -> the four embedding tables.
    func encoderBackward(rows B: Int, seq T: Int, ds: any DeviceBuffer) throws {
        let be = backend, D = config.dModel, N = B * T, Nv = packedRows
        let dxf = try ws.get("xf.grad", N * D)
        try be.fill(dxf, value: 0, offset: 0, count: N * D)
        try be.embeddingScatterAdd(dOut: ds, ids: try ws.get("ids.cls", B, .int32), dTable: dxf, count: B, dim: D)
        let dPacked = try ws.get("xf.packed.grad", Nv * D)
        try be.embeddingGather(table: dxf, ids: try ws.get("ids.valid", Nv, .int32), out: dPacked, count: Nv, dim: D)
        let dx = try ws.get("x.grad", Nv * D)
        try lnF.backward(be, x: try ws.get("x\(layers.count)", Nv * D), mean: try ws.get("lnf.m", Nv),
                         rstd: try ws.get("lnf.r", Nv), dY: dPacked, dX: dx, rows: Nv)
        let lengths = try ws.get("ids.lengths", B, .int32), starts = try ws.get("ids.starts", B, .int32)
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            try layers[l].backward(be, ws: ws, x: try ws.get(l == 0 ? "x0" : "x\(l)", Nv * D), dY: dx, dX: dx,
                                   lengths: lengths, starts: starts, rows: Nv, batch: B, seq: T)
        }
        let tables = [tokEmb, posEmb, placeEmb, slotEmb]
        let ids = try ["enc.tokens", "enc.pos", "enc.places", "enc.slots"].map { try ws.get($0, Nv, .int32) }
        try params.accumulatingGrads(tables) { g in
            for (i, tableIds) in ids.enumerated() {
                try be.embeddingScatterAdd(dOut: dx, ids: tableIds, dTable: g[i], count: Nv, dim: D)
            }
        }
    }

    /// Position ids that count a whole number as one word: the words after a number sit at the
    /// same positions whether it has two digits or three, so longer numbers shift nothing. [B, T]
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
}
