import COpenCL
import Foundation

// The OpenCL runtime layer: every cl_* handle is owned by one Swift object that releases it in
// deinit, and every status is checked and thrown as `ComputeError.openCL(call:status:)`.

/// Throws `ComputeError.openCL` (or `.outOfMemory`-compatible status) when `status` is not CL_SUCCESS.
@inline(__always)
func clCheck(_ status: cl_int, _ call: @autoclosure () -> String) throws {
    if status != CL_SUCCESS { throw ComputeError.openCL(call: call(), status: status) }
}

// MARK: - Enumeration

/// The kind of an OpenCL device.
public enum OpenCLDeviceType: String, Sendable {
    case gpu, cpu, accelerator, other

    init(_ bits: cl_device_type) {
        if bits & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 { self = .gpu }
        else if bits & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 { self = .accelerator }
        else if bits & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 { self = .cpu }
        else { self = .other }
    }
}

/// One OpenCL platform (an installed driver).
public struct OpenCLPlatformInfo: @unchecked Sendable {
    public let index: Int
    public let name: String
    public let vendor: String
    public let version: String
    public let devices: [OpenCLDeviceInfo]
    let id: cl_platform_id
}

/// One OpenCL device and the capabilities the backend cares about.
public struct OpenCLDeviceInfo: @unchecked Sendable {
    public let platformIndex: Int
    public let deviceIndex: Int
    public let platformName: String
    public let platformVersion: String
    public let name: String
    public let vendor: String
    public let type: OpenCLDeviceType
    /// e.g. "OpenCL 3.0 PoCL ..." (CL_DEVICE_VERSION).
    public let openCLVersion: String
    public let driverVersion: String
    public let globalMemory: UInt64
    public let maxAllocation: UInt64
    public let localMemory: UInt64
    public let computeUnits: Int
    public let maxWorkGroupSize: Int
    public let hasFP16: Bool
    public let available: Bool
    let id: cl_device_id
    let platformID: cl_platform_id

    /// `opencl:P.D`, the form `--device` accepts.
    public var selector: String { "opencl:\(platformIndex).\(deviceIndex)" }
}

/// What the OpenCL loader reports: the platforms, or why there are none.
public struct OpenCLInventory: Sendable {
    public let platforms: [OpenCLPlatformInfo]
    /// Set when the loader could not list platforms (no ICD installed: -1001) or listed none.
    public let problem: String?
    public var devices: [OpenCLDeviceInfo] { platforms.flatMap(\.devices) }
}

public enum OpenCLRuntime {
    /// Lists every platform and device. Never throws: a missing ICD is reported in `problem`.
    public static func inventory() -> OpenCLInventory {
        var n: cl_uint = 0
        let st = clGetPlatformIDs(0, nil, &n)
        if st == -1001 || (st == CL_SUCCESS && n == 0) {
            return OpenCLInventory(platforms: [], problem: "no OpenCL platform (no ICD installed or none registered)")
        }
        if st != CL_SUCCESS {
            return OpenCLInventory(platforms: [], problem: ComputeError.openCL(call: "clGetPlatformIDs", status: st).description)
        }
        var ids = [cl_platform_id?](repeating: nil, count: Int(n))
        let st2 = clGetPlatformIDs(n, &ids, nil)
        if st2 != CL_SUCCESS {
            return OpenCLInventory(platforms: [], problem: ComputeError.openCL(call: "clGetPlatformIDs", status: st2).description)
        }
        var platforms: [OpenCLPlatformInfo] = []
        for (pi, pid) in ids.enumerated() {
            guard let pid else { continue }
            let pname = platformString(pid, CL_PLATFORM_NAME)
            let pvendor = platformString(pid, CL_PLATFORM_VENDOR)
            let pversion = platformString(pid, CL_PLATFORM_VERSION)
            var dn: cl_uint = 0
            var devices: [OpenCLDeviceInfo] = []
            if clGetDeviceIDs(pid, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &dn) == CL_SUCCESS, dn > 0 {
                var dids = [cl_device_id?](repeating: nil, count: Int(dn))
                if clGetDeviceIDs(pid, cl_device_type(CL_DEVICE_TYPE_ALL), dn, &dids, nil) == CL_SUCCESS {
                    for (di, did) in dids.enumerated() {
                        guard let did else { continue }
                        devices.append(deviceInfo(did, platform: pid, platformIndex: pi, deviceIndex: di,
                                                  platformName: pname, platformVersion: pversion))
                    }
                }
            }
            platforms.append(OpenCLPlatformInfo(index: pi, name: pname, vendor: pvendor, version: pversion,
                                                devices: devices, id: pid))
        }
        return OpenCLInventory(platforms: platforms, problem: platforms.isEmpty ? "no OpenCL platform" : nil)
    }

