import CBLAS
import CKernels
import Dispatch
import Foundation

/// Host memory for the CPU backend: 64-byte aligned so BLAS and SIMD loads stay aligned.
public final class CPUBuffer: DeviceBuffer {
    public let count: Int
    public let dtype: DType
    public let raw: UnsafeMutableRawPointer

    init(count: Int, dtype: DType) {
        self.count = count
        self.dtype = dtype
        raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count * dtype.byteSize), alignment: 64)
    }

    deinit { raw.deallocate() }

    public var floats: UnsafeMutablePointer<Float> { raw.assumingMemoryBound(to: Float.self) }
    public var ints: UnsafeMutablePointer<Int32> { raw.assumingMemoryBound(to: Int32.self) }
    public var halves: UnsafeMutablePointer<UInt16> { raw.assumingMemoryBound(to: UInt16.self) }
}

/// The native backend a laptop without a GPU gets: OpenBLAS for GEMM, Swift loops for the rest,
/// split across threads with Dispatch when a loop is large enough to pay for it.
public final class CPUBackend: Backend {
    public let kind = BackendKind.cpu
    public let threads: Int

    /// Parallel loops and GEMMs share one pool of spinning threads (CKernels/pool.c): a parked
    /// Dispatch worker takes tens of microseconds to wake, as long as many of a step's ops.
    /// OpenBLAS runs single-threaded; each GEMM's output is split across the pool instead.
    public init(threads: Int? = nil) {
        let n = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        self.threads = n
        openblas_set_num_threads(1)
        ck_pool_init(Int32(n))
    }

    public var description: String { "cpu (\(threads) thread\(threads == 1 ? "" : "s"), OpenBLAS)" }

    // MARK: helpers

    @inline(__always)
    func cpu(_ b: any DeviceBuffer, _ dtype: DType = .float32, _ name: String = "buffer") throws -> CPUBuffer {
        guard let c = b as? CPUBuffer else {
            throw ComputeError.invalidArgument("\(name) was not made by the CPU backend")
        }
        guard c.dtype == dtype else {
            throw ComputeError.invalidArgument("\(name) holds \(c.dtype.rawValue), expected \(dtype.rawValue)")
        }
        return c
    }

    @inline(__always)
    func need(_ b: CPUBuffer, _ n: Int, _ name: String) throws {
        if n > b.count || n < 0 {
            throw ComputeError.invalidArgument("\(name) has \(b.count) elements, op needs \(n)")
        }
    }

