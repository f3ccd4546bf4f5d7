import Dispatch
import Foundation

// MARK: - cost model

/// Estimated work of one op call: floating-point operations and bytes of device memory moved.
///
/// Conventions: every add, multiply, divide, compare and every transcendental (exp, log, erf,
/// sqrt) counts as one FLOP; bytes are the compulsory traffic (each input read once, each output
/// written once, read-modify-write outputs counted twice, fp32 = 4 bytes). Kernels that re-read
/// a tensor or spill to scratch move more than this, so GB/s derived from it is a lower bound.
public struct OpCost: Sendable, Equatable {
    public var flops: Double
    public var bytes: Double

    public init(flops: Double, bytes: Double) {
        self.flops = flops
        self.bytes = bytes
    }

    public static let zero = OpCost(flops: 0, bytes: 0)

    private static let f4 = 4.0

    /// `batch` GEMMs of op(A)[m, k] * op(B)[k, n]: 2mnk FLOPs each. A matrix with stride 0 is
    /// shared across the batch and read once; C is read as well when beta != 0.
    public static func gemm(m: Int, n: Int, k: Int, batch: Int = 1, beta: Float = 0,
                            strideA: Int = 1, strideB: Int = 1) -> OpCost {
        let (m, n, k, b) = (Double(m), Double(n), Double(k), Double(max(0, batch)))
        let aReads = strideA == 0 ? 1 : b, bReads = strideB == 0 ? 1 : b
        let cTraffic = beta == 0 ? 1.0 : 2.0
        return OpCost(flops: 2 * m * n * k * b,
                      bytes: f4 * (m * k * aReads + k * n * bReads + m * n * b * cTraffic))
    }

    /// n elements, `flopsPer` each, reading `reads` and writing `writes` fp32 arrays of n.
    public static func elementwise(_ n: Int, flopsPer: Double, reads: Int, writes: Int) -> OpCost {
        OpCost(flops: flopsPer * Double(n), bytes: f4 * Double(n) * Double(reads + writes))
    }

    public static func addBias(rows: Int, cols: Int) -> OpCost {
        let rc = Double(rows) * Double(cols)
        return OpCost(flops: rc, bytes: f4 * (2 * rc + Double(cols)))
    }

    public static func biasBackward(rows: Int, cols: Int) -> OpCost {
        let rc = Double(rows) * Double(cols)
        return OpCost(flops: rc, bytes: f4 * (rc + 2 * Double(cols)))
    }

    /// Mean (1), variance (3), normalise and affine (4) per element; x read, y written,
    /// gamma and beta read, mean and rstd written.
    public static func layerNorm(rows: Int, cols: Int) -> OpCost {
        let rc = Double(rows) * Double(cols)
        return OpCost(flops: 8 * rc, bytes: f4 * (2 * rc + 2 * Double(cols) + 2 * Double(rows)))
    }

    /// x and dY read, dX written, dGamma and dBeta accumulated (read + write), gamma, mean, rstd read.
    public static func layerNormBackward(rows: Int, cols: Int) -> OpCost {
        let rc = Double(rows) * Double(cols), c = Double(cols), r = Double(rows)
        return OpCost(flops: 12 * rc, bytes: f4 * (3 * rc + 5 * c + 2 * r))
    }

    /// Max, subtract + exp, sum, divide.
    public static func softmax(rows: Int, cols: Int) -> OpCost {
        .elementwise(rows * cols, flopsPer: 5, reads: 1, writes: 1)
    }

    public static func softmaxBackward(rows: Int, cols: Int) -> OpCost {
        .elementwise(rows * cols, flopsPer: 4, reads: 2, writes: 1)
    }

    public static func embeddingGather(count: Int, dim: Int) -> OpCost {
        let cd = Double(count) * Double(dim)
        return OpCost(flops: 0, bytes: f4 * (Double(count) + 2 * cd))
    }

    /// dOut rows read, table rows read-modify-written.
    public static func embeddingScatterAdd(count: Int, dim: Int) -> OpCost {
        let cd = Double(count) * Double(dim)
        return OpCost(flops: cd, bytes: f4 * (Double(count) + 3 * cd))
    }

    public static func reduction(_ n: Int, squares: Bool) -> OpCost {
        OpCost(flops: Double(n) * (squares ? 2 : 1), bytes: f4 * (Double(n) + 1))
    }

    /// Per row: max, exp, sum, log, then the smoothed-target gradient (about 7 per class);
    /// logits read, dLogits written, targets read, losses written.
    public static func crossEntropy(rows: Int, classes: Int) -> OpCost {
        let rc = Double(rows) * Double(classes), r = Double(rows)
        return OpCost(flops: 7 * rc + 2 * r, bytes: f4 * (2 * rc + 2 * r))
    }

    /// About 17 FLOPs per parameter; param, grad, m, v read, param, m, v written.
    public static func adamW(count: Int) -> OpCost {
        .elementwise(count, flopsPer: 17, reads: 4, writes: 3)
    }

    /// Squared distance to every code (3 per element), argmin; x and codebook read once.
    public static func vqNearest(rows: Int, codes: Int, dim: Int) -> OpCost {
        let (r, c, d) = (Double(rows), Double(codes), Double(dim))
        return OpCost(flops: 3 * r * c * d + r * c, bytes: f4 * (r * d + c * d + 2 * r))
    }