    static func platformString(_ id: cl_platform_id, _ param: Int32) -> String {
        var size = 0
        guard clGetPlatformInfo(id, cl_platform_info(param), 0, nil, &size) == CL_SUCCESS, size > 0 else { return "?" }
        var bytes = [CChar](repeating: 0, count: size + 1)
        guard clGetPlatformInfo(id, cl_platform_info(param), size, &bytes, nil) == CL_SUCCESS else { return "?" }
        return String(cString: bytes).trimmingCharacters(in: .whitespaces)
    }

    static func deviceString(_ id: cl_device_id, _ param: Int32) -> String {
        var size = 0
        guard clGetDeviceInfo(id, cl_device_info(param), 0, nil, &size) == CL_SUCCESS, size > 0 else { return "?" }
        var bytes = [CChar](repeating: 0, count: size + 1)
        guard clGetDeviceInfo(id, cl_device_info(param), size, &bytes, nil) == CL_SUCCESS else { return "?" }
        return String(cString: bytes).trimmingCharacters(in: .whitespaces)
    }

    static func deviceValue<T: FixedWidthInteger>(_ id: cl_device_id, _ param: Int32, _: T.Type) -> T {
        var v: T = 0
        _ = clGetDeviceInfo(id, cl_device_info(param), MemoryLayout<T>.size, &v, nil)
        return v
    }

    static func deviceInfo(_ did: cl_device_id, platform: cl_platform_id, platformIndex: Int, deviceIndex: Int,
                           platformName: String, platformVersion: String) -> OpenCLDeviceInfo {
        let ext = deviceString(did, CL_DEVICE_EXTENSIONS)
        return OpenCLDeviceInfo(
            platformIndex: platformIndex, deviceIndex: deviceIndex,
            platformName: platformName, platformVersion: platformVersion,
            name: deviceString(did, CL_DEVICE_NAME), vendor: deviceString(did, CL_DEVICE_VENDOR),
            type: OpenCLDeviceType(deviceValue(did, CL_DEVICE_TYPE, cl_device_type.self)),
            openCLVersion: deviceString(did, CL_DEVICE_VERSION), driverVersion: deviceString(did, CL_DRIVER_VERSION),
            globalMemory: deviceValue(did, CL_DEVICE_GLOBAL_MEM_SIZE, cl_ulong.self),
            maxAllocation: deviceValue(did, CL_DEVICE_MAX_MEM_ALLOC_SIZE, cl_ulong.self),
            localMemory: deviceValue(did, CL_DEVICE_LOCAL_MEM_SIZE, cl_ulong.self),
            computeUnits: Int(deviceValue(did, CL_DEVICE_MAX_COMPUTE_UNITS, cl_uint.self)),
            maxWorkGroupSize: Int(deviceValue(did, CL_DEVICE_MAX_WORK_GROUP_SIZE, Int.self)),
            hasFP16: ext.split(separator: " ").contains("cl_khr_fp16"),
            available: deviceValue(did, CL_DEVICE_AVAILABLE, cl_bool.self) != 0,
            id: did, platformID: platform)
    }
}

// MARK: - Memory budget

/// Bytes in use on one device against a limit; exceeding it throws `outOfMemory`.
public final class MemoryBudget: @unchecked Sendable {
    public let limit: Int
    private var used = 0
    private var peak = 0
    private let lock = NSLock()