    /// Runs body(range) over 0..<n in chunks; parallel only when the work is large.
    func parallelFor(_ n: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        let chunks = min(threads, max(1, n / max(1, grain)))
        if chunks <= 1 { body(0..<n); return }
        let per = (n + chunks - 1) / chunks
        Self.onPool(chunks) { c in
            let lo = c * per, hi = min(n, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// body(c) for c in 0..<chunks on the thread pool; returns when all are done.
    static func onPool(_ chunks: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var task = body
            withUnsafeMutablePointer(to: &task) { ptr in
                ck_pool_run({ ctx, c in ctx!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(c)) }, ptr, chunks)
            }
        }
    }

    // MARK: memory

    public func makeBuffer(count: Int, dtype: DType) throws -> any DeviceBuffer {
        guard count >= 0 else { throw ComputeError.invalidArgument("buffer count \(count) is negative") }
        return CPUBuffer(count: count, dtype: dtype)
    }

    public func upload(_ values: [Float], to buffer: any DeviceBuffer, offset: Int) throws {
        let b = try cpu(buffer)
        try need(b, offset + values.count, "upload target")
        values.withUnsafeBufferPointer { src in
            (b.floats + offset).update(from: src.baseAddress!, count: values.count)
        }
    }

    public func upload(_ values: [Int32], to buffer: any DeviceBuffer, offset: Int) throws {
        let b = try cpu(buffer, .int32)
        try need(b, offset + values.count, "upload target")
        values.withUnsafeBufferPointer { src in
            (b.ints + offset).update(from: src.baseAddress!, count: values.count)
        }
    }

    public func download(_ buffer: any DeviceBuffer, offset: Int, count: Int) throws -> [Float] {
        let b = try cpu(buffer)
        try need(b, offset + count, "download source")
        return Array(UnsafeBufferPointer(start: b.floats + offset, count: count))
    }

    public func downloadInt32(_ buffer: any DeviceBuffer, offset: Int, count: Int) throws -> [Int32] {
        let b = try cpu(buffer, .int32)
        try need(b, offset + count, "download source")
        return Array(UnsafeBufferPointer(start: b.ints + offset, count: count))
    }

    public func fill(_ buffer: any DeviceBuffer, value: Float, offset: Int, count: Int) throws {
        guard let b = buffer as? CPUBuffer else { throw ComputeError.invalidArgument("fill target is not a CPU buffer") }
        try need(b, offset + count, "fill target")
        switch b.dtype {
        case .float32: (b.floats + offset).update(repeating: value, count: count)
        case .int32: (b.ints + offset).update(repeating: Int32(value), count: count)
        case .float16: (b.halves + offset).update(repeating: Float16(value).bitPattern, count: count)
        }
    }

    public func copy(_ src: any DeviceBuffer, srcOffset: Int, to dst: any DeviceBuffer, dstOffset: Int, count: Int) throws {
        guard let s = src as? CPUBuffer, let d = dst as? CPUBuffer, s.dtype == d.dtype else {
            throw ComputeError.invalidArgument("copy needs two CPU buffers of one dtype")
        }
        try need(s, srcOffset + count, "copy source")
        try need(d, dstOffset + count, "copy target")
        let es = s.dtype.byteSize
        (d.raw + dstOffset * es).copyMemory(from: s.raw + srcOffset * es, byteCount: count * es)
    }

    public func synchronize() throws {}

    // MARK: GEMM

    public func gemmStridedBatched(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                   a: any DeviceBuffer, aOffset: Int, lda: Int, strideA: Int,
                                   b: any DeviceBuffer, bOffset: Int, ldb: Int, strideB: Int,
                                   beta: Float, c: any DeviceBuffer, cOffset: Int, ldc: Int, strideC: Int,
                                   batch: Int) throws {
        let A = try cpu(a, .float32, "A"), B = try cpu(b, .float32, "B"), C = try cpu(c, .float32, "C")
        let args = try GemmArguments(transA: transA, transB: transB, m: m, n: n, k: k, aOffset: aOffset, lda: lda,
                                     strideA: strideA, bOffset: bOffset, ldb: ldb, strideB: strideB,
                                     cOffset: cOffset, ldc: ldc, strideC: strideC, batch: batch)
        if args.isEmpty { return }
        try need(A, args.needA, "A")
        try need(B, args.needB, "B")
        try need(C, args.needC, "C")
        let ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans
        let ap = A.floats + aOffset, bp = B.floats + bOffset, cp = C.floats + cOffset
        // C[rows, cols] = op(A)[rows, :] op(B)[:, cols] for one batch entry and a block of C.
        func block(_ i: Int, rows: Range<Int>, cols: Range<Int>) {
            if k == 0 {
                // BLAS leaves C untouched for k == 0 only when beta == 1; define it as beta * C.
                for r in rows {
                    let row = cp + i * strideC + r * ldc
                    for j in cols { row[j] = beta == 0 ? 0 : beta * row[j] }
                }
                return
            }
            // Row r of op(A) starts at A + r * lda (column r of A when transposed); column j of
            // op(B) at B + j (row j of B when transposed).
            let a0 = ap + i * strideA + rows.lowerBound * (transA ? 1 : lda)
            let b0 = bp + i * strideB + cols.lowerBound * (transB ? ldb : 1)
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(rows.count), Int32(cols.count), Int32(k), alpha, a0, Int32(lda),
                        b0, Int32(ldb), beta, cp + i * strideC + rows.lowerBound * ldc + cols.lowerBound, Int32(ldc))
        }
        if batch >= threads {
            parallelFor(batch, grain: 1) { r in for i in r { block(i, rows: 0..<m, cols: 0..<n) } }
            return
        }
        // The longer side of C in one block per thread (multiples of 16 rows or columns); small
        // products stay whole, where handing out work costs more than it saves.
        let splitRows = m >= n, length = splitRows ? m : n
        let parts = min(threads, length / 32, max(1, 2 * m * n * k / 1_000_000))
        for i in 0..<batch {
            if parts <= 1 { block(i, rows: 0..<m, cols: 0..<n); continue }
            let per = ((length + parts - 1) / parts + 15) & ~15
            Self.onPool(parts) { c in
                let lo = min(length, c * per), hi = min(length, lo + per)
                guard lo < hi else { return }
                if splitRows { block(i, rows: lo..<hi, cols: 0..<n) } else { block(i, rows: 0..<m, cols: lo..<hi) }
            }
        }
    }