    /// Per (batch, head): QK^T and PV (2 L^2 Dh each) and the masked, scaled softmax (5 L^2), with
    /// L = rows / batch the mean sequence length (the lengths stay on the device; L^2 from the mean
    /// undercounts, never overcounts); qkv and lengths read, probs and out written.
    public static func attentionForward(rows: Int, batch: Int, seq: Int, heads: Int, headDim: Int) -> OpCost {
        let (b, t, h, d) = (Double(batch), Double(seq), Double(heads), Double(headDim))
        let l = Double(rows) / max(1, b)
        return OpCost(flops: b * h * (4 * l * l * d + 5 * l * l),
                      bytes: f4 * (3 * Double(rows) * h * d + b * h * t * t + Double(rows) * h * d + 2 * b))
    }

    /// Per (batch, head): dV, dP, dQ, dK (2 L^2 Dh each) and the softmax backward (5 L^2), L as in
    /// the forward; qkv, probs and dOut read, dQKV written (the OpenCL kernel's dS scratch not counted).
    public static func attentionBackward(rows: Int, batch: Int, seq: Int, heads: Int, headDim: Int) -> OpCost {
        let (b, t, h, d) = (Double(batch), Double(seq), Double(heads), Double(headDim))
        let l = Double(rows) / max(1, b)
        return OpCost(flops: b * h * (8 * l * l * d + 5 * l * l),
                      bytes: f4 * (3 * Double(rows) * h * d + b * h * t * t + Double(rows) * h * d + 3 * Double(rows) * h * d))
    }

    /// FLOPs not estimated (branchy per-row program); bytes: logits, numbers, targets, gain read,
    /// dLogits, rowStats and trace written.
    public static func reasoner(rows: Int, spec: ReasonerSpec) -> OpCost {
        let r = Double(rows), w = Double(spec.width)
        let reads = r * w + r * Double(spec.slots * spec.places) + 2 * r + 1
        let writes = r * w + r * Double(ReasonerSpec.statsWidth) + 4 * r
        return OpCost(flops: 0, bytes: f4 * (reads + writes))
    }

    public static func transfer(elements: Int, bytesPer: Int, readWrite: Int = 1) -> OpCost {
        OpCost(flops: 0, bytes: Double(elements) * Double(bytesPer) * Double(readWrite))
    }
}

// MARK: - records

/// Up to four integer arguments of an op call, named by a static label (e.g. `m,n,k,batch`).
public struct OpShape: Sendable {
    public var label: StaticString
    public var values: (Int, Int, Int, Int)

    public init(_ label: StaticString, _ a: Int = 0, _ b: Int = 0, _ c: Int = 0, _ d: Int = 0) {
        self.label = label
        values = (a, b, c, d)
    }

    /// `m=64 n=128 k=32` for the trace.
    public var text: String {
        let names = label.description.split(separator: ",")
        let v = [values.0, values.1, values.2, values.3]
        return zip(names, v).map { "\($0)=\($1)" }.joined(separator: " ")
    }
}

/// One recorded op call. Host times are nanoseconds since the profiler's epoch; device times
/// (OpenCL event timing) are in the device's clock.
public struct OpCall: Sendable {
    public var id: Int
    public var name: String
    public var hostStart: UInt64
    public var hostEnd: UInt64
    public var cost: OpCost
    public var shape: OpShape
    /// Sum of the device busy time of the commands this call enqueued, when device-timed.
    public var deviceBusy: UInt64 = 0
    public var deviceStart: UInt64 = .max
    public var deviceEnd: UInt64 = 0
    public var kernels = 0

    /// The time charged to the call: device busy time when it enqueued profiled commands,
    /// otherwise host wall time.
    public var nanoseconds: UInt64 { kernels > 0 ? deviceBusy : hostEnd - hostStart }
    public var isDeviceTimed: Bool { kernels > 0 }
}

/// One row of the profile table.
public struct ProfileRow: Sendable {
    public var name: String
    public var calls: Int
    public var totalMilliseconds: Double
    public var meanMicroseconds: Double
    /// Fraction (0...1) of the profiled steps' wall time.
    public var share: Double
    /// nil where no FLOP estimate exists.
    public var gflops: Double?
    public var gbytesPerSecond: Double?
    public var flops: Double
    public var bytes: Double
    /// "device" (OpenCL event times), "wall" (host clock) or "mixed".
    public var clock: String
}

/// The table `learner profile` prints.
public struct ProfileReport: Sendable {
    public var backend: String
    public var timing: ProfilingBackend.Timing
    public var stepCount: Int
    /// Wall time of the marked steps (`beginStep`/`endStep`); nil when no step was marked.
    public var stepSeconds: Double?
    /// Rows sorted by total time, longest first.
    public var rows: [ProfileRow]
    /// Per kernel (device times), for a device-timed OpenCL backend; empty otherwise.
    public var kernels: [ProfileRow]

    public var opSeconds: Double { rows.reduce(0) { $0 + $1.totalMilliseconds } / 1000 }

