import CKernels
import Foundation

/// `learner bench half`: the CPU backend's fp32 <-> fp16 conversions (`ck_to_half` /
/// `ck_from_half`, 16-lane integer code) beside Swift's `Float16` initialisers, which lower to a
/// library call per element on x86-64 without F16C. One thread, the same inputs, median of the
/// timed runs.
public enum HalfConversionBenchmark {
    public struct Row: Sendable {
        public let name: String
        /// Elements per second, in millions.
        public let float16: Double
        public let kernel: Double
    }

    public static func run(count: Int = 1 << 22, repeats: Int = 7) -> [Row] {
        var rng = SystemRandomNumberGenerator()
        // Gradients and activations: mostly normal magnitudes, some tiny and some large.
        let floats = (0..<count).map { i -> Float in
            let v = Float.random(in: -1...1, using: &rng)
            return i % 16 == 0 ? v * 1e-6 : (i % 16 == 1 ? v * 3e4 : v)
        }
        let halves = floats.map { Float16($0).bitPattern }
        var outH = [UInt16](repeating: 0, count: count), outF = [Float](repeating: 0, count: count)

        func rate(_ body: () -> Void) -> Double {
            body() // warm-up
            var times: [Double] = []
            for _ in 0..<max(1, repeats) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                body()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            times.sort()
            return Double(count) / times[times.count / 2] / 1e6
        }
        let toF16 = rate { floats.withUnsafeBufferPointer { s in outH.withUnsafeMutableBufferPointer { d in
            for i in 0..<count { d[i] = Float16(s[i]).bitPattern } } } }
        let toKernel = rate { floats.withUnsafeBufferPointer { s in outH.withUnsafeMutableBufferPointer { d in
            ck_to_half(s.baseAddress!, d.baseAddress!, 0, count) } } }
        let fromF16 = rate { halves.withUnsafeBufferPointer { s in outF.withUnsafeMutableBufferPointer { d in
            for i in 0..<count { d[i] = Float(Float16(bitPattern: s[i])) } } } }
        let fromKernel = rate { halves.withUnsafeBufferPointer { s in outF.withUnsafeMutableBufferPointer { d in
            ck_from_half(s.baseAddress!, d.baseAddress!, 0, count) } } }
        // Keep the outputs observable so the loops are not removed.
        if outH.first == 0xFFFF && outF.first == .infinity { print("") }
        return [Row(name: "fp32 -> fp16 (toHalf)", float16: toF16, kernel: toKernel),
                Row(name: "fp16 -> fp32 (fromHalf)", float16: fromF16, kernel: fromKernel)]
    }

    public static func table(_ rows: [Row], count: Int) -> String {
        var out = "\(count) elements, one thread, median of the timed runs (M elements/s)\n\n"
        out += "| conversion | Swift Float16 | CPU backend (16-lane C) | ratio |\n|---|---:|---:|---:|\n"
        for r in rows {
            out += "| \(r.name) | \(String(format: "%.0f", r.float16)) | \(String(format: "%.0f", r.kernel)) | "
            out += "\(String(format: "%.1f", r.kernel / r.float16))× |\n"
        }
        return out
    }
}
