import COpenCL
import Foundation

/// The OpenCL backend: CLBlast for GEMM, the hand-written kernels in `Kernels/*.cl` for the rest.
/// Every op only enqueues work on one in-order queue; `download` and `synchronize` wait.
/// Reductions use fixed work-group shapes and no atomics, so results are bit-identical run to run
/// on one device.
public final class OpenCLBackend: Backend {
    public struct Options {
        /// Create the queue with CL_QUEUE_PROFILING_ENABLE and collect per-kernel times.
        public var profiling: Bool
        /// Memory budget in bytes (capped at 90% of CL_DEVICE_GLOBAL_MEM_SIZE).
        public var memoryLimit: Int?
        /// Keep program binaries on disk; nil directory means `ProgramDiskCache.defaultDirectory`.
        public var diskCache: Bool
        public var cacheDirectory: URL?

        public init(profiling: Bool = false, memoryLimit: Int? = nil, diskCache: Bool = true, cacheDirectory: URL? = nil) {
            self.profiling = profiling
            self.memoryLimit = memoryLimit
            self.diskCache = diskCache
            self.cacheDirectory = cacheDirectory
        }
    }

    /// Accumulated device time of one kernel (or CLBlast call) while profiling.
    public struct KernelTiming: Sendable {
        public var calls: Int
        public var nanoseconds: UInt64
    }

    /// One profiled command: its kernel (or transfer) name, the `profileTag` current when it was
    /// enqueued, and its device start and end in device nanoseconds.
    public struct KernelEvent: Sendable {
        public var name: String
        public var tag: Int
        public var start: UInt64
        public var end: UInt64
    }

    public let kind = BackendKind.opencl
    public let device: OpenCLDeviceInfo
    public let context: CLContext
    /// Work-group size of the row and reduction kernels (a power of two).
    public let workGroupSize: Int
    private let lock = NSLock()
    private var scratchBuffers: [String: CLBuffer] = [:]
    private var pendingEvents: [(event: CLEvent, tag: Int)] = []
    /// Per-kernel device times gathered at each `synchronize()` when profiling is on.
    public private(set) var kernelProfile: [String: KernelTiming] = [:]
    /// Stamped on every command enqueued from now on while profiling; `ProfilingBackend` sets it to
    /// the id of the op call it forwards, so device times can be attributed to ops.
    public var profileTag = 0
    /// When true (and profiling is on), `synchronize()` also keeps each command's device times
    /// until `takeKernelEvents()`.
    public var recordsKernelEvents = false
    private var kernelEvents: [KernelEvent] = []

    public var description: String { "\(device.selector) \(device.name)" }
    public var memoryBudget: MemoryBudget { context.budget }

    /// A backend on `device`.
    public init(device: OpenCLDeviceInfo, options: Options = Options()) throws {
        self.device = device
        context = try CLContext(device: device, profiling: options.profiling, memoryLimit: options.memoryLimit)
        if options.diskCache {
            context.diskCache = ProgramDiskCache(directory: options.cacheDirectory ?? ProgramDiskCache.defaultDirectory)
        }
        var wg = 1
        while wg * 2 <= min(256, max(1, device.maxWorkGroupSize)) { wg *= 2 }
        workGroupSize = wg
    }

    /// The device `opencl:platform.device`.
    public convenience init(platform: Int, device: Int, options: Options = Options()) throws {
        let inv = OpenCLRuntime.inventory()
        guard let d = inv.devices.first(where: { $0.platformIndex == platform && $0.deviceIndex == device }) else {
            let seen = inv.devices.map(\.selector).joined(separator: ", ")
            throw ComputeError.deviceUnavailable(
                "no OpenCL device opencl:\(platform).\(device) (\(inv.problem ?? (seen.isEmpty ? "none found" : "have: " + seen)))")
        }
        try self.init(device: d, options: options)
    }

    /// The first OpenCL device of any type (a CPU driver such as PoCL included).
    public convenience init(options: Options = Options()) throws {
        let inv = OpenCLRuntime.inventory()
        guard let d = inv.devices.first(where: \.available) else {
            throw ComputeError.deviceUnavailable(inv.problem ?? "no available OpenCL device")
        }
        try self.init(device: d, options: options)
    }

    /// Builds every kernel file now (from the caches where possible), so a build failure surfaces
    /// here and not in the middle of a training step.
    public func prepare() throws {
        for file in EmbeddedKernels.sources.keys.sorted() { _ = try program(file) }
    }

    // MARK: helpers

    var buildOptions: String { "-cl-std=CL1.2 -D WG=\(workGroupSize)" }