    public init(limit: Int) { self.limit = limit }

    public var bytesInUse: Int { lock.lock(); defer { lock.unlock() }; return used }
    public var peakBytes: Int { lock.lock(); defer { lock.unlock() }; return peak }

    func reserve(_ bytes: Int) throws {
        lock.lock(); defer { lock.unlock() }
        if used + bytes > limit {
            throw ComputeError.outOfMemory(
                "allocating \(bytes) bytes with \(used) in use would exceed the device memory budget of \(limit) bytes")
        }
        used += bytes
        peak = max(peak, used)
    }

    func release(_ bytes: Int) {
        lock.lock(); used -= bytes; lock.unlock()
    }
}

// MARK: - Context, queue, buffers

/// A context and an in-order command queue on one device.
public final class CLContext {
    public let device: OpenCLDeviceInfo
    public let profiling: Bool
    public let budget: MemoryBudget
    let context: cl_context
    let queue: cl_command_queue

    public init(device: OpenCLDeviceInfo, profiling: Bool = false, memoryLimit: Int? = nil) throws {
        self.device = device
        self.profiling = profiling
        var err: cl_int = 0
        var did: cl_device_id? = device.id
        var props: [cl_context_properties] = [cl_context_properties(CL_CONTEXT_PLATFORM),
                                              cl_context_properties(Int(bitPattern: UnsafeRawPointer(device.platformID))), 0]
        guard let ctx = clCreateContext(&props, 1, &did, nil, nil, &err), err == CL_SUCCESS else {
            throw ComputeError.openCL(call: "clCreateContext", status: err)
        }
        context = ctx
        let qprops: cl_command_queue_properties = profiling ? cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE) : 0
        guard let q = clCreateCommandQueue(ctx, device.id, qprops, &err), err == CL_SUCCESS else {
            clReleaseContext(ctx)
            throw ComputeError.openCL(call: "clCreateCommandQueue", status: err)
        }
        queue = q
        // Headroom: 10% of global memory stays for the driver, CLBlast scratch and fragmentation.
        let globalLimit = Int(min(UInt64(Int.max), device.globalMemory)) / 10 * 9
        budget = MemoryBudget(limit: memoryLimit.map { min($0, globalLimit) } ?? globalLimit)
    }

    deinit {
        clFinish(queue)
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    public func finish() throws { try clCheck(clFinish(queue), "clFinish") }

    /// Allocates `count` elements and forces the driver to back them now.
    public func makeBuffer(count: Int, dtype: DType) throws -> CLBuffer {
        guard count >= 0 else { throw ComputeError.invalidArgument("buffer count \(count) is negative") }
        let bytes = max(4, count * dtype.byteSize)
        if UInt64(bytes) > device.maxAllocation {
            throw ComputeError.outOfMemory(
                "buffer of \(bytes) bytes (\(count) × \(dtype.rawValue)) exceeds CL_DEVICE_MAX_MEM_ALLOC_SIZE of \(device.maxAllocation) bytes on \(device.name)")
        }
        try budget.reserve(bytes)
        var err: cl_int = 0
        guard let mem = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &err), err == CL_SUCCESS else {
            budget.release(bytes)
            throw ComputeError.openCL(call: "clCreateBuffer(\(bytes) bytes)", status: err)
        }
        let buffer = CLBuffer(mem: mem, count: count, dtype: dtype, bytes: bytes, owner: self)
        // Drivers allocate lazily; touching the first and last words makes a failure surface here.
        var zero: UInt32 = 0
        try clCheck(clEnqueueWriteBuffer(queue, mem, cl_bool(CL_FALSE), 0, 4, &zero, 0, nil, nil), "clEnqueueWriteBuffer(allocate)")
        if bytes > 4 {
            try clCheck(clEnqueueWriteBuffer(queue, mem, cl_bool(CL_TRUE), bytes - 4, 4, &zero, 0, nil, nil),
                        "clEnqueueWriteBuffer(allocate)")
        } else {
            try finish()
        }
        return buffer
    }

    // MARK: programs

    private var programs: [String: CLProgram] = [:]
    private let programLock = NSLock()
    public var diskCache: ProgramDiskCache?

    /// Builds (or fetches from the memory or disk cache) the program for `source`.
    public func program(source: String, file: String, options: String = "") throws -> CLProgram {
        let key = file + "\u{1}" + options + "\u{1}" + source
        programLock.lock(); defer { programLock.unlock() }
        if let p = programs[key] { return p }
        let p = try buildProgram(source: source, file: file, options: options)
        programs[key] = p
        return p
    }

    private func buildProgram(source: String, file: String, options: String) throws -> CLProgram {
        let cacheKey = ProgramDiskCache.Key(source: source, options: options, device: device.name,
                                            driver: device.driverVersion, platform: device.platformVersion)
        if let cache = diskCache, let binary = cache.load(cacheKey) {
            if let p = try? CLProgram(binary: binary, file: file, options: options, context: self) {
                return p
            }
            cache.remove(cacheKey) // the driver rejected it: rebuild from source, never trust it
        }
        let p = try CLProgram(source: source, file: file, options: options, context: self)
        if let cache = diskCache, let binary = try? p.binary() { cache.store(cacheKey, binary: binary) }
        return p
    }
}

