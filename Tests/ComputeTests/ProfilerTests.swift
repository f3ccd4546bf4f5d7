import Foundation
import XCTest
@testable import Compute

/// `ProfilingBackend`: forwards unchanged, counts, estimates, and writes a Chrome trace.
final class ProfilerTests: XCTestCase {
    // MARK: helpers

    private func randomFloats(_ n: Int, _ rng: inout TestRNG) -> [Float] {
        (0..<n).map { _ in Float.random(in: -2...2, using: &rng) }
    }

    /// Runs a small mix of ops on `b` and returns every output, downloaded.
    private func workload(_ b: any Backend, seed: String) throws -> [[Float]] {
        var rng = Shared.rng(seed)
        let (m, n, k) = (7, 5, 9)
        let a = try b.makeBuffer(randomFloats(m * k, &rng))
        let w = try b.makeBuffer(randomFloats(k * n, &rng))
        let c = try b.zeros(m * n)
        try b.gemm(m: m, n: n, k: k, a: a, b: w, c: c)
        let bias = try b.makeBuffer(randomFloats(n, &rng))
        try b.addBias(c, bias: bias, rows: m, cols: n)
        let g = try b.zeros(m * n)
        try b.gelu(c, g, count: m * n)
        let gamma = try b.makeBuffer(randomFloats(n, &rng)), beta = try b.makeBuffer(randomFloats(n, &rng))
        let y = try b.zeros(m * n), mean = try b.zeros(m), rstd = try b.zeros(m)
        try b.layerNorm(x: g, gamma: gamma, beta: beta, y: y, mean: mean, rstd: rstd, rows: m, cols: n, eps: 1e-5)
        let p = try b.zeros(m * n)
        try b.softmax(y, p, rows: m, cols: n)
        let (batch, seq, heads, dh) = (2, 4, 2, 3)
        let qkv = try b.makeBuffer(randomFloats(batch * seq * 3 * heads * dh, &rng))
        let lengths = try b.makeBuffer([Int32(4), Int32(3)]), starts = try b.makeBuffer([Int32(0), Int32(4)])
        let probs = try b.zeros(batch * heads * seq * seq), out = try b.zeros(batch * seq * heads * dh)
        try b.attentionForward(qkv: qkv, lengths: lengths, starts: starts, probs: probs, out: out, rows: 7, batch: batch,
                               seq: seq, heads: heads, headDim: dh)
        let targets = try b.makeBuffer((0..<m).map { Int32($0 % n) })
        let losses = try b.zeros(m), dLogits = try b.zeros(m * n)
        try b.crossEntropy(logits: y, targets: targets, losses: losses, dLogits: dLogits, rows: m, classes: n,
                           smoothing: 0.1, gradScale: 1)
        let s = try b.zeros(1)
        try b.sumOfSquares(dLogits, count: m * n, out: s)
        try b.synchronize()
        return [try b.download(c), try b.download(g), try b.download(y), try b.download(mean), try b.download(p),
                try b.download(probs), try b.download(out), try b.download(losses), try b.download(dLogits), try b.download(s)]
    }