    func program(_ file: String) throws -> CLProgram {
        guard let source = EmbeddedKernels.sources[file] else {
            throw ComputeError.invalidArgument("no embedded kernel file \(file)")
        }
        return try context.program(source: source, file: file, options: buildOptions)
    }

    @inline(__always)
    func cl(_ b: any DeviceBuffer, _ dtype: DType = .float32, _ name: String) throws -> CLBuffer {
        guard let c = b as? CLBuffer, c.owner === context else {
            throw ComputeError.invalidArgument("\(name) was not made by this OpenCL backend")
        }
        guard c.dtype == dtype else {
            throw ComputeError.invalidArgument("\(name) holds \(c.dtype.rawValue), expected \(dtype.rawValue)")
        }
        return c
    }

    @inline(__always)
    func need(_ b: CLBuffer, _ n: Int, _ name: String) throws {
        if n > b.count || n < 0 {
            throw ComputeError.invalidArgument("\(name) has \(b.count) elements, op needs \(n)")
        }
    }

    @inline(__always)
    func i32(_ v: Int, _ what: String = "size") throws -> Int32 {
        guard v >= 0, v <= Int(Int32.max) else { throw ComputeError.invalidArgument("\(what) \(v) is outside 0...\(Int32.max)") }
        return Int32(v)
    }

    /// A reusable device buffer for temporaries, grown on demand (the queue is in order, so reuse
    /// across ops is safe).
    func scratch(_ key: String, count: Int, dtype: DType) throws -> CLBuffer {
        lock.lock(); defer { lock.unlock() }
        if let b = scratchBuffers[key], b.count >= count, b.dtype == dtype { return b }
        scratchBuffers[key] = nil
        let b = try context.makeBuffer(count: max(count, 1), dtype: dtype)
        scratchBuffers[key] = b
        return b
    }

    /// Enqueues `name` from `file` over `global` work-items in groups of `local`.
    func launch(_ file: String, _ name: String, global: Int, local: Int, _ args: [CLArg]) throws {
        if global <= 0 { return }
        let kernel = try program(file).kernel(name)
        lock.lock(); defer { lock.unlock() }
        try kernel.set(args)
        var g = (global + local - 1) / local * local
        var l = local
        var ev: cl_event? = nil
        let st = context.profiling ? clEnqueueNDRangeKernel(context.queue, kernel.kernel, 1, nil, &g, &l, 0, nil, &ev)
                                   : clEnqueueNDRangeKernel(context.queue, kernel.kernel, 1, nil, &g, &l, 0, nil, nil)
        try clCheck(st, "clEnqueueNDRangeKernel(\(name))")
        if let ev { pendingEvents.append((CLEvent(event: ev, name: name), profileTag)) }
    }

    /// Keeps a profiled transfer's event (enqueued outside `lock`).
    private func track(_ ev: cl_event?, _ name: String) {
        guard let ev else { return }
        lock.lock(); defer { lock.unlock() }
        pendingEvents.append((CLEvent(event: ev, name: name), profileTag))
    }

    /// One work-item per element in groups of 64.
    func launch1D(_ file: String, _ name: String, _ n: Int, _ args: [CLArg]) throws {
        try launch(file, name, global: n, local: min(64, workGroupSize), args)
    }

    /// One work-group of `workGroupSize` items per row.
    func launchRows(_ file: String, _ name: String, rows: Int, _ args: [CLArg]) throws {
        try launch(file, name, global: rows * workGroupSize, local: workGroupSize, args)
    }

    // MARK: memory

    public func makeBuffer(count: Int, dtype: DType) throws -> any DeviceBuffer {
        try context.makeBuffer(count: count, dtype: dtype)
    }

    private func write(_ raw: UnsafeRawPointer, bytes: Int, to b: CLBuffer, byteOffset: Int) throws {
        var ev: cl_event? = nil
        let st = context.profiling
            ? clEnqueueWriteBuffer(context.queue, b.mem, cl_bool(CL_TRUE), byteOffset, bytes, raw, 0, nil, &ev)
            : clEnqueueWriteBuffer(context.queue, b.mem, cl_bool(CL_TRUE), byteOffset, bytes, raw, 0, nil, nil)
        try clCheck(st, "clEnqueueWriteBuffer(\(bytes) bytes)")
        track(ev, "clEnqueueWriteBuffer")
    }

