import CKernels
import Foundation

/// `learner bench gelu`: the CPU backend's vectorised GELU (CKernels/gelu.c) beside the scalar
/// `erff` loop it replaced, forward and backward, one thread, the same inputs, interleaved rounds
/// (these machines are noisy), medians and their ratio.
public enum GeluBenchmark {
    public struct Row: Sendable {
        public let name: String
        /// Elements per second, in millions (medians).
        public let scalar: Double
        public let vector: Double
    }

    public static func run(count: Int = 1 << 20, rounds: Int = 9) -> [Row] {
        let x = (0..<count).map { _ in Float.random(in: -6...6) }, d = (0..<count).map { _ in Float.random(in: -1...1) }
        var y = [Float](repeating: 0, count: count)
        func time(_ body: () -> Void) -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(count) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) / 1e6
        }
        let scalarForward = {
            x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                for i in 0..<count { let v = xp[i]; yp[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) } } }
        }
        let scalarBackward = {
            x.withUnsafeBufferPointer { xp in d.withUnsafeBufferPointer { dp in y.withUnsafeMutableBufferPointer { yp in
                for i in 0..<count {
                    let v = xp[i]
                    let cdf = 0.5 * (1 + erff(v * 0.70710678118654752))
                    yp[i] = dp[i] * (cdf + v * expf(-0.5 * v * v) * 0.39894228040143268)
                } } } }
        }
        let cForward = {
            x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                ck_gelu_forward(xp.baseAddress!, yp.baseAddress!, 0, count) } }
        }
        let cBackward = {
            x.withUnsafeBufferPointer { xp in d.withUnsafeBufferPointer { dp in y.withUnsafeMutableBufferPointer { yp in
                ck_gelu_backward(xp.baseAddress!, dp.baseAddress!, yp.baseAddress!, 0, count) } } }
        }
        var rows: [Row] = []
        for (name, scalar, vector) in [("forward", scalarForward, cForward), ("backward", scalarBackward, cBackward)] {
            scalar(); vector()  // warm-up
            var s: [Double] = [], v: [Double] = []
            for _ in 0..<max(1, rounds) { s.append(time(scalar)); v.append(time(vector)) }
            s.sort(); v.sort()
            rows.append(Row(name: name, scalar: s[s.count / 2], vector: v[v.count / 2]))
        }
        return rows
    }

    public static func table(_ rows: [Row], count: Int) -> String {
        var out = "GELU on \(count) floats, one thread (M elements/s, medians of interleaved rounds)\n"
        out += "| pass | scalar erff | vectorised (C kernel) | ratio |\n|---|---:|---:|---:|\n"
        for r in rows { out += String(format: "| %@ | %.1f | %.1f | %.2fx |\n", r.name as NSString, r.scalar, r.vector, r.vector / r.scalar) }
        return out
    }
}
