import Compute

/// Worked solutions as an auxiliary target: cross-entropy of the controller's pointer A, pointer
/// B, step-1 op and relation logits against the program the lesson says the question means.
///
/// Why: every train question also fits the inverse program on the other number (a + 2 = b and
/// b - 2 = a), and which one the answer loss alone lands on differs per phrasing, so a new
/// phrasing was read with whichever its neighbours happened to take (Docs/RESULTS.md, Rounds 3-8).
/// Told which number each op and relation word governs, the reader learns roles from the words.
///
/// The loss is added where the reasoner's answer gradient is written (`ctrl.dout`), so the
/// backward pass is unchanged: d(loss)/d(logits) = scale * (softmax - onehot) per head.
extension ConceptModel {
    /// The five supervised heads: (first column, width, column of `ModelBatch.programs`):
    /// pointers A, B, step-1 op, relation, pointer C.
    func programHeads() -> [(offset: Int, width: Int, target: Int)] {
        let S = config.slots, U = ReasonerSpec.opCount, R = ReasonerSpec.relationCount
        return [(0, S, 0), (S, S, 1), (3 * S, U, 2), (3 * S + U, R, 3), (2 * S, S, 4)]
    }

    /// Adds `scale` x the program cross-entropy gradient into dOut: [B, outW]; returns the buffer
    /// of per-row losses of each head (for the log), [5][B].
    /// out, dOut: [B, outW]; programs: int32 [B, 5] (slot A, slot B, op, relation, slot C; -1 = no target).
    func programLossForward(programs: [Int32], out: any DeviceBuffer, dOut: any DeviceBuffer, rows B: Int,
                            scale: Float) throws -> [any DeviceBuffer] {
        let be = backend, outW = config.outputWidth
        var losses: [any DeviceBuffer] = []
        for (h, head) in programHeads().enumerated() {
            let W = head.width
            let logits = try ws.get("prog.logits\(h)", B * W), grad = try ws.get("prog.grad\(h)", B * W)
            let acc = try ws.get("prog.acc\(h)", B * W), loss = try ws.get("prog.loss\(h)", B)
            let targets = try ws.get("prog.targets\(h)", B, .int32)
            try be.upload((0..<B).map { programs[ModelBatch.programWidth * $0 + head.target] }, to: targets)
            try be.copy2D(out, srcOffset: head.offset, srcStride: outW, to: logits, dstOffset: 0, dstStride: W, rows: B, cols: W)
            try be.crossEntropy(logits: logits, targets: targets, losses: loss, dLogits: grad, rows: B, classes: W,
                                smoothing: 0, gradScale: scale)
            try be.copy2D(dOut, srcOffset: head.offset, srcStride: outW, to: acc, dstOffset: 0, dstStride: W, rows: B, cols: W)
            try be.add(acc, grad, acc, count: B * W)
            try be.copy2D(acc, srcOffset: 0, srcStride: W, to: dOut, dstOffset: head.offset, dstStride: outW, rows: B, cols: W)
            losses.append(loss)
        }
        return losses
    }
}
