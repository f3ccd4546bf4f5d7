import Compute

/// The encoder: embeddings, transformer layers, final LayerNorm and the summary.
///
/// Digits reach the encoder as one shared "digit" token with its number slot and a
/// digit-or-not place, never their value: which concept is asked and which number is which
/// operand never depend on the numbers themselves, so held-out and out-of-range numbers read like
/// trained ones. The digit values go only to the typed reasoner, which computes on them exactly.
extension ConceptModel {
    /// Uploads the batch (ids, positions, slots, lengths, number digits, targets) and runs
    /// x0 = tok + pos + place + slot: [Nv, D] -> layers -> LN: [Nv, D]; s: [B, D] is each
    /// sequence's first row (the [CLS] state). Returns the numbers as read, int32 [B, slots, places].
    ///
    /// Inside the encoder the batch's Nv real tokens are stored back to back without padding
    /// (sequence b from row starts[b]): padding rows would cost every GEMM, LayerNorm and GELU as
    /// much as real ones (a batch is padded to its longest question, about 1.6 times the mean).
    /// The rest of the model reads only the [CLS] rows, gathered straight from the packed rows.
    ///
    /// The encoder runs its sequences in `EncoderChunk`s, each through every layer: one chunk in
    /// fp32; under `--amp` several, so the fp32 working buffers the ops compute in hold one chunk
    /// while the fp16 copies kept for backward hold the whole batch.
    func encoderForward(_ batch: ModelBatch) throws -> [Int32] {
        let cfg = config, be = backend
        let B = batch.size, T = batch.seq, D = cfg.dModel, N = B * T
        let lens = batch.lengths.map { max(1, min(T, Int($0))) }
        let ids = try ws.get("ids.tokens", N, .int32)
        let numbersBuf = try ws.get("ids.numbers", B * cfg.slots * cfg.places, .int32)
        let targetsBuf = try ws.get("ids.targets", B * 2, .int32)
        let digits = Set(cfg.digitTokenIds)
        let tokens = batch.tokens.map { digits.contains($0) ? cfg.digitTokenIds[0] : $0 }
        let places = batch.places.map { $0 > 0 ? Int32(1) : Int32(0) }
        let positions = Self.wordPositions(batch)
        let slots = batch.slots.map { min(max($0, 0), Int32(cfg.slots + 1)) }
        try be.upload(tokens, to: ids)
        let numbers = readNumbers(batch)
        try be.upload(numbers, to: numbersBuf)
        try be.upload(Self.encodeTargets(batch.targets, count: B), to: targetsBuf)

        let chunks = EncoderChunk.split(lengths: lens, into: ws.halfStorage ? ampEncoderChunks : 1)
        let summary = try ws.get("summary", B * D)
        for chunk in chunks {
            let n = chunk.rowCount, c = chunk.tag, seqs = chunk.sequences
            // Per chunk: its rows' ids, its sequences' lengths and starts (from the chunk's row 0)
            // and each row's place in [B, T].
            let valid = seqs.flatMap { b in (0..<lens[b]).map { Int32(b * T + $0) } }
            let packedIds = try Self.embeddingRoles.map { try ws.get("\(c).ids.\($0)", n, .int32) }
            for (column, buffer) in zip([tokens, positions, places, slots], packedIds) {
                try be.upload(valid.map { column[Int($0)] }, to: buffer)
            }
            try be.upload(valid, to: try ws.get("\(c).ids.valid", n, .int32))   // for the golden dump
            let lengths = try ws.get("\(c).ids.lengths", seqs.count, .int32)
            let starts = try ws.get("\(c).ids.starts", seqs.count, .int32)
            try be.upload(seqs.map { Int32(lens[$0]) }, to: lengths)
            var start: Int32 = 0
            try be.upload(seqs.map { b in defer { start += Int32(lens[b]) }; return start }, to: starts)

            // Embeddings: x0 = tok + pos + place + slot : [n, D]
            let x0 = try ws.activation(c, "stream0", n * D), tmp = try ws.get("embed.tmp", n * D)
            try be.embeddingGather(table: tokEmb.read(), ids: packedIds[0], out: x0, count: n, dim: D)
            for (table, tids) in zip([posEmb, placeEmb, slotEmb], packedIds.dropFirst()) {
                try be.embeddingGather(table: table.read(), ids: tids, out: tmp, count: n, dim: D)
                try be.add(x0, tmp, x0, count: n * D)
            }
            try ws.keep(c, "stream0", x0, n * D)
            // Encoder: x_{l+1} = layer_l(x_l): [n, D]
            var x = x0
            for (l, layer) in layers.enumerated() {
                let y = try ws.activation(c, "stream\(l + 1)", n * D)
                try layer.forward(be, ws: ws, tag: "\(layer.name).\(c)", x: x, y: y, lengths: lengths, starts: starts,
                                  rows: n, batch: seqs.count, seq: T)
                try ws.keep(c, "stream\(l + 1)", y, n * D)
                x = y
            }
            let packed = try ws.get("xf.packed", n * D)
            try lnF.forward(be, x: x, y: packed, mean: try ws.get("\(c).lnf.m", n), rstd: try ws.get("\(c).lnf.r", n), rows: n)
            // s: each sequence's [CLS] row, its first (the chunk's starts), into summary rows b0 ..< b1.
            let rows = try chunks.count == 1 ? summary : ws.get("summary.chunk", seqs.count * D)
            try be.embeddingGather(table: packed, ids: starts, out: rows, count: seqs.count, dim: D)
            if chunks.count > 1 {
                try be.copy(rows, srcOffset: 0, to: summary, dstOffset: seqs.lowerBound * D, count: seqs.count * D)
            }
        }
        encoderChunks = chunks
        return numbers
    }