    private func assertBitIdentical(_ got: [[Float]], _ want: [[Float]], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, file: file, line: line)
        for (i, (g, w)) in zip(got, want).enumerated() {
            XCTAssertEqual(g.map(\.bitPattern), w.map(\.bitPattern), "output \(i) differs through the profiler", file: file, line: line)
        }
    }

    private func calls(_ report: ProfileReport, _ name: String) -> Int {
        report.rows.first { $0.name == name }?.calls ?? 0
    }

    /// Parses the trace and checks its shape; returns the complete events.
    private func checkTrace(_ data: Data, expectedOps: Int, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], file: file, line: line)
        XCTAssertEqual(json["displayTimeUnit"] as? String, "ms", file: file, line: line)
        let events = try XCTUnwrap(json["traceEvents"] as? [[String: Any]], file: file, line: line)
        let complete = events.filter { $0["ph"] as? String == "X" }
        for e in complete {
            for key in ["name", "cat", "ph", "ts", "dur", "pid", "tid", "args"] {
                XCTAssertNotNil(e[key], "event without \(key): \(e)", file: file, line: line)
            }
            let dur = try XCTUnwrap((e["dur"] as? NSNumber)?.doubleValue, file: file, line: line)
            let ts = try XCTUnwrap((e["ts"] as? NSNumber)?.doubleValue, file: file, line: line)
            XCTAssertGreaterThanOrEqual(dur, 0, file: file, line: line)
            XCTAssertTrue(ts.isFinite, file: file, line: line)
        }
        let ops = complete.filter { $0["cat"] as? String == "op" }
        XCTAssertEqual(ops.count, expectedOps, "one complete event per recorded op call", file: file, line: line)
        return complete
    }

    // MARK: CPU

    func testForwardsResultsUnchangedOnCPU() throws {
        let direct = try workload(Shared.cpu, seed: #function)
        let profiled = try workload(ProfilingBackend(wrapping: Shared.cpu), seed: #function)
        assertBitIdentical(profiled, direct)
    }

    /// The shared op checks (float64 references) pass through the wrapper too, so every argument
    /// is forwarded in the right place.
    func testOpChecksPassThroughProfiler() throws {
        let p = ProfilingBackend(wrapping: Shared.cpu)
        var c = Checks(p)
        try c.gemm(transA: true, transB: false, alpha: 2, beta: 0.5)
        try c.gemmStridedBatched(transA: false, transB: true)
        try c.biasOps(); try c.geluOps(); try c.arithmeticOps(); try c.layerNormOps(); try c.softmaxOps()
        try c.embeddingOps(); try c.reductionOps(); try c.halfRoundTrip(); try c.crossEntropyOp()
        try c.optimizerOps(); try c.vqNearestOp(); try c.attentionOps(); try c.memoryOps()
        let report = try p.report(stepCount: 1)
        for name in ["gemm", "gemmStridedBatched", "addBias", "biasBackward", "gelu", "geluBackward", "layerNorm",
                     "layerNormBackward", "softmax", "softmaxBackward", "embeddingGather", "embeddingScatterAdd",
                     "crossEntropy", "adamW", "emaUpdate", "vqNearest", "attentionForward", "attentionBackward"] {
            XCTAssertGreaterThan(calls(report, name), 0, "\(name) was not recorded")
        }
    }

    func testCountsCalls() throws {
        let p = ProfilingBackend(wrapping: Shared.cpu)
        let x = try p.makeBuffer([Float](repeating: 1, count: 100))   // makeBuffer + upload
        let y = try p.zeros(100)                                        // makeBuffer + fill
        for _ in 0..<3 { try p.scale(x, by: 2, count: 100) }
        for _ in 0..<5 { try p.axpy(alpha: 0.5, x: x, y: y, count: 100) }
        try p.add(x, y, y, count: 100)
        _ = try p.download(y)
        let report = try p.report(stepCount: 1)
        XCTAssertEqual(calls(report, "makeBuffer"), 2)
        XCTAssertEqual(calls(report, "upload"), 1)
        XCTAssertEqual(calls(report, "fill"), 1)
        XCTAssertEqual(calls(report, "scale"), 3)
        XCTAssertEqual(calls(report, "axpy"), 5)
        XCTAssertEqual(calls(report, "add"), 1)
        XCTAssertEqual(calls(report, "download"), 1)
        XCTAssertEqual(report.rows.reduce(0) { $0 + $1.calls }, 14)
        XCTAssertEqual(p.recordedCalls.count, 14)
        XCTAssertEqual(try p.download(y)[0], 8 * 2.5 + 8, "results still right")
        // Sorted by total time, longest first.
        let totals = report.rows.map(\.totalMilliseconds)
        XCTAssertEqual(totals, totals.sorted(by: >))
        // reset forgets everything.
        try p.reset()
        XCTAssertTrue(try p.report(stepCount: 1).rows.isEmpty)
    }

    func testGemmFlopEstimateIs2MNK() throws {
        XCTAssertEqual(OpCost.gemm(m: 3, n: 5, k: 7).flops, 2 * 3 * 5 * 7)
        XCTAssertEqual(OpCost.gemm(m: 64, n: 128, k: 32, batch: 4).flops, 2 * 64 * 128 * 32 * 4)
        XCTAssertEqual(OpCost.gemm(m: 3, n: 5, k: 7).bytes, 4 * (3 * 7 + 7 * 5 + 3 * 5))
        let p = ProfilingBackend(wrapping: Shared.cpu)
        let (m, n, k) = (13, 11, 17)
        let a = try Shared.cpu.zeros(m * k), b = try Shared.cpu.zeros(k * n), c = try Shared.cpu.zeros(m * n)
        try p.gemm(m: m, n: n, k: k, a: a, b: b, c: c)
        try p.gemm(transA: true, m: m, n: n, k: k, a: a, b: b, beta: 1, c: c)
        let row = try XCTUnwrap(try p.report(stepCount: 1).rows.first { $0.name == "gemm" })
        XCTAssertEqual(row.calls, 2)
        XCTAssertEqual(row.flops, Double(2 * 2 * m * n * k))
        if row.totalMilliseconds > 0 {
            XCTAssertEqual(try XCTUnwrap(row.gflops), row.flops / (row.totalMilliseconds / 1000) / 1e9, accuracy: 1e-6)
        }
    }

    func testChromeTraceOnCPU() throws {
        let p = ProfilingBackend(wrapping: Shared.cpu)
        for _ in 0..<2 {
            p.beginStep()
            _ = try workload(p, seed: #function)
            try p.endStep()
        }
        let recorded = p.recordedCalls.count
        XCTAssertGreaterThan(recorded, 40)
        let complete = try checkTrace(try p.chromeTrace(), expectedOps: recorded)
        XCTAssertEqual(complete.filter { $0["cat"] as? String == "step" }.count, 2)
        // Ops are sequential on the host: each starts no earlier than the previous one ended.
        let ops = complete.filter { $0["cat"] as? String == "op" }
        let ts = ops.map { ($0["ts"] as! NSNumber).doubleValue }, dur = ops.map { ($0["dur"] as! NSNumber).doubleValue }
        for i in 1..<ops.count { XCTAssertGreaterThanOrEqual(ts[i] + 0.002, ts[i - 1] + dur[i - 1]) }

        let report = try p.report(stepCount: 2)
        let stepSeconds = try XCTUnwrap(report.stepSeconds)
        XCTAssertGreaterThan(stepSeconds, 0)
        XCTAssertLessThanOrEqual(report.rows.reduce(0) { $0 + $1.share }, 1 + 1e-9, "wall-clock op time fits in the steps")
        XCTAssertTrue(report.rows.allSatisfy { $0.clock == "wall" })
        XCTAssertTrue(report.text.contains("gemm"))
        XCTAssertTrue(report.text.contains("GFLOP/s"))
    }

    // MARK: OpenCL (PoCL in CI)

    func testOpenCLDeviceTimedProfile() throws {
        let shared = try Shared.opencl()
        let cl = try OpenCLBackend(device: shared.device, options: .init(profiling: true))
        let p = ProfilingBackend(wrapping: cl)
        XCTAssertEqual(p.timing, .deviceEvents)
        let direct = try workload(cl, seed: #function)
        try p.reset()
        p.beginStep()
        let profiled = try workload(p, seed: #function)
        try p.endStep()
        assertBitIdentical(profiled, direct)

        let report = try p.report(stepCount: 1)
        XCTAssertEqual(calls(report, "gemm"), 1)
        XCTAssertEqual(calls(report, "layerNorm"), 1)
        XCTAssertEqual(calls(report, "download"), 10)
        let gemm = try XCTUnwrap(report.rows.first { $0.name == "gemm" })
        XCTAssertEqual(gemm.clock, "device")
        XCTAssertEqual(gemm.flops, 2 * 7 * 5 * 9)
        XCTAssertGreaterThan(gemm.totalMilliseconds, 0)
        XCTAssertEqual(report.rows.first { $0.name == "makeBuffer" }?.clock, "wall")
        XCTAssertFalse(report.kernels.isEmpty)
        XCTAssertTrue(report.kernels.contains { $0.name == "layernorm_forward" })

        let recorded = p.recordedCalls
        let complete = try checkTrace(try p.chromeTrace(), expectedOps: recorded.count)
        let kernelEvents = complete.filter { $0["cat"] as? String == "kernel" }
        XCTAssertEqual(kernelEvents.count, recorded.reduce(0) { $0 + $1.kernels })
        XCTAssertGreaterThan(kernelEvents.count, 0)
    }

    func testOpenCLWithoutEventProfilingSynchronizesEachOp() throws {
        let cl = try Shared.opencl()
        let p = ProfilingBackend(wrapping: cl)
        XCTAssertEqual(p.timing, .wallClockSynchronized)
        let direct = try workload(cl, seed: #function)
        let profiled = try workload(p, seed: #function)
        assertBitIdentical(profiled, direct)
        let recorded = p.recordedCalls.count
        _ = try checkTrace(try p.chromeTrace(), expectedOps: recorded)
        XCTAssertTrue(try p.report(stepCount: 1).rows.allSatisfy { $0.clock == "wall" })
    }
}