    /// The formatted table.
    public var text: String {
        var lines: [String] = []
        let steps = max(1, stepCount)
        let denominator = stepSeconds ?? opSeconds
        func num(_ v: Double?, _ fmt: String) -> String { v.map { String(format: fmt, $0) } ?? "-" }
        func line(_ name: String, _ calls: String, _ total: Double, _ mean: String, _ share: Double?,
                  _ gf: String, _ gb: String, _ clock: String) -> String {
            let n = name.count > 24 ? String(name.prefix(23)) + "…" : name
            return n.padding(toLength: 24, withPad: " ", startingAt: 0)
                + calls.leftPad(8) + String(format: "%10.2f", total).leftPad(10)
                + String(format: "%9.3f", total / Double(steps)).leftPad(9) + mean.leftPad(10)
                + (share.map { String(format: "%6.1f%%", $0 * 100) } ?? "").leftPad(8)
                + gf.leftPad(9) + gb.leftPad(8) + "  " + clock
        }
        let header = "op".padding(toLength: 24, withPad: " ", startingAt: 0) + "calls".leftPad(8) + "total ms".leftPad(10)
            + "ms/step".leftPad(9) + "mean µs".leftPad(10) + "share".leftPad(8) + "GFLOP/s".leftPad(9)
            + "GB/s".leftPad(8) + "  clock"
        lines.append(header)
        lines.append(String(repeating: "-", count: header.count))
        for r in rows {
            lines.append(line(r.name, "\(r.calls)", r.totalMilliseconds, String(format: "%.1f", r.meanMicroseconds),
                              denominator > 0 ? r.share : nil, num(r.gflops, "%.2f"), num(r.gbytesPerSecond, "%.2f"), r.clock))
        }
        lines.append(String(repeating: "-", count: header.count))
        let totalFlops = rows.reduce(0) { $0 + $1.flops }, totalBytes = rows.reduce(0) { $0 + $1.bytes }
        let opSec = opSeconds
        lines.append(line("all ops", "\(rows.reduce(0) { $0 + $1.calls })", opSec * 1000, "",
                          denominator > 0 ? opSec / denominator : nil,
                          opSec > 0 ? String(format: "%.2f", totalFlops / opSec / 1e9) : "-",
                          opSec > 0 ? String(format: "%.2f", totalBytes / opSec / 1e9) : "-", ""))
        if let stepSeconds {
            let outside = stepSeconds - opSec
            let label = timing == .deviceEvents ? "(device idle)" : "(outside ops)"
            lines.append(line(label, "", outside * 1000, "", stepSeconds > 0 ? outside / stepSeconds : nil, "", "", "wall"))
            lines.append(line("step", "\(stepCount)", stepSeconds * 1000, "", stepSeconds > 0 ? 1 : nil, "", "", "wall"))
        }
        if !kernels.isEmpty {
            lines.append("")
            let kh = "kernel".padding(toLength: 24, withPad: " ", startingAt: 0) + "calls".leftPad(8) + "total ms".leftPad(10)
                + "ms/step".leftPad(9) + "mean µs".leftPad(10) + "share".leftPad(8)
            lines.append(kh)
            lines.append(String(repeating: "-", count: kh.count))
            for k in kernels {
                let n = k.name.count > 24 ? String(k.name.prefix(23)) + "…" : k.name
                lines.append(n.padding(toLength: 24, withPad: " ", startingAt: 0) + "\(k.calls)".leftPad(8)
                    + String(format: "%10.2f", k.totalMilliseconds).leftPad(10)
                    + String(format: "%9.3f", k.totalMilliseconds / Double(steps)).leftPad(9)
                    + String(format: "%.1f", k.meanMicroseconds).leftPad(10)
                    + (denominator > 0 ? String(format: "%6.1f%%", k.share * 100) : "").leftPad(8))
            }
        }
        return lines.joined(separator: "\n")
    }
}

private extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? " " + self : String(repeating: " ", count: width - count) + self
    }
}

// MARK: - the decorator

/// A `Backend` that forwards every op to another backend and records, per call, its name, time,
/// estimated FLOPs and bytes (`OpCost`), for a per-op table (`report`) and a Chrome trace
/// (`chromeTrace`).
///
/// Timing: on the CPU backend ops are synchronous, so each call is timed by the host clock. On an
/// `OpenCLBackend` made with `Options(profiling: true)` each call is charged the device time of
/// the commands it enqueued (event timing, collected at `synchronize()`); on any other backend
/// each call is followed by `synchronize()` and timed by the host clock.
public final class ProfilingBackend: Backend {
    public enum Timing: String, Sendable {
        /// Host clock around each op (synchronous backends).
        case wallClock
        /// Host clock around each op followed by `synchronize()`.
        case wallClockSynchronized
        /// OpenCL event times attributed to the op that enqueued them.
        case deviceEvents
    }

    public let inner: any Backend
    public let timing: Timing
    private let openCL: OpenCLBackend?
    private let lock = NSLock()
    private var epoch: UInt64
    private var nextID = 1
    private var idBase = 1
    private var calls: [OpCall] = []
    private var kernelEvents: [OpenCLBackend.KernelEvent] = []
    private var steps: [(start: UInt64, end: UInt64)] = []
    private var openStep: UInt64?

    /// Wraps `inner`; `timing` nil picks the best the backend offers (see the type's comment).
    public init(wrapping inner: any Backend, timing: Timing? = nil) {
        self.inner = inner
        let cl = inner as? OpenCLBackend
        let best: Timing = cl?.context.profiling == true ? .deviceEvents : (inner.kind == .cpu ? .wallClock : .wallClockSynchronized)
        var chosen = timing ?? best
        if chosen == .deviceEvents && cl?.context.profiling != true { chosen = .wallClockSynchronized }
        self.timing = chosen
        openCL = chosen == .deviceEvents ? cl : nil
        openCL?.recordsKernelEvents = true
        epoch = DispatchTime.now().uptimeNanoseconds
    }

