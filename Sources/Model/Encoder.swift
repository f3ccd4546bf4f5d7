import Compute

/// The encoder: embeddings, transformer layers, final LayerNorm and the summary.
///
/// Digits reach the encoder as one shared "digit" token with its number slot and a
/// digit-or-not place, never their value: which concept is asked and which number is which
/// operand never depend on the numbers themselves, so held-out and out-of-range numbers read like
/// trained ones. The digit values go only to the typed reasoner, which computes on them exactly.
extension ConceptModel {
    /// Uploads the batch (ids, positions, slots, lengths, number digits, targets) and runs
    /// x0 = tok + pos + place + slot: [B, T, D] -> layers -> xf = LN(x): [B, T, D];
    /// s = xf[:, 0]: [B, D] (the [CLS] state). Returns the numbers as read, int32 [B, slots, places].
    func encoderForward(_ batch: ModelBatch) throws -> [Int32] {
        let cfg = config, be = backend
        let B = batch.size, T = batch.seq, D = cfg.dModel, N = B * T
        let ids = try ws.get("ids.tokens", N, .int32), posIds = try ws.get("ids.pos", N, .int32)
        let placeIds = try ws.get("ids.places", N, .int32), slotIds = try ws.get("ids.slots", N, .int32)
        let lengths = try ws.get("ids.lengths", B, .int32), clsIds = try ws.get("ids.cls", B, .int32)
        let numbersBuf = try ws.get("ids.numbers", B * cfg.slots * cfg.places, .int32)
        let targetsBuf = try ws.get("ids.targets", B * 2, .int32)
        let digits = Set(cfg.digitTokenIds)
        try be.upload(batch.tokens.map { digits.contains($0) ? cfg.digitTokenIds[0] : $0 }, to: ids)
        try be.upload(batch.places.map { $0 > 0 ? Int32(1) : Int32(0) }, to: placeIds)
        try be.upload(Self.wordPositions(batch), to: posIds)
        try be.upload(batch.slots.map { min(max($0, 0), Int32(cfg.slots + 1)) }, to: slotIds)
        try be.upload(batch.lengths.map { min(max($0, 1), Int32(T)) }, to: lengths)
        try be.upload((0..<B).map { Int32($0 * T) }, to: clsIds)
        let numbers = readNumbers(batch)
        try be.upload(numbers, to: numbersBuf)
        try be.upload(Self.encodeTargets(batch.targets, count: B), to: targetsBuf)

        // Embeddings: x0[b, t] = tok + pos + place + slot : [B, T, D]
        let x0 = try ws.get("x0", N * D), tmp = try ws.get("embed.tmp", N * D)
        try be.embeddingGather(table: tokEmb.read(), ids: ids, out: x0, count: N, dim: D)
        for (table, tids) in [(posEmb, posIds), (placeEmb, placeIds), (slotEmb, slotIds)] {
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
        try be.embeddingGather(table: xf, ids: clsIds, out: try ws.get("summary", B * D), count: B, dim: D)
        return numbers
    }

    /// ds: [B, D] (the summary's gradient) -> dxf: [B, T, D] at the [CLS] rows, plus the number
    /// reader's gradient at the digit rows -> final LayerNorm
    /// -> layers -> the four embedding tables.
    func encoderBackward(rows B: Int, seq T: Int, ds: any DeviceBuffer) throws {
        let be = backend, D = config.dModel, N = B * T
        let dxf = try ws.get("xf.grad", N * D)
        try be.fill(dxf, value: 0, offset: 0, count: N * D)
        try be.embeddingScatterAdd(dOut: ds, ids: try ws.get("ids.cls", B, .int32), dTable: dxf, count: B, dim: D)
        try numbersBackwardIntoStates(dxf: dxf, rows: B, seq: T)
        let dx = try ws.get("x.grad", N * D)
        try lnF.backward(be, x: try ws.get("x\(layers.count)", N * D), mean: try ws.get("lnf.m", N), rstd: try ws.get("lnf.r", N),
                         dY: dxf, dX: dx, rows: N)
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            try layers[l].backward(be, ws: ws, x: try ws.get(l == 0 ? "x0" : "x\(l)", N * D), dY: dx, dX: dx,
                                   batch: B, seq: T)
        }
        let tables = [tokEmb, posEmb, placeEmb, slotEmb]
        let ids = try ["ids.tokens", "ids.pos", "ids.places", "ids.slots"].map { try ws.get($0, N, .int32) }
        try params.accumulatingGrads(tables) { g in
            for (i, tableIds) in ids.enumerated() {
                try be.embeddingScatterAdd(dOut: dx, ids: tableIds, dTable: g[i], count: N, dim: D)
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