    private func read(_ raw: UnsafeMutableRawPointer, bytes: Int, from b: CLBuffer, byteOffset: Int) throws {
        var ev: cl_event? = nil
        let st = context.profiling
            ? clEnqueueReadBuffer(context.queue, b.mem, cl_bool(CL_TRUE), byteOffset, bytes, raw, 0, nil, &ev)
            : clEnqueueReadBuffer(context.queue, b.mem, cl_bool(CL_TRUE), byteOffset, bytes, raw, 0, nil, nil)
        try clCheck(st, "clEnqueueReadBuffer(\(bytes) bytes)")
        track(ev, "clEnqueueReadBuffer")
    }

    public func upload(_ values: [Float], to buffer: any DeviceBuffer, offset: Int) throws {
        let b = try cl(buffer, .float32, "upload target")
        try need(b, offset + values.count, "upload target")
        if values.isEmpty { return }
        try values.withUnsafeBytes { try write($0.baseAddress!, bytes: $0.count, to: b, byteOffset: offset * 4) }
    }

    public func upload(_ values: [Int32], to buffer: any DeviceBuffer, offset: Int) throws {
        let b = try cl(buffer, .int32, "upload target")
        try need(b, offset + values.count, "upload target")
        if values.isEmpty { return }
        try values.withUnsafeBytes { try write($0.baseAddress!, bytes: $0.count, to: b, byteOffset: offset * 4) }
    }

    public func download(_ buffer: any DeviceBuffer, offset: Int, count: Int) throws -> [Float] {
        let b = try cl(buffer, .float32, "download source")
        try need(b, offset + count, "download source")
        guard count > 0 else { return [] }
        var out = [Float](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try read($0.baseAddress!, bytes: $0.count, from: b, byteOffset: offset * 4) }
        return out
    }

    public func downloadInt32(_ buffer: any DeviceBuffer, offset: Int, count: Int) throws -> [Int32] {
        let b = try cl(buffer, .int32, "download source")
        try need(b, offset + count, "download source")
        guard count > 0 else { return [] }
        var out = [Int32](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try read($0.baseAddress!, bytes: $0.count, from: b, byteOffset: offset * 4) }
        return out
    }

    /// Raw fp16 bit patterns of a float16 buffer (for tests and checkpoints).
    public func downloadHalfBits(_ buffer: any DeviceBuffer, offset: Int = 0, count: Int? = nil) throws -> [UInt16] {
        let b = try cl(buffer, .float16, "download source")
        let n = count ?? b.count - offset
        try need(b, offset + n, "download source")
        guard n > 0 else { return [] }
        var out = [UInt16](repeating: 0, count: n)
        try out.withUnsafeMutableBytes { try read($0.baseAddress!, bytes: $0.count, from: b, byteOffset: offset * 2) }
        return out
    }

    public func fill(_ buffer: any DeviceBuffer, value: Float, offset: Int, count: Int) throws {
        guard let b = buffer as? CLBuffer, b.owner === context else {
            throw ComputeError.invalidArgument("fill target was not made by this OpenCL backend")
        }
        try need(b, offset + count, "fill target")
        if count == 0 { return }
        let es = b.dtype.byteSize
        var ev: cl_event? = nil
        func enqueueFill(_ pattern: UnsafeRawPointer, _ size: Int) -> cl_int {
            context.profiling
                ? clEnqueueFillBuffer(context.queue, b.mem, pattern, size, offset * es, count * es, 0, nil, &ev)
                : clEnqueueFillBuffer(context.queue, b.mem, pattern, size, offset * es, count * es, 0, nil, nil)
        }
        let st: cl_int
        switch b.dtype {
        case .float32:
            var v = value
            st = enqueueFill(&v, 4)
        case .int32:
            var v = Int32(value)
            st = enqueueFill(&v, 4)
        case .float16:
            var v = Float16(value).bitPattern
            st = enqueueFill(&v, 2)
        }
        try clCheck(st, "clEnqueueFillBuffer")
        track(ev, "clEnqueueFillBuffer")
    }

    public func copy(_ src: any DeviceBuffer, srcOffset: Int, to dst: any DeviceBuffer, dstOffset: Int, count: Int) throws {
        guard let s = src as? CLBuffer, let d = dst as? CLBuffer, s.owner === context, d.owner === context,
              s.dtype == d.dtype else {
            throw ComputeError.invalidArgument("copy needs two buffers of one dtype from this OpenCL backend")
        }
        try need(s, srcOffset + count, "copy source")
        try need(d, dstOffset + count, "copy target")
        if count == 0 { return }
        let es = s.dtype.byteSize
        var ev: cl_event? = nil
        let st = context.profiling
            ? clEnqueueCopyBuffer(context.queue, s.mem, d.mem, srcOffset * es, dstOffset * es, count * es, 0, nil, &ev)
            : clEnqueueCopyBuffer(context.queue, s.mem, d.mem, srcOffset * es, dstOffset * es, count * es, 0, nil, nil)
        try clCheck(st, "clEnqueueCopyBuffer")
        track(ev, "clEnqueueCopyBuffer")
    }

