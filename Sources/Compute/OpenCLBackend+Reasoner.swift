import Foundation

// The layout op and the typed reasoner on OpenCL (`Kernels/elementwise.cl` copy_2d and
// `Kernels/reasoner.cl`); the reasoner kernel is a line-for-line port of
// `CPUBackend.reasonerRow`.
extension OpenCLBackend {
    // MARK: layout

    public func copy2D(_ src: any DeviceBuffer, srcOffset: Int, srcStride: Int,
                       to dst: any DeviceBuffer, dstOffset: Int, dstStride: Int, rows: Int, cols: Int) throws {
        let S = try cl(src, .float32, "src"), D = try cl(dst, .float32, "dst")
        guard try checkCopy2D(srcCount: S.count, srcOffset: srcOffset, srcStride: srcStride, dstCount: D.count,
                              dstOffset: dstOffset, dstStride: dstStride, rows: rows, cols: cols) else { return }
        _ = try i32(rows * cols, "copy2D element count") // the kernel's flat index is an int
        try launch1D("elementwise.cl", "copy_2d", rows * cols, [
            .buffer(S), .int(try i32(srcOffset, "srcOffset")), .int(try i32(srcStride, "srcStride")),
            .buffer(D), .int(try i32(dstOffset, "dstOffset")), .int(try i32(dstStride, "dstStride")),
            .int(try i32(rows)), .int(try i32(cols))])
    }

    // MARK: typed reasoner

    public func reasoner(logits: any DeviceBuffer, numbers: any DeviceBuffer, targets: any DeviceBuffer,
                         gain: any DeviceBuffer, dLogits: any DeviceBuffer, rowStats: any DeviceBuffer,
                         trace: any DeviceBuffer, rows: Int, spec: ReasonerSpec) throws {
        try spec.validate()
        guard rows >= 0 else { throw ComputeError.invalidArgument("reasoner rows \(rows) is negative") }
        let L = try cl(logits, .float32, "logits"), N = try cl(numbers, .int32, "numbers")
        let T = try cl(targets, .int32, "targets"), G = try cl(gain, .float32, "gain")
        let D = try cl(dLogits, .float32, "dLogits"), St = try cl(rowStats, .float32, "rowStats")
        let Tr = try cl(trace, .int32, "trace")
        let W = spec.width
        try need(L, rows * W, "logits"); try need(N, rows * spec.slots * spec.places, "numbers")
        try need(T, rows * 2, "targets"); try need(G, 1, "gain"); try need(D, rows * W, "dLogits")
        try need(St, rows * ReasonerSpec.statsWidth, "rowStats"); try need(Tr, rows * ReasonerSpec.traceWidth, "trace")
        if rows == 0 { return }
        // Every index the kernel forms must fit an int.
        _ = try i32(rows * W, "logits size")
        try launch1D("reasoner.cl", "reasoner", rows, [
            .buffer(L), .buffer(N), .buffer(T), .buffer(G), .buffer(D), .buffer(St), .buffer(Tr),
            .int(try i32(rows)), .int(try i32(spec.slots)), .int(try i32(spec.places)),
            .int(spec.hard ? 1 : 0), .int(spec.enabled ? 1 : 0), .float(spec.labelSmoothing),
            .float(spec.lambdaStop), .float(spec.lambdaEntropy), .float(spec.lossScale),
            .int(spec.relationMask), .int(spec.boolOpMask), .int(spec.offeredOps)])
    }
}