    /// ds: [B, D] (the summary's gradient) -> each chunk's [CLS] rows of its packed rows [n, D]
    /// (zero elsewhere) -> final LayerNorm -> layers -> the four embedding tables.
    func encoderBackward(rows B: Int, seq T: Int, ds: any DeviceBuffer) throws {
        let be = backend, D = config.dModel
        for chunk in encoderChunks {
            let n = chunk.rowCount, c = chunk.tag, seqs = chunk.sequences
            let dPacked = try ws.get("xf.packed.grad", n * D)
            try be.fill(dPacked, value: 0, offset: 0, count: n * D)
            var dsRows = ds
            if encoderChunks.count > 1 {
                dsRows = try ws.get("summary.chunk.grad", seqs.count * D)
                try be.copy(ds, srcOffset: seqs.lowerBound * D, to: dsRows, dstOffset: 0, count: seqs.count * D)
            }
            let lengths = try ws.get("\(c).ids.lengths", seqs.count, .int32)
            let starts = try ws.get("\(c).ids.starts", seqs.count, .int32)
            // Each [CLS] row receives its one gradient row: the scatter-add into zeros is a copy.
            try be.embeddingScatterAdd(dOut: dsRows, ids: starts, dTable: dPacked, count: seqs.count, dim: D)
            let dx = try ws.get("x.grad", n * D)
            try lnF.backward(be, x: try ws.recall(c, "stream\(layers.count)", n * D), mean: try ws.get("\(c).lnf.m", n),
                             rstd: try ws.get("\(c).lnf.r", n), dY: dPacked, dX: dx, rows: n)
            for l in stride(from: layers.count - 1, through: 0, by: -1) {
                try layers[l].backward(be, ws: ws, tag: "\(layers[l].name).\(c)", x: try ws.recall(c, "stream\(l)", n * D),
                                       dY: dx, dX: dx, lengths: lengths, starts: starts, rows: n, batch: seqs.count, seq: T)
            }
            let tables = [tokEmb, posEmb, placeEmb, slotEmb]
            let ids = try Self.embeddingRoles.map { try ws.get("\(c).ids.\($0)", n, .int32) }
            try params.accumulatingGrads(tables) { g in
                for (i, tableIds) in ids.enumerated() {
                    try be.embeddingScatterAdd(dOut: dx, ids: tableIds, dTable: g[i], count: n, dim: D)
                }
            }
        }
    }

    /// The four embedding tables' id columns, in the order x0 sums them.
    static let embeddingRoles = ["tokens", "pos", "places", "slots"]

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

/// A run of whole sequences the encoder computes together: attention never crosses a sequence,
/// and every other op works row by row, so a chunk's result does not depend on the others.
struct EncoderChunk {
    let index: Int
    /// Batch rows (questions) in the chunk.
    let sequences: Range<Int>
    /// Its tokens' rows in the packed [Nv, D] layout.
    let rows: Range<Int>
    var rowCount: Int { rows.count }
    /// Workspace key prefix of the chunk's buffers.
    var tag: String { "enc.c\(index)" }

    /// Splits sequences (their lengths in tokens) into at most `count` contiguous chunks of
    /// about equal token counts, none empty.
    static func split(lengths: [Int], into count: Int) -> [EncoderChunk] {
        let total = lengths.reduce(0, +), k = max(1, min(count, lengths.count))
        var chunks: [EncoderChunk] = []
        var b0 = 0, r0 = 0, r = 0
        for (b, len) in lengths.enumerated() {
            r += len
            let left = lengths.count - b - 1, chunksLeft = k - chunks.count - 1
            // Close the chunk once it holds its share of tokens, or when every later sequence
            // must start a chunk of its own.
            if b == lengths.count - 1 || (chunksLeft > 0 && (r * k >= total * (chunks.count + 1) || left == chunksLeft)) {
                chunks.append(EncoderChunk(index: chunks.count, sequences: b0..<(b + 1), rows: r0..<r))
                b0 = b + 1; r0 = r
            }
        }
        return chunks
    }
}
