import Compute

/// The golden-tensor dump (issue 16): what a training forward left in the workspace, brought to
/// the host for `learner golden`, which writes it with the gradients for `Tools/twin/golden.py`
/// (the PyTorch twin) to recompute and compare. Nothing here changes what the model computes.
extension ConceptModel {
    /// Activations and outputs of the last `forward` (with targets), by dump name: call it after
    /// that forward and before `backward`, which moves the pointer columns out of `ctrl.dout`.
    /// Integer buffers (code indices, numbers, trace) come back as exact floats.
    /// - `out.controller_row` [B, outW], `out.controller_row_grad` [B, outW] (d loss / d row,
    ///   answer, STOP, entropy and worked-solution terms), `out.pointer_logits` [B, P];
    /// - `out.reasoner_stats` [B, statsWidth], `out.reasoner_trace` [B, traceWidth];
    /// - `act.summary`, `act.words_u` [B, D], `act.encoder_out` [B, T, D], `act.controller_in`
    ///   [B, D + (P+1) Dc], `act.numbers` [B, slots, places];
    /// - per VQ head p: `act.vq.head<p>.z`, `.index`, `.distance`; per stage s: `act.vq.stage<s>.r`,
    ///   `.index`, `.distance`;
    /// - with worked solutions, `out.program_loss<h>` [B] per supervised head.
    public func goldenActivations(rows B: Int, seq T: Int, programHeads: Bool)
        throws -> [String: (shape: [Int], values: [Float])] {
        let cfg = config, be = backend, D = cfg.dModel, Dc = cfg.codeDim
        var out: [String: (shape: [Int], values: [Float])] = [:]
        func floats(_ buffer: String, _ key: String, _ shape: [Int]) throws {
            let n = shape.reduce(1, *)
            out[key] = (shape, try be.download(try ws.get(buffer, n), offset: 0, count: n))
        }
        func ints(_ buffer: String, _ key: String, _ shape: [Int]) throws {
            let n = shape.reduce(1, *)
            out[key] = (shape, try be.downloadInt32(try ws.get(buffer, n, .int32), offset: 0, count: n).map { Float($0) })
        }
        try floats("ctrl.out", "out.controller_row", [B, cfg.outputWidth])
        try floats("ctrl.dout", "out.controller_row_grad", [B, cfg.outputWidth])
        try floats("ptr.out", "out.pointer_logits", [B, cfg.pointerColumns])
        try floats("reasoner.stats", "out.reasoner_stats", [B, ReasonerSpec.statsWidth])
        try ints("reasoner.trace", "out.reasoner_trace", [B, ReasonerSpec.traceWidth])
        try floats("summary", "act.summary", [B, D])
        try floats("words.u", "act.words_u", [B, D])
        // The encoder's output as [B, T, D] with zero rows at the padding, from its packed rows
        // (the dump is of an fp32 forward: one chunk, all rows).
        guard encoderChunks.count == 1, let chunk = encoderChunks.first else {
            throw ModelError.invalidBatch("golden tensors need an fp32 forward (one encoder chunk), got \(encoderChunks.count) chunks")
        }
        let packed = try be.download(try ws.get("xf.packed", chunk.rowCount * D), offset: 0, count: chunk.rowCount * D)
        let valid = try be.downloadInt32(try ws.get("\(chunk.tag).ids.valid", chunk.rowCount, .int32), offset: 0, count: chunk.rowCount)
        var encoderOut = [Float](repeating: 0, count: B * T * D)
        for (row, position) in valid.enumerated() {
            encoderOut.replaceSubrange(Int(position) * D ..< (Int(position) + 1) * D, with: packed[row * D ..< (row + 1) * D])
        }
        out["act.encoder_out"] = ([B, T, D], encoderOut)
        try floats("ctrl.in", "act.controller_in", [B, D + cfg.codeVectorWidth])
        try ints("ids.numbers", "act.numbers", [B, cfg.slots, cfg.places])
        for p in 0..<cfg.vqHeads {
            try floats("vq.z\(p)", "act.vq.head\(p).z", [B, Dc])
            try ints("vq.idx\(p)", "act.vq.head\(p).index", [B])
            try floats("vq.dist\(p)", "act.vq.head\(p).distance", [B])
        }
        for s in 0..<cfg.vqStages {
            try floats("vq.r\(s)", "act.vq.stage\(s).r", [B, Dc])
            try ints("vq.sidx\(s)", "act.vq.stage\(s).index", [B])
            try floats("vq.sdist\(s)", "act.vq.stage\(s).distance", [B])
        }
        if programHeads {
            for h in 0..<self.programHeads().count { try floats("prog.loss\(h)", "out.program_loss\(h)", [B]) }
        }
        return out
    }

    /// What the twin needs to know about the reasoner beyond the config: the op and relation
    /// names in logit order, which ops read pointer C, the ops and relations this model's grade
    /// offers (bitmasks) and the worked-solution heads as (first column, width, program column).
    public var goldenReasonerLayout: (ops: [String], binary: [Bool], relations: [String], offeredOps: Int32,
                                      offeredRelations: Int32, programHeads: [(offset: Int, width: Int, target: Int)]) {
        (StepOp.allCases.map(\.name), StepOp.allCases.map(\.isBinary), Relation.allCases.map(\.name), offeredOps,
         offeredRelations, programHeads())
    }
}