    public func synchronize() throws {
        try context.finish()
        lock.lock()
        let events = pendingEvents
        pendingEvents.removeAll()
        lock.unlock()
        for (e, tag) in events {
            let (s, t) = try e.profile()
            kernelProfile[e.name, default: KernelTiming(calls: 0, nanoseconds: 0)].calls += 1
            kernelProfile[e.name, default: KernelTiming(calls: 0, nanoseconds: 0)].nanoseconds += t >= s ? t - s : 0
            if recordsKernelEvents { kernelEvents.append(KernelEvent(name: e.name, tag: tag, start: s, end: max(s, t))) }
        }
    }

    /// Clears the per-kernel times (and any kept kernel events).
    public func resetProfile() {
        kernelProfile.removeAll()
        kernelEvents.removeAll()
    }

    /// The kernel events kept since the last call (see `recordsKernelEvents`), oldest first.
    public func takeKernelEvents() -> [KernelEvent] {
        defer { kernelEvents.removeAll() }
        return kernelEvents
    }

    // MARK: GEMM

    public func gemmStridedBatched(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                   a: any DeviceBuffer, aOffset: Int, lda: Int, strideA: Int,
                                   b: any DeviceBuffer, bOffset: Int, ldb: Int, strideB: Int,
                                   beta: Float, c: any DeviceBuffer, cOffset: Int, ldc: Int, strideC: Int,
                                   batch: Int) throws {
        let A = try cl(a, .float32, "A"), B = try cl(b, .float32, "B"), C = try cl(c, .float32, "C")
        let args = try GemmArguments(transA: transA, transB: transB, m: m, n: n, k: k, aOffset: aOffset, lda: lda,
                                     strideA: strideA, bOffset: bOffset, ldb: ldb, strideB: strideB,
                                     cOffset: cOffset, ldc: ldc, strideC: strideC, batch: batch)
        if args.isEmpty { return }
        try need(C, args.needC, "C")
        if k == 0 {
            // C = beta * C, as the CPU backend defines it (BLAS libraries disagree here).
            try launch1D("elementwise.cl", "gemm_scale_c", m * n * batch, [
                .buffer(C), .int(try i32(cOffset)), .int(try i32(ldc)), .int(try i32(strideC)),
                .int(try i32(m)), .int(try i32(n)), .int(try i32(batch)), .float(beta)])
            return
        }
        try need(A, args.needA, "A")
        try need(B, args.needB, "B")
        let ta = transA ? CLBlastTransposeYes : CLBlastTransposeNo
        let tb = transB ? CLBlastTransposeYes : CLBlastTransposeNo
        lock.lock(); defer { lock.unlock() }
        var queue: cl_command_queue? = context.queue
        var ev: cl_event? = nil
        let name = batch == 1 ? "CLBlastSgemm" : "CLBlastSgemmStridedBatched"
        func call(_ evp: UnsafeMutablePointer<cl_event?>?) -> CLBlastStatusCode {
            if batch == 1 {
                return CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, m, n, k, alpha, A.mem, aOffset, lda,
                                    B.mem, bOffset, ldb, beta, C.mem, cOffset, ldc, &queue, evp)
            }
            return CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, m, n, k, alpha,
                                              A.mem, aOffset, lda, strideA, B.mem, bOffset, ldb, strideB,
                                              beta, C.mem, cOffset, ldc, strideC, batch, &queue, evp)
        }
        let status = context.profiling ? call(&ev) : call(nil)
        if status != CLBlastSuccess {
            throw ComputeError.openCL(call: "\(name)(m=\(m) n=\(n) k=\(k) batch=\(batch))", status: status.rawValue)
        }
        if let ev { pendingEvents.append((CLEvent(event: ev, name: name), profileTag)) }
    }

    // MARK: elementwise

    public func addBias(_ x: any DeviceBuffer, bias: any DeviceBuffer, rows: Int, cols: Int) throws {
        let X = try cl(x, .float32, "x"), Bv = try cl(bias, .float32, "bias")
        try need(X, rows * cols, "x"); try need(Bv, cols, "bias")
        try launch1D("elementwise.cl", "add_bias", rows * cols, [.buffer(X), .buffer(Bv), .int(try i32(rows)), .int(try i32(cols))])
    }

    public func biasBackward(dY: any DeviceBuffer, dBias: any DeviceBuffer, rows: Int, cols: Int) throws {
        let D = try cl(dY, .float32, "dY"), G = try cl(dBias, .float32, "dBias")
        try need(D, rows * cols, "dY"); try need(G, cols, "dBias")
        try launch1D("elementwise.cl", "bias_backward", cols, [.buffer(D), .buffer(G), .int(try i32(rows)), .int(try i32(cols))])
    }

    public func addBiasGelu(_ x: any DeviceBuffer, bias: any DeviceBuffer, _ y: any DeviceBuffer, rows: Int, cols: Int) throws {
        let X = try cl(x, .float32, "x"), Bv = try cl(bias, .float32, "bias"), Y = try cl(y, .float32, "y")
        try need(X, rows * cols, "x"); try need(Bv, cols, "bias"); try need(Y, rows * cols, "y")
        try launch1D("elementwise.cl", "add_bias_gelu", rows * cols,
                     [.buffer(X), .buffer(Bv), .buffer(Y), .int(try i32(rows)), .int(try i32(cols))])
    }

    public func gelu(_ x: any DeviceBuffer, _ y: any DeviceBuffer, count: Int) throws {
        let X = try cl(x, .float32, "x"), Y = try cl(y, .float32, "y")
        try need(X, count, "x"); try need(Y, count, "y")
        try launch1D("elementwise.cl", "gelu_forward", count, [.buffer(X), .buffer(Y), .int(try i32(count))])
    }

    public func geluBackward(x: any DeviceBuffer, dY: any DeviceBuffer, dX: any DeviceBuffer, count: Int) throws {
        let X = try cl(x, .float32, "x"), D = try cl(dY, .float32, "dY"), O = try cl(dX, .float32, "dX")
        try need(X, count, "x"); try need(D, count, "dY"); try need(O, count, "dX")
        try launch1D("elementwise.cl", "gelu_backward", count, [.buffer(X), .buffer(D), .buffer(O), .int(try i32(count))])
    }

    public func add(_ a: any DeviceBuffer, _ b: any DeviceBuffer, _ y: any DeviceBuffer, count: Int) throws {
        let A = try cl(a, .float32, "a"), B = try cl(b, .float32, "b"), Y = try cl(y, .float32, "y")
        try need(A, count, "a"); try need(B, count, "b"); try need(Y, count, "y")
        try launch1D("elementwise.cl", "add", count, [.buffer(A), .buffer(B), .buffer(Y), .int(try i32(count))])
    }

    public func axpy(alpha: Float, x: any DeviceBuffer, y: any DeviceBuffer, count: Int) throws {
        let X = try cl(x, .float32, "x"), Y = try cl(y, .float32, "y")
        try need(X, count, "x"); try need(Y, count, "y")
        try launch1D("elementwise.cl", "axpy", count, [.float(alpha), .buffer(X), .buffer(Y), .int(try i32(count))])
    }

    public func scale(_ x: any DeviceBuffer, by alpha: Float, count: Int) throws {
        let X = try cl(x, .float32, "x")
        try need(X, count, "x")
        try launch1D("elementwise.cl", "scale", count, [.buffer(X), .float(alpha), .int(try i32(count))])
    }

    // MARK: normalisation and softmax

    public func layerNorm(x: any DeviceBuffer, gamma: any DeviceBuffer, beta: any DeviceBuffer,
                          y: any DeviceBuffer, mean: any DeviceBuffer, rstd: any DeviceBuffer,
                          rows: Int, cols: Int, eps: Float) throws {
        let X = try cl(x, .float32, "x"), G = try cl(gamma, .float32, "gamma"), Bt = try cl(beta, .float32, "beta")
        let Y = try cl(y, .float32, "y"), M = try cl(mean, .float32, "mean"), R = try cl(rstd, .float32, "rstd")
        try need(X, rows * cols, "x"); try need(Y, rows * cols, "y"); try need(G, cols, "gamma")
        try need(Bt, cols, "beta"); try need(M, rows, "mean"); try need(R, rows, "rstd")
        if cols == 0 { return }
        try launchRows("layernorm.cl", "layernorm_forward", rows: rows, [
            .buffer(X), .buffer(G), .buffer(Bt), .buffer(Y), .buffer(M), .buffer(R),
            .int(try i32(rows)), .int(try i32(cols)), .float(eps)])
    }

    public func layerNormBackward(x: any DeviceBuffer, gamma: any DeviceBuffer, mean: any DeviceBuffer,
                                  rstd: any DeviceBuffer, dY: any DeviceBuffer, dX: any DeviceBuffer,
                                  dGamma: any DeviceBuffer, dBeta: any DeviceBuffer, rows: Int, cols: Int) throws {
        let X = try cl(x, .float32, "x"), G = try cl(gamma, .float32, "gamma"), M = try cl(mean, .float32, "mean")
        let R = try cl(rstd, .float32, "rstd"), D = try cl(dY, .float32, "dY"), O = try cl(dX, .float32, "dX")
        let DG = try cl(dGamma, .float32, "dGamma"), DB = try cl(dBeta, .float32, "dBeta")
        try need(X, rows * cols, "x"); try need(D, rows * cols, "dY"); try need(O, rows * cols, "dX")
        try need(G, cols, "gamma"); try need(DG, cols, "dGamma"); try need(DB, cols, "dBeta")
        try need(M, rows, "mean"); try need(R, rows, "rstd")
        if cols == 0 { return }
        try launchRows("layernorm.cl", "layernorm_backward_dx", rows: rows, [
            .buffer(X), .buffer(G), .buffer(M), .buffer(R), .buffer(D), .buffer(O), .int(try i32(rows)), .int(try i32(cols))])
        try launch1D("layernorm.cl", "layernorm_backward_params", cols, [
            .buffer(X), .buffer(M), .buffer(R), .buffer(D), .buffer(DG), .buffer(DB), .int(try i32(rows)), .int(try i32(cols))])
    }

    public func softmax(_ x: any DeviceBuffer, _ y: any DeviceBuffer, rows: Int, cols: Int) throws {
        let X = try cl(x, .float32, "x"), Y = try cl(y, .float32, "y")
        try need(X, rows * cols, "x"); try need(Y, rows * cols, "y")
        if cols == 0 { return }
        try launchRows("softmax.cl", "softmax_forward", rows: rows, [.buffer(X), .buffer(Y), .int(try i32(rows)), .int(try i32(cols))])
    }

    public func softmaxBackward(y: any DeviceBuffer, dY: any DeviceBuffer, dX: any DeviceBuffer, rows: Int, cols: Int) throws {
        let Y = try cl(y, .float32, "y"), D = try cl(dY, .float32, "dY"), O = try cl(dX, .float32, "dX")
        try need(Y, rows * cols, "y"); try need(D, rows * cols, "dY"); try need(O, rows * cols, "dX")
        if cols == 0 { return }
        try launchRows("softmax.cl", "softmax_backward", rows: rows, [
            .buffer(Y), .buffer(D), .buffer(O), .int(try i32(rows)), .int(try i32(cols))])
    }

    // MARK: embeddings

    public func embeddingGather(table: any DeviceBuffer, ids: any DeviceBuffer, out: any DeviceBuffer,
                                count: Int, dim: Int) throws {
        let T = try cl(table, .float32, "table"), I = try cl(ids, .int32, "ids"), O = try cl(out, .float32, "out")
        try need(I, count, "ids"); try need(O, count * dim, "out")
        let vocab = T.count / max(1, dim)
        try launch1D("embedding.cl", "embedding_gather", count * dim, [
            .buffer(T), .buffer(I), .buffer(O), .int(try i32(count)), .int(try i32(dim)), .int(try i32(vocab))])
    }

    public func embeddingScatterAdd(dOut: any DeviceBuffer, ids: any DeviceBuffer, dTable: any DeviceBuffer,
                                    count: Int, dim: Int) throws {
        let D = try cl(dOut, .float32, "dOut"), I = try cl(ids, .int32, "ids"), T = try cl(dTable, .float32, "dTable")
        try need(I, count, "ids"); try need(D, count * dim, "dOut")
        let vocab = T.count / max(1, dim)
        if count == 0 || dim == 0 || vocab == 0 { return }
        let ranges = try scratch("embedding.ranges", count: 2 * vocab, dtype: .int32)
        let perm = try scratch("embedding.perm", count: count, dtype: .int32)
        try launch1D("embedding.cl", "embedding_bucket", vocab, [
            .buffer(I), .int(try i32(count)), .int(try i32(vocab)), .buffer(ranges), .buffer(perm)])
        try launch1D("embedding.cl", "embedding_scatter_add", vocab * dim, [
            .buffer(D), .buffer(ranges), .buffer(perm), .buffer(T), .int(try i32(vocab)), .int(try i32(dim))])
    }

    // MARK: reductions

    /// out[0] = (sum of x or of x^2) / divisor, in a fixed order.
    private func reduce(_ x: any DeviceBuffer, count: Int, out: any DeviceBuffer, squares: Bool, divisor: Float) throws {
        let X = try cl(x, .float32, "x"), O = try cl(out, .float32, "out")
        try need(X, count, "x"); try need(O, 1, "out")
        let wg = workGroupSize
        let groups = max(1, min(64, (count + wg - 1) / wg))
        let partials = try scratch("reduce.partials", count: 64, dtype: .float32)
        try launch("reduce.cl", "reduce_partial", global: groups * wg, local: wg, [
            .buffer(X), .int(try i32(count)), .int(squares ? 1 : 0), .buffer(partials)])
        try launch("reduce.cl", "reduce_final", global: wg, local: wg, [
            .buffer(partials), .int(Int32(groups)), .float(divisor), .buffer(O)])
    }

    public func sum(_ x: any DeviceBuffer, count: Int, out: any DeviceBuffer) throws {
        try reduce(x, count: count, out: out, squares: false, divisor: 1)
    }

    public func mean(_ x: any DeviceBuffer, count: Int, out: any DeviceBuffer) throws {
        try reduce(x, count: count, out: out, squares: false, divisor: count == 0 ? 1 : Float(count))
    }

    // MARK: training ops

    public func mul(_ a: any DeviceBuffer, _ b: any DeviceBuffer, _ y: any DeviceBuffer, count: Int) throws {
        let A = try cl(a, .float32, "a"), B = try cl(b, .float32, "b"), Y = try cl(y, .float32, "y")
        try need(A, count, "a"); try need(B, count, "b"); try need(Y, count, "y")
        try launch1D("elementwise.cl", "mul", count, [.buffer(A), .buffer(B), .buffer(Y), .int(try i32(count))])
    }

    public func sumOfSquares(_ x: any DeviceBuffer, count: Int, out: any DeviceBuffer) throws {
        try reduce(x, count: count, out: out, squares: true, divisor: 1)
    }

    public func crossEntropy(logits: any DeviceBuffer, targets: any DeviceBuffer, losses: any DeviceBuffer,
                             dLogits: any DeviceBuffer, rows: Int, classes: Int, smoothing: Float, gradScale: Float) throws {
        let L = try cl(logits, .float32, "logits"), T = try cl(targets, .int32, "targets")
        let Ls = try cl(losses, .float32, "losses"), D = try cl(dLogits, .float32, "dLogits")
        try need(L, rows * classes, "logits"); try need(D, rows * classes, "dLogits")
        try need(T, rows, "targets"); try need(Ls, rows, "losses")
        guard classes > 0 || rows == 0 else { throw ComputeError.invalidArgument("crossEntropy needs classes > 0") }
        try launchRows("softmax.cl", "cross_entropy", rows: rows, [
            .buffer(L), .buffer(T), .buffer(Ls), .buffer(D), .int(try i32(rows)), .int(try i32(classes)),
            .float(smoothing), .float(gradScale)])
    }

    public func adamW(param: any DeviceBuffer, grad: any DeviceBuffer, m: any DeviceBuffer, v: any DeviceBuffer,
                      count: Int, lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float,
                      step: Int, gradScale: Float) throws {
        let P = try cl(param, .float32, "param"), G = try cl(grad, .float32, "grad")
        let M = try cl(m, .float32, "m"), V = try cl(v, .float32, "v")
        try need(P, count, "param"); try need(G, count, "grad"); try need(M, count, "m"); try need(V, count, "v")
        guard step >= 1 else { throw ComputeError.invalidArgument("adamW step \(step) must be >= 1") }
        let bc1 = 1 - powf(beta1, Float(step)), bc2 = 1 - powf(beta2, Float(step))
        try launch1D("optimizer.cl", "adamw", count, [
            .buffer(P), .buffer(G), .buffer(M), .buffer(V), .int(try i32(count)), .float(lr), .float(beta1),
            .float(beta2), .float(eps), .float(weightDecay), .float(bc1), .float(bc2), .float(gradScale)])
    }

    public func emaUpdate(ema: any DeviceBuffer, param: any DeviceBuffer, decay: Float, count: Int) throws {
        let E = try cl(ema, .float32, "ema"), P = try cl(param, .float32, "param")
        try need(E, count, "ema"); try need(P, count, "param")
        try launch1D("optimizer.cl", "ema_update", count, [.buffer(E), .buffer(P), .float(decay), .int(try i32(count))])
    }

    public func vqNearest(x: any DeviceBuffer, codebook: any DeviceBuffer, indices: any DeviceBuffer,
                          distances: any DeviceBuffer, rows: Int, codes: Int, dim: Int) throws {
        let X = try cl(x, .float32, "x"), C = try cl(codebook, .float32, "codebook")
        let I = try cl(indices, .int32, "indices"), D = try cl(distances, .float32, "distances")
        try need(X, rows * dim, "x"); try need(C, codes * dim, "codebook"); try need(I, rows, "indices"); try need(D, rows, "distances")
        guard codes > 0 || rows == 0 else { throw ComputeError.invalidArgument("vqNearest needs codes > 0") }
        try launchRows("vq.cl", "vq_nearest", rows: rows, [
            .buffer(X), .buffer(C), .buffer(I), .buffer(D), .int(try i32(rows)), .int(try i32(codes)), .int(try i32(dim))])
    }

    /// Work-items per (batch, head) tile: one per row up to the work-group size.
    private func attentionLocal(_ seq: Int) -> Int { max(1, min(workGroupSize, seq)) }

    public func attentionForward(qkv: any DeviceBuffer, lengths: any DeviceBuffer, starts: any DeviceBuffer,
                                 probs: any DeviceBuffer, out: any DeviceBuffer, rows: Int, batch: Int, seq: Int,
                                 heads: Int, headDim: Int) throws {
        let Q = try cl(qkv, .float32, "qkv"), L = try cl(lengths, .int32, "lengths"), S = try cl(starts, .int32, "starts")
        let P = try cl(probs, .float32, "probs"), O = try cl(out, .float32, "out")
        try need(Q, rows * 3 * heads * headDim, "qkv"); try need(L, batch, "lengths"); try need(S, batch, "starts")
        try need(P, batch * heads * seq * seq, "probs"); try need(O, rows * heads * headDim, "out")
        if batch == 0 || seq == 0 || heads == 0 { return }
        let local = attentionLocal(seq)
        try launch("attention.cl", "attention_forward", global: batch * heads * local, local: local, [
            .buffer(Q), .buffer(L), .buffer(S), .buffer(P), .buffer(O), .int(try i32(seq)), .int(try i32(heads)),
            .int(try i32(headDim)), .float(1 / Float(max(1, headDim)).squareRoot())])
    }

    public func attentionBackward(qkv: any DeviceBuffer, lengths: any DeviceBuffer, starts: any DeviceBuffer,
                                  probs: any DeviceBuffer, dOut: any DeviceBuffer, dQKV: any DeviceBuffer, rows: Int,
                                  batch: Int, seq: Int, heads: Int, headDim: Int) throws {
        let Q = try cl(qkv, .float32, "qkv"), L = try cl(lengths, .int32, "lengths"), S = try cl(starts, .int32, "starts")
        let P = try cl(probs, .float32, "probs"), D = try cl(dOut, .float32, "dOut"), DQ = try cl(dQKV, .float32, "dQKV")
        try need(Q, rows * 3 * heads * headDim, "qkv"); try need(P, batch * heads * seq * seq, "probs")
        try need(L, batch, "lengths"); try need(S, batch, "starts")
        try need(D, rows * heads * headDim, "dOut"); try need(DQ, rows * 3 * heads * headDim, "dQKV")
        if batch == 0 || seq == 0 || heads == 0 { return }
        let scratch = try scratch("attention.dS", count: batch * heads * seq * seq, dtype: .float32)
        let local = attentionLocal(seq)
        try launch("attention.cl", "attention_backward", global: batch * heads * local, local: local, [
            .buffer(Q), .buffer(L), .buffer(S), .buffer(P), .buffer(D), .buffer(DQ), .buffer(scratch), .int(try i32(seq)),
            .int(try i32(heads)), .int(try i32(headDim)), .float(1 / Float(max(1, headDim)).squareRoot())])
    }

    // MARK: precision

    public func toHalf(_ src: any DeviceBuffer, _ dst: any DeviceBuffer, count: Int) throws {
        let S = try cl(src, .float32, "src"), D = try cl(dst, .float16, "dst")
        try need(S, count, "src"); try need(D, count, "dst")
        try launch1D("convert.cl", "to_half", count, [.buffer(S), .buffer(D), .int(try i32(count))])
    }

    public func fromHalf(_ src: any DeviceBuffer, _ dst: any DeviceBuffer, count: Int) throws {
        let S = try cl(src, .float16, "src"), D = try cl(dst, .float32, "dst")
        try need(S, count, "src"); try need(D, count, "dst")
        try launch1D("convert.cl", "from_half", count, [.buffer(S), .buffer(D), .int(try i32(count))])
    }

    public func accumulateHalf(_ src: any DeviceBuffer, into dst: any DeviceBuffer, count: Int) throws {
        let S = try cl(src, .float32, "src"), D = try cl(dst, .float16, "dst")
        try need(S, count, "src"); try need(D, count, "dst")
        try launch1D("convert.cl", "accumulate_half", count, [.buffer(S), .buffer(D), .int(try i32(count))])
    }
}
