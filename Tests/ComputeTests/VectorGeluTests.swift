import Foundation
import XCTest
@testable import Compute

/// The vectorised erf and exp behind the CPU GELU, against float64 over their whole range, and
/// GELU itself the same whatever the split into threads and tails.
final class VectorGeluTests: XCTestCase {
    func sweep(_ lo: Float, _ hi: Float, _ n: Int) -> [Float] {
        (0..<n).map { lo + (hi - lo) * Float($0) / Float(n - 1) } + (0..<n).map { _ in Float.random(in: lo...hi) }
    }

    func apply(_ f: (SIMD8<Float>) -> SIMD8<Float>, _ xs: [Float]) -> [Float] {
        stride(from: 0, to: xs.count, by: 8).flatMap { i -> [Float] in
            var v = SIMD8<Float>(repeating: 0)
            for k in 0..<min(8, xs.count - i) { v[k] = xs[i + k] }
            let y = f(v)
            return (0..<min(8, xs.count - i)).map { y[$0] }
        }
    }

    func testErfWithinItsBound() {
        let xs = sweep(-12, 12, 20000) + [0, -0, .leastNormalMagnitude, 1e-20, -1e-20, 100, -100]
        let ys = apply(VectorGelu.erf, xs)
        var worst = 0.0
        for (x, y) in zip(xs, ys) { worst = max(worst, abs(Double(y) - Foundation.erf(Double(x)))) }
        XCTAssertLessThan(worst, 1e-6, "max |erf error| \(worst)")  // 1.5e-7 from the formula, the rest float32 rounding
    }

    func testExpRelativeError() {
        let xs = sweep(-87, 88, 20000)
        let ys = apply(VectorGelu.exp, xs)
        var worst = 0.0
        for (x, y) in zip(xs, ys) { worst = max(worst, abs(Double(y) / Foundation.exp(Double(x)) - 1)) }
        XCTAssertLessThan(worst, 4e-7, "max relative exp error \(worst)")
    }

    /// Splitting a buffer anywhere (threads, tails shorter than 8) gives the same bits.
    func testSplitsGiveIdenticalResults() {
        let n = 1000 + Int.random(in: 0..<8)
        let xs = (0..<n).map { _ in Float.random(in: -8...8) }, ds = (0..<n).map { _ in Float.random(in: -1...1) }
        var whole = [Float](repeating: 0, count: n), parts = whole, dWhole = whole, dParts = whole
        let cut = Int.random(in: 1..<n)
        xs.withUnsafeBufferPointer { x in
            ds.withUnsafeBufferPointer { d in
                VectorGelu.forward(x.baseAddress!, &whole, 0..<n)
                parts.withUnsafeMutableBufferPointer { p in
                    VectorGelu.forward(x.baseAddress!, p.baseAddress!, 0..<cut)
                    VectorGelu.forward(x.baseAddress!, p.baseAddress!, cut..<n)
                }
                VectorGelu.backward(x.baseAddress!, d.baseAddress!, &dWhole, 0..<n)
                dParts.withUnsafeMutableBufferPointer { p in
                    VectorGelu.backward(x.baseAddress!, d.baseAddress!, p.baseAddress!, 0..<cut)
                    VectorGelu.backward(x.baseAddress!, d.baseAddress!, p.baseAddress!, cut..<n)
                }
            }
        }
        XCTAssertEqual(whole.map(\.bitPattern), parts.map(\.bitPattern), "cut at \(cut)")
        XCTAssertEqual(dWhole.map(\.bitPattern), dParts.map(\.bitPattern), "cut at \(cut)")
    }
}