    public var kind: BackendKind { inner.kind }
    public var description: String { inner.description }

    // MARK: recording

    @inline(__always)
    private func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Forwards `body` as one recorded call. `hostOnly` ops enqueue no profiled command; when
    /// device-timed they start on an idle queue so their wall time is their own (an OpenCL
    /// `makeBuffer` forces its allocation with a blocking write, which would otherwise also
    /// wait for every queued kernel, time already charged to those kernels).
    @inline(__always)
    private func record<T>(_ name: String, _ cost: OpCost, _ shape: OpShape, hostOnly: Bool = false,
                           _ body: () throws -> T) throws -> T {
        if hostOnly, let openCL { try openCL.context.finish() }
        lock.lock()
        let id = nextID
        nextID += 1
        lock.unlock()
        openCL?.profileTag = id
        let start = now()
        let result = try body()
        if timing == .wallClockSynchronized { try inner.synchronize() }
        let end = now()
        openCL?.profileTag = 0
        lock.lock()
        calls.append(OpCall(id: id, name: name, hostStart: start &- epoch, hostEnd: end &- epoch, cost: cost, shape: shape))
        lock.unlock()
        return result
    }

    /// Pulls the OpenCL event times collected so far and charges them to the calls that made them.
    private func absorbKernelEvents() {
        guard let openCL else { return }
        let events = openCL.takeKernelEvents()
        if events.isEmpty { return }
        lock.lock(); defer { lock.unlock() }
        for e in events {
            let i = e.tag - idBase
            guard e.tag > 0, i >= 0, i < calls.count, calls[i].id == e.tag else { continue }
            calls[i].kernels += 1
            calls[i].deviceBusy += e.end - e.start
            calls[i].deviceStart = min(calls[i].deviceStart, e.start)
            calls[i].deviceEnd = max(calls[i].deviceEnd, e.end)
            kernelEvents.append(e)
        }
    }

    /// Drops everything recorded so far (e.g. after a warm-up step); waits for queued work first.
    public func reset() throws {
        try inner.synchronize()
        _ = openCL?.takeKernelEvents()
        lock.lock(); defer { lock.unlock() }
        calls.removeAll()
        kernelEvents.removeAll()
        steps.removeAll()
        openStep = nil
        idBase = nextID
        epoch = now()
    }

    /// Marks the start of a training step (for the step time, the share column and the trace).
    public func beginStep() {
        lock.lock(); defer { lock.unlock() }
        openStep = now() &- epoch
    }

    /// Marks the end of the step begun last; waits for the device so the step's time is complete.
    public func endStep() throws {
        try synchronize()
        lock.lock(); defer { lock.unlock() }
        guard let s = openStep else { return }
        steps.append((s, now() &- epoch))
        openStep = nil
    }

    /// Every recorded call, oldest first (device times attached up to the last `synchronize`).
    public var recordedCalls: [OpCall] {
        absorbKernelEvents()
        lock.lock(); defer { lock.unlock() }
        return calls
    }

    /// The table: one row per op name, sorted by total time. Synchronizes first.
    public func report(stepCount: Int) throws -> ProfileReport {
        try synchronize()
        let all = recordedCalls
        lock.lock()
        let stepSpans = steps
        let kernelList = kernelEvents
        lock.unlock()
        let stepSeconds: Double? = stepSpans.isEmpty ? nil : Double(stepSpans.reduce(UInt64(0)) { $0 + ($1.end - $1.start) }) / 1e9
        var byName: [String: (calls: Int, ns: UInt64, flops: Double, bytes: Double, device: Int)] = [:]
        for c in all {
            var e = byName[c.name] ?? (0, 0, 0, 0, 0)
            e.calls += 1; e.ns += c.nanoseconds; e.flops += c.cost.flops; e.bytes += c.cost.bytes
            if c.isDeviceTimed { e.device += 1 }
            byName[c.name] = e
        }
        let opNs = byName.values.reduce(UInt64(0)) { $0 + $1.ns }
        let denominator = stepSeconds ?? Double(opNs) / 1e9
        var rows: [ProfileRow] = byName.map { name, e in
            let sec = Double(e.ns) / 1e9
            let clock = e.device == e.calls ? "device" : (e.device == 0 ? "wall" : "mixed")
            return ProfileRow(name: name, calls: e.calls, totalMilliseconds: sec * 1000,
                              meanMicroseconds: sec * 1e6 / Double(max(1, e.calls)),
                              share: denominator > 0 ? sec / denominator : 0,
                              gflops: e.flops > 0 && sec > 0 ? e.flops / sec / 1e9 : nil,
                              gbytesPerSecond: e.bytes > 0 && sec > 0 ? e.bytes / sec / 1e9 : nil,
                              flops: e.flops, bytes: e.bytes, clock: clock)
        }
        rows.sort { $0.totalMilliseconds != $1.totalMilliseconds ? $0.totalMilliseconds > $1.totalMilliseconds : $0.name < $1.name }
        var perKernel: [String: (calls: Int, ns: UInt64)] = [:]
        for k in kernelList {
            perKernel[k.name, default: (0, 0)].calls += 1
            perKernel[k.name, default: (0, 0)].ns += k.end - k.start
        }
        var kernels: [ProfileRow] = perKernel.map { name, e in
            let sec = Double(e.ns) / 1e9
            return ProfileRow(name: name, calls: e.calls, totalMilliseconds: sec * 1000,
                              meanMicroseconds: sec * 1e6 / Double(max(1, e.calls)),
                              share: denominator > 0 ? sec / denominator : 0, gflops: nil, gbytesPerSecond: nil,
                              flops: 0, bytes: 0, clock: "device")
        }
        kernels.sort { $0.totalMilliseconds != $1.totalMilliseconds ? $0.totalMilliseconds > $1.totalMilliseconds : $0.name < $1.name }
        return ProfileReport(backend: inner.description, timing: timing, stepCount: stepCount, stepSeconds: stepSeconds,
                             rows: rows, kernels: kernels)
    }