    // MARK: elementwise

    public func addBias(_ x: any DeviceBuffer, bias: any DeviceBuffer, rows: Int, cols: Int) throws {
        let X = try cpu(x, .float32, "x"), Bv = try cpu(bias, .float32, "bias")
        try need(X, rows * cols, "x"); try need(Bv, cols, "bias")
        let xp = X.floats, bp = Bv.floats
        parallelFor(rows, grain: max(1, 16384 / max(1, cols))) { r in
            ck_add_bias(xp, bp, cols, r.lowerBound, r.upperBound)
        }
    }

    public func biasBackward(dY: any DeviceBuffer, dBias: any DeviceBuffer, rows: Int, cols: Int) throws {
        let D = try cpu(dY, .float32, "dY"), G = try cpu(dBias, .float32, "dBias")
        try need(D, rows * cols, "dY"); try need(G, cols, "dBias")
        let dp = D.floats, gp = G.floats
        // Columns are independent, so threads split columns and each sums its rows in order:
        // deterministic for any thread count.
        parallelFor(cols, grain: 64) { cr in
            ck_bias_backward(dp, gp, rows, cols, cr.lowerBound, cr.upperBound)
        }
    }

    public func addBiasGelu(_ x: any DeviceBuffer, bias: any DeviceBuffer, _ y: any DeviceBuffer, rows: Int, cols: Int) throws {
        let X = try cpu(x, .float32, "x"), Bv = try cpu(bias, .float32, "bias"), Y = try cpu(y, .float32, "y")
        try need(X, rows * cols, "x"); try need(Bv, cols, "bias"); try need(Y, rows * cols, "y")
        let xp = X.floats, bp = Bv.floats, yp = Y.floats
        parallelFor(rows, grain: max(1, 8192 / max(1, cols))) { r in
            ck_add_bias_gelu(xp, bp, yp, cols, r.lowerBound, r.upperBound)
        }
    }

    public func gelu(_ x: any DeviceBuffer, _ y: any DeviceBuffer, count: Int) throws {
        let X = try cpu(x, .float32, "x"), Y = try cpu(y, .float32, "y")
        try need(X, count, "x"); try need(Y, count, "y")
        let xp = X.floats, yp = Y.floats
        parallelFor(count, grain: 8192) { r in ck_gelu_forward(xp, yp, r.lowerBound, r.upperBound) }
    }

    public func geluBackward(x: any DeviceBuffer, dY: any DeviceBuffer, dX: any DeviceBuffer, count: Int) throws {
        let X = try cpu(x, .float32, "x"), D = try cpu(dY, .float32, "dY"), O = try cpu(dX, .float32, "dX")
        try need(X, count, "x"); try need(D, count, "dY"); try need(O, count, "dX")
        let xp = X.floats, dp = D.floats, op = O.floats
        parallelFor(count, grain: 8192) { r in ck_gelu_backward(xp, dp, op, r.lowerBound, r.upperBound) }
    }

    public func add(_ a: any DeviceBuffer, _ b: any DeviceBuffer, _ y: any DeviceBuffer, count: Int) throws {
        let A = try cpu(a, .float32, "a"), B = try cpu(b, .float32, "b"), Y = try cpu(y, .float32, "y")
        try need(A, count, "a"); try need(B, count, "b"); try need(Y, count, "y")
        let ap = A.floats, bp = B.floats, yp = Y.floats
        parallelFor(count, grain: 32768) { r in ck_add(ap, bp, yp, r.lowerBound, r.upperBound) }
    }

    public func axpy(alpha: Float, x: any DeviceBuffer, y: any DeviceBuffer, count: Int) throws {
        let X = try cpu(x, .float32, "x"), Y = try cpu(y, .float32, "y")
        try need(X, count, "x"); try need(Y, count, "y")
        let xp = X.floats, yp = Y.floats
        parallelFor(count, grain: 32768) { r in for i in r { yp[i] += alpha * xp[i] } }
    }

    public func scale(_ x: any DeviceBuffer, by alpha: Float, count: Int) throws {
        let X = try cpu(x, .float32, "x")
        try need(X, count, "x")
        let xp = X.floats
        parallelFor(count, grain: 32768) { r in for i in r { xp[i] *= alpha } }
    }