/// A device buffer; valid only with the backend (context) that made it.
public final class CLBuffer: DeviceBuffer {
    public let count: Int
    public let dtype: DType
    public let byteCount: Int
    let mem: cl_mem
    /// Strong: the context (and its budget) lives as long as any of its buffers.
    let owner: CLContext

    init(mem: cl_mem, count: Int, dtype: DType, bytes: Int, owner: CLContext) {
        self.mem = mem
        self.count = count
        self.dtype = dtype
        self.byteCount = bytes
        self.owner = owner
    }

    deinit {
        clReleaseMemObject(mem)
        owner.budget.release(byteCount)
    }
}

// MARK: - Programs, kernels, events

public final class CLProgram {
    public let file: String
    let program: cl_program
    let device: cl_device_id
    private var kernels: [String: CLKernel] = [:]
    private let lock = NSLock()

    init(source: String, file: String, options: String, context: CLContext) throws {
        self.file = file
        device = context.device.id
        var err: cl_int = 0
        let prog: cl_program? = source.withCString { cstr -> cl_program? in
            var ptr: UnsafePointer<CChar>? = cstr
            var len = strlen(cstr)
            return clCreateProgramWithSource(context.context, 1, &ptr, &len, &err)
        }
        guard let prog, err == CL_SUCCESS else { throw ComputeError.openCL(call: "clCreateProgramWithSource(\(file))", status: err) }
        program = prog
        try build(options: options, deviceName: context.device.name)
    }

    init(binary: [UInt8], file: String, options: String, context: CLContext) throws {
        self.file = file
        device = context.device.id
        var err: cl_int = 0
        var binStatus: cl_int = 0
        var did: cl_device_id? = context.device.id
        var len = binary.count
        let prog: cl_program? = binary.withUnsafeBufferPointer { bp -> cl_program? in
            var ptr: UnsafePointer<UInt8>? = bp.baseAddress
            return clCreateProgramWithBinary(context.context, 1, &did, &len, &ptr, &binStatus, &err)
        }
        guard let prog, err == CL_SUCCESS, binStatus == CL_SUCCESS else {
            throw ComputeError.openCL(call: "clCreateProgramWithBinary(\(file))", status: err != CL_SUCCESS ? err : binStatus)
        }
        program = prog
        try build(options: options, deviceName: context.device.name)
    }

    private func build(options: String, deviceName: String) throws {
        var did: cl_device_id? = device
        let st = clBuildProgram(program, 1, &did, options, nil, nil)
        if st == CL_SUCCESS { return }
        let log = buildLog()
        if st == CL_BUILD_PROGRAM_FAILURE || st == CL_INVALID_BINARY || st == CL_INVALID_BUILD_OPTIONS {
            throw ComputeError.buildFailed(file: file, device: deviceName,
                                           log: log.isEmpty ? "(\(OpenCLStatus.name(st)), no build log)" : log)
        }
        throw ComputeError.openCL(call: "clBuildProgram(\(file))", status: st)
    }

