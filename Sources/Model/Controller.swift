import Compute

/// The controller: two MLPs writing one output row per question, out: [B, outW] =
/// [pointer A (slots) | pointer B (slots) | step-1 op (U) | relation (R) | STOP | decoder terms].
///
/// - The op/relation controller reads hin = [u; codes]: out = fc2(gelu(fc1(hin))), whose relation,
///   STOP and decoder columns are used.
/// - The op controller reads the encoder's summary s: [B, D] and writes the step-1 op columns
///   over the first one's: which op applies depends on word order, which the summary has and the
///   word bag does not. The number reader (`NumberReader.swift`) writes the pointer columns, one
///   score per number and role from that number's own encoder states.
extension ConceptModel {
    /// out: [B, outW]; the number reader's pointers and the op controller's op logits are written
    /// over out[:, 0 ..< 3 slots + ops].
    func controllerForward(rows B: Int) throws -> any DeviceBuffer {
        let cfg = config, be = backend, D = cfg.dModel, H = cfg.controllerHidden, outW = cfg.outputWidth
        let hinW = D + cfg.codeVectorWidth, S = cfg.slots, U = ReasonerSpec.opCount
        let hin = try ws.get("ctrl.in", B * hinW)
        let c1 = try ws.get("ctrl.c1", B * H), hc = try ws.get("ctrl.h", B * H)
        let out = try ws.get("ctrl.out", B * outW)
        try be.gemm(m: B, n: H, k: hinW, a: hin, b: ctrl1.w.read(), c: c1)
        try be.addBiasGelu(c1, bias: ctrl1.b.read(), hc, rows: B, cols: H)
        try ctrl2.forward(be, x: hc, y: out, rows: B)
        // The step-1 op from the summary: fc2(gelu(fc1(s))): [B, U].
        let p1 = try ws.get("ptr.c1", B * H), ph = try ws.get("ptr.h", B * H), logits = try ws.get("ptr.out", B * U)
        try be.gemm(m: B, n: H, k: D, a: try ws.get("summary", B * D), b: ptr1.w.read(), c: p1)
        try be.addBiasGelu(p1, bias: ptr1.b.read(), ph, rows: B, cols: H)
        try ptr2.forward(be, x: ph, y: logits, rows: B)
        try be.copy2D(logits, srcOffset: 0, srcStride: U, to: out, dstOffset: 3 * S, dstStride: outW, rows: B, cols: U)
        // Pointers A, B, C per number.
        try numbersWrite(out: out, rows: B)
        return out
    }

    /// dOut: [B, outW] (ctrl.dout, written by the reasoner and the worked-solution loss) ->
    /// the pointer columns' share back through the pointer controller into ds: [B, D]; the rest
    /// through the op/relation controller into dHin: [B, hinW], which it returns.
    func controllerBackward(rows B: Int) throws -> any DeviceBuffer {
        let cfg = config, be = backend, D = cfg.dModel, H = cfg.controllerHidden, outW = cfg.outputWidth
        let hinW = D + cfg.codeVectorWidth, S = cfg.slots, U = ReasonerSpec.opCount
        let dOut = try ws.get("ctrl.dout", B * outW)
        // The number reader's and the op controller's columns overwrote the first controller's:
        // theirs alone get the gradient, taken out of dOut (and zeroed there).
        let dPointers = try ws.get("num.dpointers", B * 3 * S), dl = try ws.get("ptr.dout", B * U)
        try takeColumns(dOut, rows: B, from: 0, count: 3 * S, into: dPointers)
        try takeColumns(dOut, rows: B, from: 3 * S, count: U, into: dl)
        try numbersBackward(dPointers: dPointers, rows: B)
        let p1 = try ws.get("ptr.c1", B * H), ph = try ws.get("ptr.h", B * H), dph = try ws.get("ptr.dh", B * H)
        try ptr2.backward(be, x: ph, dY: dl, dX: dph, rows: B)
        try be.geluBackward(x: p1, dY: dph, dX: dph, count: B * H)
        try ptr1.backward(be, x: try ws.get("summary", B * D), dY: dph, dX: try ws.get("summary.grad", B * D), rows: B)

        let hin = try ws.get("ctrl.in", B * hinW)
        let c1 = try ws.get("ctrl.c1", B * H), hc = try ws.get("ctrl.h", B * H)
        let dh = try ws.get("ctrl.dh", B * H), dHin = try ws.get("ctrl.dhin", B * hinW)
        try ctrl2.backward(be, x: hc, dY: dOut, dX: dh, rows: B)
        try be.geluBackward(x: c1, dY: dh, dX: dh, count: B * H)
        try ctrl1.backward(be, x: hin, dY: dh, dX: dHin, rows: B)
        return dHin
    }

    /// Moves columns from ..< from+count of dOut: [B, outW] into dst: [B, count] and zeroes them
    /// in dOut.
    func takeColumns(_ dOut: any DeviceBuffer, rows B: Int, from: Int, count: Int, into dst: any DeviceBuffer) throws {
        let be = backend, outW = config.outputWidth
        let zeros = try ws.get("take.zeros.\(count)", B * count)
        try be.fill(zeros, value: 0, offset: 0, count: B * count)
        try be.copy2D(dOut, srcOffset: from, srcStride: outW, to: dst, dstOffset: 0, dstStride: count, rows: B, cols: count)
        try be.copy2D(zeros, srcOffset: 0, srcStride: count, to: dOut, dstOffset: from, dstStride: outW, rows: B, cols: count)
    }

    /// The Occam prior: step 1 starts out preferring the identity op, so a relation that needs no
    /// arithmetic (greater, smaller) is not learned as greater(predecessor(a), b), which only errs
    /// on the rare |a - b| = 1 questions and is hard to leave once the softmax saturates. Set in
    /// a layer whose op columns start at `opOffset`.
    static func setOpPriors(_ layer: Linear, opOffset: Int, config: ModelConfig, backend: any Backend) throws {
        var bias = try backend.download(layer.b.value)
        bias[opOffset + StepOp.identity.rawValue] = config.identityPrior
        try backend.upload(bias, to: layer.b.value)
    }
}