    /// A Chrome trace (`{"traceEvents": [...], "displayTimeUnit": "ms"}`, opens in Perfetto and
    /// chrome://tracing): one complete event (`"ph": "X"`, category `op`) per recorded op call,
    /// plus `step` spans and, when device-timed, the `kernel` events nested in their ops on the
    /// device-queue track. Times are microseconds since the profiler's epoch; device times are
    /// shifted onto the host clock by the smallest offset that puts no command before its enqueue.
    public func chromeTrace() throws -> Data {
        try synchronize()
        let all = recordedCalls
        lock.lock()
        let stepSpans = steps
        let kernelList = kernelEvents
        lock.unlock()
        // host = device + offset, offset >= hostStart - deviceStart for every device-timed call.
        var offset = Int64.min
        for c in all where c.isDeviceTimed {
            offset = max(offset, Int64(bitPattern: c.hostStart) &- Int64(bitPattern: c.deviceStart))
        }
        if offset == Int64.min { offset = 0 }
        func hostMicros(device ns: UInt64) -> Double { Double(Int64(bitPattern: ns) &+ offset) / 1000 }
        let pid = Int(ProcessInfo.processInfo.processIdentifier)
        let hostTid = 1, deviceTid = 2
        var out = "{\"traceEvents\":[\n"
        var first = true
        func emit(_ s: String) {
            if !first { out += ",\n" }
            first = false
            out += s
        }
        func meta(_ tid: Int, _ name: String) {
            emit("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":\(pid),\"tid\":\(tid),\"args\":{\"name\":\(jsonString(name))}}")
        }
        emit("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":\(pid),\"tid\":\(hostTid),\"args\":{\"name\":\(jsonString("learner: " + inner.description))}}")
        meta(hostTid, timing == .deviceEvents ? "host (steps; ops without device events)" : "host ops (\(timing.rawValue))")
        if timing == .deviceEvents { meta(deviceTid, "device queue (OpenCL event times)") }
        func x(_ name: String, _ cat: String, ts: Double, dur: Double, tid: Int, args: String) -> String {
            "{\"name\":\(jsonString(name)),\"cat\":\"\(cat)\",\"ph\":\"X\",\"ts\":\(fmt(ts)),\"dur\":\(fmt(max(0, dur))),"
                + "\"pid\":\(pid),\"tid\":\(tid),\"args\":{\(args)}}"
        }
        for (i, s) in stepSpans.enumerated() {
            emit(x("step \(i + 1)", "step", ts: Double(s.start) / 1000, dur: Double(s.end - s.start) / 1000, tid: hostTid,
                   args: "\"step\":\(i + 1)"))
        }
        for c in all {
            var args = "\"call\":\(c.id),\"shape\":\(jsonString(c.shape.text)),\"flops\":\(fmt(c.cost.flops)),\"bytes\":\(fmt(c.cost.bytes))"
            if c.isDeviceTimed {
                args += ",\"kernels\":\(c.kernels),\"device_busy_us\":\(fmt(Double(c.deviceBusy) / 1000)),"
                    + "\"enqueue_us\":\(fmt(Double(c.hostEnd - c.hostStart) / 1000))"
                emit(x(c.name, "op", ts: hostMicros(device: c.deviceStart), dur: Double(c.deviceEnd - c.deviceStart) / 1000,
                       tid: deviceTid, args: args))
            } else {
                emit(x(c.name, "op", ts: Double(c.hostStart) / 1000, dur: Double(c.hostEnd - c.hostStart) / 1000,
                       tid: hostTid, args: args))
            }
        }
        for k in kernelList {
            emit(x(k.name, "kernel", ts: hostMicros(device: k.start), dur: Double(k.end - k.start) / 1000, tid: deviceTid,
                   args: "\"call\":\(k.tag)"))
        }
        out += "\n],\"displayTimeUnit\":\"ms\"}\n"
        return Data(out.utf8)
    }

    // MARK: memory

    public func makeBuffer(count: Int, dtype: DType) throws -> any DeviceBuffer {
        try record("makeBuffer", .zero, OpShape("count", count), hostOnly: true) { try inner.makeBuffer(count: count, dtype: dtype) }
    }

    public func upload(_ values: [Float], to buffer: any DeviceBuffer, offset: Int) throws {
        try record("upload", .transfer(elements: values.count, bytesPer: 4), OpShape("count", values.count)) {
            try inner.upload(values, to: buffer, offset: offset)
        }
    }

    public func upload(_ values: [Int32], to buffer: any DeviceBuffer, offset: Int) throws {
        try record("upload", .transfer(elements: values.count, bytesPer: 4), OpShape("count", values.count)) {
            try inner.upload(values, to: buffer, offset: offset)
        }
    }