    func buildLog() -> String {
        var size = 0
        guard clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size) == CL_SUCCESS,
              size > 0 else { return "" }
        var bytes = [CChar](repeating: 0, count: size + 1)
        guard clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil) == CL_SUCCESS
        else { return "" }
        return String(cString: bytes).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The device binary (CL_PROGRAM_BINARIES) for the on-disk cache.
    func binary() throws -> [UInt8] {
        var size = 0
        try clCheck(clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil),
                    "clGetProgramInfo(\(file), CL_PROGRAM_BINARY_SIZES)")
        guard size > 0 else { throw ComputeError.unsupported("the driver returned an empty binary for \(file)") }
        var bytes = [UInt8](repeating: 0, count: size)
        try bytes.withUnsafeMutableBufferPointer { bp in
            var ptr: UnsafeMutablePointer<UInt8>? = bp.baseAddress
            try clCheck(clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARIES), MemoryLayout<UnsafeMutablePointer<UInt8>?>.size,
                                         &ptr, nil), "clGetProgramInfo(\(file), CL_PROGRAM_BINARIES)")
        }
        return bytes
    }

    /// The kernel `name`, created once and reused.
    public func kernel(_ name: String) throws -> CLKernel {
        lock.lock(); defer { lock.unlock() }
        if let k = kernels[name] { return k }
        var err: cl_int = 0
        guard let k = clCreateKernel(program, name, &err), err == CL_SUCCESS else {
            throw ComputeError.openCL(call: "clCreateKernel(\(name) in \(file))", status: err)
        }
        let kernel = CLKernel(kernel: k, name: name, program: self)
        kernels[name] = kernel
        return kernel
    }

    deinit {
        kernels.removeAll()
        clReleaseProgram(program)
    }
}

/// One argument of a kernel launch.
public enum CLArg {
    case buffer(CLBuffer)
    case int(Int32)
    case float(Float)
    /// `__local` memory of this many bytes.
    case local(Int)
}

public final class CLKernel {
    public let name: String
    let kernel: cl_kernel
    let program: CLProgram // keeps the program alive while the kernel lives

    init(kernel: cl_kernel, name: String, program: CLProgram) {
        self.kernel = kernel
        self.name = name
        self.program = program
    }

    deinit { clReleaseKernel(kernel) }

    func set(_ args: [CLArg]) throws {
        for (i, a) in args.enumerated() {
            let idx = cl_uint(i)
            let st: cl_int
            switch a {
            case let .buffer(b):
                var m: cl_mem? = b.mem
                st = clSetKernelArg(kernel, idx, MemoryLayout<cl_mem>.size, &m)
            case var .int(v): st = clSetKernelArg(kernel, idx, 4, &v)
            case var .float(v): st = clSetKernelArg(kernel, idx, 4, &v)
            case let .local(bytes): st = clSetKernelArg(kernel, idx, max(4, bytes), nil)
            }
            try clCheck(st, "clSetKernelArg(\(name), \(i))")
        }
    }
}

/// An enqueued command's event, released in deinit.
public final class CLEvent {
    public let name: String
    let event: cl_event

    init(event: cl_event, name: String) {
        self.event = event
        self.name = name
    }

    deinit { clReleaseEvent(event) }

    public func wait() throws {
        var e: cl_event? = event
        try clCheck(clWaitForEvents(1, &e), "clWaitForEvents(\(name))")
    }

    /// (start, end) in device nanoseconds; needs a queue created with profiling.
    public func profile() throws -> (start: UInt64, end: UInt64) {
        var s: cl_ulong = 0, e: cl_ulong = 0
        try clCheck(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_START), 8, &s, nil),
                    "clGetEventProfilingInfo(\(name))")
        try clCheck(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_END), 8, &e, nil),
                    "clGetEventProfilingInfo(\(name))")
        return (s, e)
    }
}