    // MARK: normalisation and softmax

    public func layerNorm(x: any DeviceBuffer, gamma: any DeviceBuffer, beta: any DeviceBuffer,
                          y: any DeviceBuffer, mean: any DeviceBuffer, rstd: any DeviceBuffer,
                          rows: Int, cols: Int, eps: Float) throws {
        let X = try cpu(x, .float32, "x"), G = try cpu(gamma, .float32, "gamma"), Bt = try cpu(beta, .float32, "beta")
        let Y = try cpu(y, .float32, "y"), M = try cpu(mean, .float32, "mean"), R = try cpu(rstd, .float32, "rstd")
        try need(X, rows * cols, "x"); try need(Y, rows * cols, "y"); try need(G, cols, "gamma")
        try need(Bt, cols, "beta"); try need(M, rows, "mean"); try need(R, rows, "rstd")
        let xp = X.floats, yp = Y.floats, gp = G.floats, bp = Bt.floats, mp = M.floats, rp = R.floats
        parallelFor(rows, grain: max(1, 8192 / max(1, cols))) { rr in
            ck_layernorm_forward(xp, gp, bp, yp, mp, rp, cols, eps, rr.lowerBound, rr.upperBound)
        }
    }

    public func layerNormBackward(x: any DeviceBuffer, gamma: any DeviceBuffer, mean: any DeviceBuffer,
                                  rstd: any DeviceBuffer, dY: any DeviceBuffer, dX: any DeviceBuffer,
                                  dGamma: any DeviceBuffer, dBeta: any DeviceBuffer, rows: Int, cols: Int) throws {
        let X = try cpu(x, .float32, "x"), G = try cpu(gamma, .float32, "gamma"), M = try cpu(mean, .float32, "mean")
        let R = try cpu(rstd, .float32, "rstd"), D = try cpu(dY, .float32, "dY"), O = try cpu(dX, .float32, "dX")
        let DG = try cpu(dGamma, .float32, "dGamma"), DB = try cpu(dBeta, .float32, "dBeta")
        try need(X, rows * cols, "x"); try need(D, rows * cols, "dY"); try need(O, rows * cols, "dX")
        try need(G, cols, "gamma"); try need(DG, cols, "dGamma"); try need(DB, cols, "dBeta")
        try need(M, rows, "mean"); try need(R, rows, "rstd")
        let xp = X.floats, gp = G.floats, mp = M.floats, rp = R.floats, dp = D.floats, op = O.floats
        let dgp = DG.floats, dbp = DB.floats
        parallelFor(rows, grain: max(1, 8192 / max(1, cols))) { rr in
            ck_layernorm_backward_input(xp, gp, mp, rp, dp, op, cols, rr.lowerBound, rr.upperBound)
        }
        // Parameter gradients reduce over rows; split by columns to stay deterministic.
        parallelFor(cols, grain: 32) { cr in
            ck_layernorm_backward_params(xp, mp, rp, dp, dgp, dbp, rows, cols, cr.lowerBound, cr.upperBound)
        }
    }

    public func softmax(_ x: any DeviceBuffer, _ y: any DeviceBuffer, rows: Int, cols: Int) throws {
        let X = try cpu(x, .float32, "x"), Y = try cpu(y, .float32, "y")
        try need(X, rows * cols, "x"); try need(Y, rows * cols, "y")
        let xp = X.floats, yp = Y.floats
        parallelFor(rows, grain: max(1, 8192 / max(1, cols))) { rr in
            for i in rr {
                let row = xp + i * cols, out = yp + i * cols
                var mx = -Float.infinity
                for j in 0..<cols { mx = max(mx, row[j]) }
                if mx == -Float.infinity { for j in 0..<cols { out[j] = 0 }; continue }
                var s: Float = 0
                for j in 0..<cols { let e = expf(row[j] - mx); out[j] = e; s += e }
                let inv = 1 / s
                for j in 0..<cols { out[j] *= inv }
            }
        }
    }