    public func download(_ buffer: any DeviceBuffer, offset: Int, count: Int) throws -> [Float] {
        try record("download", .transfer(elements: count, bytesPer: 4), OpShape("count", count)) {
            try inner.download(buffer, offset: offset, count: count)
        }
    }

    public func downloadInt32(_ buffer: any DeviceBuffer, offset: Int, count: Int) throws -> [Int32] {
        try record("download", .transfer(elements: count, bytesPer: 4), OpShape("count", count)) {
            try inner.downloadInt32(buffer, offset: offset, count: count)
        }
    }

    public func fill(_ buffer: any DeviceBuffer, value: Float, offset: Int, count: Int) throws {
        try record("fill", .transfer(elements: count, bytesPer: buffer.dtype.byteSize), OpShape("count", count)) {
            try inner.fill(buffer, value: value, offset: offset, count: count)
        }
    }

    public func copy(_ src: any DeviceBuffer, srcOffset: Int, to dst: any DeviceBuffer, dstOffset: Int, count: Int) throws {
        try record("copy", .transfer(elements: count, bytesPer: src.dtype.byteSize, readWrite: 2), OpShape("count", count)) {
            try inner.copy(src, srcOffset: srcOffset, to: dst, dstOffset: dstOffset, count: count)
        }
    }

    /// Forwards, then attaches the device times collected so far to their calls.
    public func synchronize() throws {
        try inner.synchronize()
        absorbKernelEvents()
    }

    // MARK: GEMM

