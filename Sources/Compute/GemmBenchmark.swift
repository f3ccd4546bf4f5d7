import Foundation

/// One size of the GEMM benchmark: GFLOP/s (2·n³ per product) of each backend, median of the
/// timed runs after warm-up. `openclGFLOPS` is nil when no OpenCL backend was given.
public struct GemmBenchmarkRow: Sendable {
    public let size: Int
    public let cpuGFLOPS: Double
    public let openclGFLOPS: Double?
}

/// `learner bench gemm`: square C = A·B at each size on the CPU backend and the OpenCL backend
/// side by side, in one run.
public enum GemmBenchmark {
    public static let defaultSizes = [256, 512, 1024, 2048]

    public static func run(sizes: [Int] = defaultSizes, repeats: Int = 5, warmup: Int = 2,
                           cpu: any Backend, opencl: (any Backend)?) throws -> [GemmBenchmarkRow] {
        try sizes.map { n in
            let c = try gflops(cpu, n: n, repeats: repeats, warmup: warmup)
            let o = try opencl.map { try gflops($0, n: n, repeats: repeats, warmup: warmup) }
            return GemmBenchmarkRow(size: n, cpuGFLOPS: c, openclGFLOPS: o)
        }
    }

    /// Median GFLOP/s of `repeats` timed n×n×n products (each synchronised) after `warmup` untimed ones.
    public static func gflops(_ backend: any Backend, n: Int, repeats: Int, warmup: Int) throws -> Double {
        var rng = SystemRandomNumberGenerator()
        let values = (0..<(n * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        let a = try backend.makeBuffer(values), b = try backend.makeBuffer(values)
        let c = try backend.makeBuffer(count: n * n, dtype: .float32)
        for _ in 0..<max(0, warmup) {
            try backend.gemm(m: n, n: n, k: n, a: a, b: b, c: c)
        }
        try backend.synchronize()
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try backend.gemm(m: n, n: n, k: n, a: a, b: b, c: c)
            try backend.synchronize()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        times.sort()
        let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
        return 2 * Double(n) * Double(n) * Double(n) / median / 1e9
    }

    /// A Markdown table of the rows.
    public static func table(_ rows: [GemmBenchmarkRow], cpuName: String, openclName: String?) -> String {
        var out = "| n | \(cpuName) GFLOP/s | \(openclName ?? "OpenCL") GFLOP/s |\n|---:|---:|---:|\n"
        for r in rows {
            let o = r.openclGFLOPS.map { String(format: "%.1f", $0) } ?? "—"
            out += "| \(r.size) | \(String(format: "%.1f", r.cpuGFLOPS)) | \(o) |\n"
        }
        return out
    }
}