    public func softmaxBackward(y: any DeviceBuffer, dY: any DeviceBuffer, dX: any DeviceBuffer, rows: Int, cols: Int) throws {
        let Y = try cpu(y, .float32, "y"), D = try cpu(dY, .float32, "dY"), O = try cpu(dX, .float32, "dX")
        try need(Y, rows * cols, "y"); try need(D, rows * cols, "dY"); try need(O, rows * cols, "dX")
        let yp = Y.floats, dp = D.floats, op = O.floats
        parallelFor(rows, grain: max(1, 8192 / max(1, cols))) { rr in
            for i in rr {
                let yr = yp + i * cols, dr = dp + i * cols, o = op + i * cols
                var dot: Float = 0
                for j in 0..<cols { dot += yr[j] * dr[j] }
                for j in 0..<cols { o[j] = yr[j] * (dr[j] - dot) }
            }
        }
    }

    // MARK: embeddings

    public func embeddingGather(table: any DeviceBuffer, ids: any DeviceBuffer, out: any DeviceBuffer,
                                count: Int, dim: Int) throws {
        let T = try cpu(table, .float32, "table"), I = try cpu(ids, .int32, "ids"), O = try cpu(out, .float32, "out")
        try need(I, count, "ids"); try need(O, count * dim, "out")
        let vocab = T.count / max(1, dim)
        for i in 0..<count {
            let id = Int(I.ints[i])
            guard id >= 0, id < vocab else {
                throw ComputeError.invalidArgument("embedding id \(id) at position \(i) is outside 0..<\(vocab)")
            }
            (O.floats + i * dim).update(from: T.floats + id * dim, count: dim)
        }
    }

    public func embeddingScatterAdd(dOut: any DeviceBuffer, ids: any DeviceBuffer, dTable: any DeviceBuffer,
                                    count: Int, dim: Int) throws {
        let D = try cpu(dOut, .float32, "dOut"), I = try cpu(ids, .int32, "ids"), T = try cpu(dTable, .float32, "dTable")
        try need(I, count, "ids"); try need(D, count * dim, "dOut")
        let vocab = T.count / max(1, dim)
        for i in 0..<count {
            let id = Int(I.ints[i])
            guard id >= 0, id < vocab else {
                throw ComputeError.invalidArgument("embedding id \(id) at position \(i) is outside 0..<\(vocab)")
            }
            let src = D.floats + i * dim, dst = T.floats + id * dim
            for j in 0..<dim { dst[j] += src[j] }
        }
    }

    // MARK: reductions

    public func sum(_ x: any DeviceBuffer, count: Int, out: any DeviceBuffer) throws {
        let X = try cpu(x, .float32, "x"), O = try cpu(out, .float32, "out")
        try need(X, count, "x"); try need(O, 1, "out")
        // Pairwise-by-blocks in Double keeps large sums accurate and order-independent of threads.
        var total = 0.0
        var i = 0
        while i < count {
            let end = min(count, i + 4096)
            var s: Float = 0
            for j in i..<end { s += X.floats[j] }
            total += Double(s)
            i = end
        }
        O.floats[0] = Float(total)
    }

    public func mean(_ x: any DeviceBuffer, count: Int, out: any DeviceBuffer) throws {
        try sum(x, count: count, out: out)
        let O = try cpu(out, .float32, "out")
        O.floats[0] = count == 0 ? 0 : O.floats[0] / Float(count)
    }

    // MARK: precision

    public func toHalf(_ src: any DeviceBuffer, _ dst: any DeviceBuffer, count: Int) throws {
        let S = try cpu(src, .float32, "src"), D = try cpu(dst, .float16, "dst")
        try need(S, count, "src"); try need(D, count, "dst")
        let sp = S.floats, dp = D.halves
        parallelFor(count, grain: 32768) { r in ck_to_half(sp, dp, r.lowerBound, r.upperBound) }
    }

    public func fromHalf(_ src: any DeviceBuffer, _ dst: any DeviceBuffer, count: Int) throws {
        let S = try cpu(src, .float16, "src"), D = try cpu(dst, .float32, "dst")
        try need(S, count, "src"); try need(D, count, "dst")
        let sp = S.halves, dp = D.floats
        parallelFor(count, grain: 32768) { r in ck_from_half(sp, dp, r.lowerBound, r.upperBound) }
    }

    public func accumulateHalf(_ src: any DeviceBuffer, into dst: any DeviceBuffer, count: Int) throws {
        let S = try cpu(src, .float32, "src"), D = try cpu(dst, .float16, "dst")
        try need(S, count, "src"); try need(D, count, "dst")
        let sp = S.floats, dp = D.halves
        parallelFor(count, grain: 32768) { r in ck_accumulate_half(sp, dp, r.lowerBound, r.upperBound) }
    }
}