    public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: any DeviceBuffer, aOffset: Int, lda: Int,
                     b: any DeviceBuffer, bOffset: Int, ldb: Int,
                     beta: Float, c: any DeviceBuffer, cOffset: Int, ldc: Int) throws {
        try record("gemm", .gemm(m: m, n: n, k: k, beta: beta), OpShape("m,n,k", m, n, k)) {
            try inner.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                           a: a, aOffset: aOffset, lda: lda, b: b, bOffset: bOffset, ldb: ldb,
                           beta: beta, c: c, cOffset: cOffset, ldc: ldc)
        }
    }

    public func gemmStridedBatched(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                   a: any DeviceBuffer, aOffset: Int, lda: Int, strideA: Int,
                                   b: any DeviceBuffer, bOffset: Int, ldb: Int, strideB: Int,
                                   beta: Float, c: any DeviceBuffer, cOffset: Int, ldc: Int, strideC: Int,
                                   batch: Int) throws {
        let cost = OpCost.gemm(m: m, n: n, k: k, batch: batch, beta: beta, strideA: strideA, strideB: strideB)
        try record("gemmStridedBatched", cost, OpShape("m,n,k,batch", m, n, k, batch)) {
            try inner.gemmStridedBatched(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                         a: a, aOffset: aOffset, lda: lda, strideA: strideA,
                                         b: b, bOffset: bOffset, ldb: ldb, strideB: strideB,
                                         beta: beta, c: c, cOffset: cOffset, ldc: ldc, strideC: strideC, batch: batch)
        }
    }

    // MARK: elementwise

    public func addBias(_ x: any DeviceBuffer, bias: any DeviceBuffer, rows: Int, cols: Int) throws {
        try record("addBias", .addBias(rows: rows, cols: cols), OpShape("rows,cols", rows, cols)) {
            try inner.addBias(x, bias: bias, rows: rows, cols: cols)
        }
    }

    public func biasBackward(dY: any DeviceBuffer, dBias: any DeviceBuffer, rows: Int, cols: Int) throws {
        try record("biasBackward", .biasBackward(rows: rows, cols: cols), OpShape("rows,cols", rows, cols)) {
            try inner.biasBackward(dY: dY, dBias: dBias, rows: rows, cols: cols)
        }
    }

    public func addBiasGelu(_ x: any DeviceBuffer, bias: any DeviceBuffer, _ y: any DeviceBuffer, rows: Int, cols: Int) throws {
        // bias add (1) + gelu (5); reads x and bias, writes x and y.
        let rc = Double(rows) * Double(cols)
        try record("addBiasGelu", OpCost(flops: 6 * rc, bytes: 4 * (3 * rc + Double(cols))), OpShape("rows,cols", rows, cols)) {
            try inner.addBiasGelu(x, bias: bias, y, rows: rows, cols: cols)
        }
    }

    public func gelu(_ x: any DeviceBuffer, _ y: any DeviceBuffer, count: Int) throws {
        // 0.5 * x * (1 + erf(x / sqrt 2)): 5 operations.
        try record("gelu", .elementwise(count, flopsPer: 5, reads: 1, writes: 1), OpShape("count", count)) {
            try inner.gelu(x, y, count: count)
        }
    }

    public func geluBackward(x: any DeviceBuffer, dY: any DeviceBuffer, dX: any DeviceBuffer, count: Int) throws {
        // cdf (4), pdf with exp (4), dY * (cdf + x * pdf) (3).
        try record("geluBackward", .elementwise(count, flopsPer: 11, reads: 2, writes: 1), OpShape("count", count)) {
            try inner.geluBackward(x: x, dY: dY, dX: dX, count: count)
        }
    }

    public func add(_ a: any DeviceBuffer, _ b: any DeviceBuffer, _ y: any DeviceBuffer, count: Int) throws {
        try record("add", .elementwise(count, flopsPer: 1, reads: 2, writes: 1), OpShape("count", count)) {
            try inner.add(a, b, y, count: count)
        }
    }

    public func axpy(alpha: Float, x: any DeviceBuffer, y: any DeviceBuffer, count: Int) throws {
        try record("axpy", .elementwise(count, flopsPer: 2, reads: 2, writes: 1), OpShape("count", count)) {
            try inner.axpy(alpha: alpha, x: x, y: y, count: count)
        }
    }

    public func scale(_ x: any DeviceBuffer, by alpha: Float, count: Int) throws {
        try record("scale", .elementwise(count, flopsPer: 1, reads: 1, writes: 1), OpShape("count", count)) {
            try inner.scale(x, by: alpha, count: count)
        }
    }

    // MARK: normalisation and softmax

    public func layerNorm(x: any DeviceBuffer, gamma: any DeviceBuffer, beta: any DeviceBuffer,
                          y: any DeviceBuffer, mean: any DeviceBuffer, rstd: any DeviceBuffer,
                          rows: Int, cols: Int, eps: Float) throws {
        try record("layerNorm", .layerNorm(rows: rows, cols: cols), OpShape("rows,cols", rows, cols)) {
            try inner.layerNorm(x: x, gamma: gamma, beta: beta, y: y, mean: mean, rstd: rstd, rows: rows, cols: cols, eps: eps)
        }
    }

    public func layerNormBackward(x: any DeviceBuffer, gamma: any DeviceBuffer, mean: any DeviceBuffer,
                                  rstd: any DeviceBuffer, dY: any DeviceBuffer, dX: any DeviceBuffer,
                                  dGamma: any DeviceBuffer, dBeta: any DeviceBuffer, rows: Int, cols: Int) throws {
        try record("layerNormBackward", .layerNormBackward(rows: rows, cols: cols), OpShape("rows,cols", rows, cols)) {
            try inner.layerNormBackward(x: x, gamma: gamma, mean: mean, rstd: rstd, dY: dY, dX: dX,
                                        dGamma: dGamma, dBeta: dBeta, rows: rows, cols: cols)
        }
    }

    public func softmax(_ x: any DeviceBuffer, _ y: any DeviceBuffer, rows: Int, cols: Int) throws {
        try record("softmax", .softmax(rows: rows, cols: cols), OpShape("rows,cols", rows, cols)) {
            try inner.softmax(x, y, rows: rows, cols: cols)
        }
    }

    public func softmaxBackward(y: any DeviceBuffer, dY: any DeviceBuffer, dX: any DeviceBuffer, rows: Int, cols: Int) throws {
        try record("softmaxBackward", .softmaxBackward(rows: rows, cols: cols), OpShape("rows,cols", rows, cols)) {
            try inner.softmaxBackward(y: y, dY: dY, dX: dX, rows: rows, cols: cols)
        }
    }

    // MARK: embeddings

    public func embeddingGather(table: any DeviceBuffer, ids: any DeviceBuffer, out: any DeviceBuffer,
                                count: Int, dim: Int) throws {
        try record("embeddingGather", .embeddingGather(count: count, dim: dim), OpShape("count,dim", count, dim)) {
            try inner.embeddingGather(table: table, ids: ids, out: out, count: count, dim: dim)
        }
    }

    public func embeddingScatterAdd(dOut: any DeviceBuffer, ids: any DeviceBuffer, dTable: any DeviceBuffer,
                                    count: Int, dim: Int) throws {
        try record("embeddingScatterAdd", .embeddingScatterAdd(count: count, dim: dim), OpShape("count,dim", count, dim)) {
            try inner.embeddingScatterAdd(dOut: dOut, ids: ids, dTable: dTable, count: count, dim: dim)
        }
    }

    // MARK: reductions

    public func sum(_ x: any DeviceBuffer, count: Int, out: any DeviceBuffer) throws {
        try record("sum", .reduction(count, squares: false), OpShape("count", count)) {
            try inner.sum(x, count: count, out: out)
        }
    }

    public func mean(_ x: any DeviceBuffer, count: Int, out: any DeviceBuffer) throws {
        try record("mean", .reduction(count, squares: false), OpShape("count", count)) {
            try inner.mean(x, count: count, out: out)
        }
    }

    // MARK: training ops

    public func mul(_ a: any DeviceBuffer, _ b: any DeviceBuffer, _ y: any DeviceBuffer, count: Int) throws {
        try record("mul", .elementwise(count, flopsPer: 1, reads: 2, writes: 1), OpShape("count", count)) {
            try inner.mul(a, b, y, count: count)
        }
    }

    public func sumOfSquares(_ x: any DeviceBuffer, count: Int, out: any DeviceBuffer) throws {
        try record("sumOfSquares", .reduction(count, squares: true), OpShape("count", count)) {
            try inner.sumOfSquares(x, count: count, out: out)
        }
    }

    public func crossEntropy(logits: any DeviceBuffer, targets: any DeviceBuffer, losses: any DeviceBuffer,
                             dLogits: any DeviceBuffer, rows: Int, classes: Int, smoothing: Float, gradScale: Float) throws {
        try record("crossEntropy", .crossEntropy(rows: rows, classes: classes), OpShape("rows,classes", rows, classes)) {
            try inner.crossEntropy(logits: logits, targets: targets, losses: losses, dLogits: dLogits,
                                   rows: rows, classes: classes, smoothing: smoothing, gradScale: gradScale)
        }
    }

    public func adamW(param: any DeviceBuffer, grad: any DeviceBuffer, m: any DeviceBuffer, v: any DeviceBuffer,
                      count: Int, lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float,
                      step: Int, gradScale: Float) throws {
        try record("adamW", .adamW(count: count), OpShape("count", count)) {
            try inner.adamW(param: param, grad: grad, m: m, v: v, count: count, lr: lr, beta1: beta1, beta2: beta2,
                            eps: eps, weightDecay: weightDecay, step: step, gradScale: gradScale)
        }
    }

    public func emaUpdate(ema: any DeviceBuffer, param: any DeviceBuffer, decay: Float, count: Int) throws {
        try record("emaUpdate", .elementwise(count, flopsPer: 3, reads: 2, writes: 1), OpShape("count", count)) {
            try inner.emaUpdate(ema: ema, param: param, decay: decay, count: count)
        }
    }

    public func vqNearest(x: any DeviceBuffer, codebook: any DeviceBuffer, indices: any DeviceBuffer,
                          distances: any DeviceBuffer, rows: Int, codes: Int, dim: Int) throws {
        try record("vqNearest", .vqNearest(rows: rows, codes: codes, dim: dim), OpShape("rows,codes,dim", rows, codes, dim)) {
            try inner.vqNearest(x: x, codebook: codebook, indices: indices, distances: distances,
                                rows: rows, codes: codes, dim: dim)
        }
    }

    public func attentionForward(qkv: any DeviceBuffer, lengths: any DeviceBuffer, starts: any DeviceBuffer,
                                 probs: any DeviceBuffer, out: any DeviceBuffer, rows: Int, batch: Int, seq: Int,
                                 heads: Int, headDim: Int) throws {
        try record("attentionForward", .attentionForward(rows: rows, batch: batch, seq: seq, heads: heads, headDim: headDim),
                   OpShape("batch,seq,heads,headDim", batch, seq, heads, headDim)) {
            try inner.attentionForward(qkv: qkv, lengths: lengths, starts: starts, probs: probs, out: out, rows: rows,
                                       batch: batch, seq: seq, heads: heads, headDim: headDim)
        }
    }

    public func attentionBackward(qkv: any DeviceBuffer, lengths: any DeviceBuffer, starts: any DeviceBuffer,
                                  probs: any DeviceBuffer, dOut: any DeviceBuffer, dQKV: any DeviceBuffer, rows: Int,
                                  batch: Int, seq: Int, heads: Int, headDim: Int) throws {
        try record("attentionBackward", .attentionBackward(rows: rows, batch: batch, seq: seq, heads: heads, headDim: headDim),
                   OpShape("batch,seq,heads,headDim", batch, seq, heads, headDim)) {
            try inner.attentionBackward(qkv: qkv, lengths: lengths, starts: starts, probs: probs, dOut: dOut, dQKV: dQKV,
                                        rows: rows, batch: batch, seq: seq, heads: heads, headDim: headDim)
        }
    }

    // MARK: layout

    public func copy2D(_ src: any DeviceBuffer, srcOffset: Int, srcStride: Int,
                       to dst: any DeviceBuffer, dstOffset: Int, dstStride: Int, rows: Int, cols: Int) throws {
        try record("copy2D", .transfer(elements: rows * cols, bytesPer: 4, readWrite: 2), OpShape("rows,cols", rows, cols)) {
            try inner.copy2D(src, srcOffset: srcOffset, srcStride: srcStride, to: dst, dstOffset: dstOffset,
                             dstStride: dstStride, rows: rows, cols: cols)
        }
    }

    // MARK: typed reasoner

    public func reasoner(logits: any DeviceBuffer, numbers: any DeviceBuffer, targets: any DeviceBuffer,
                         gain: any DeviceBuffer, dLogits: any DeviceBuffer, rowStats: any DeviceBuffer,
                         trace: any DeviceBuffer, rows: Int, spec: ReasonerSpec) throws {
        try record("reasoner", .reasoner(rows: rows, spec: spec), OpShape("rows,width,slots,places", rows, spec.width, spec.slots, spec.places)) {
            try inner.reasoner(logits: logits, numbers: numbers, targets: targets, gain: gain, dLogits: dLogits,
                               rowStats: rowStats, trace: trace, rows: rows, spec: spec)
        }
    }

    // MARK: precision

    public func toHalf(_ src: any DeviceBuffer, _ dst: any DeviceBuffer, count: Int) throws {
        try record("toHalf", .transfer(elements: count, bytesPer: 6), OpShape("count", count)) {
            try inner.toHalf(src, dst, count: count)
        }
    }

    public func fromHalf(_ src: any DeviceBuffer, _ dst: any DeviceBuffer, count: Int) throws {
        try record("fromHalf", .transfer(elements: count, bytesPer: 6), OpShape("count", count)) {
            try inner.fromHalf(src, dst, count: count)
        }
    }

    public func accumulateHalf(_ src: any DeviceBuffer, into dst: any DeviceBuffer, count: Int) throws {
        try record("accumulateHalf", .transfer(elements: count, bytesPer: 8), OpShape("count", count)) {
            try inner.accumulateHalf(src, into: dst, count: count)
        }
    }
}

// MARK: - JSON helpers

private func fmt(_ v: Double) -> String {
    guard v.isFinite else { return "0" }
    if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
    return String(format: "%.3f", v)
}

private func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
