import CKernels
import Foundation
import XCTest
@testable import Compute

/// The vector erf and exp behind the CPU kernels (CKernels/simd.h), against float64 over their
/// whole range, and the kernels giving the same bits whatever the split into threads and tails.
/// (The kernels' results themselves are checked against float64 in OpsTests.)
final class CKernelsTests: XCTestCase {
    func sweep(_ lo: Float, _ hi: Float, _ n: Int) -> [Float] {
        (0..<n).map { lo + (hi - lo) * Float($0) / Float(n - 1) } + (0..<n).map { _ in Float.random(in: lo...hi) }
    }

    func apply(_ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void, _ xs: [Float]) -> [Float] {
        var ys = [Float](repeating: .nan, count: xs.count)
        xs.withUnsafeBufferPointer { x in ys.withUnsafeMutableBufferPointer { y in f(x.baseAddress!, y.baseAddress!, xs.count) } }
        return ys
    }

    func testErfWithinItsBound() {
        let xs = sweep(-12, 12, 20000) + [0, -0, .leastNormalMagnitude, 1e-20, -1e-20, 100, -100]
        let ys = apply(ck_erf_array, xs)
        var worst = 0.0
        for (x, y) in zip(xs, ys) { worst = max(worst, abs(Double(y) - Foundation.erf(Double(x)))) }
        XCTAssertLessThan(worst, 1e-6, "max |erf error| \(worst)")  // 1.5e-7 from the formula, the rest float32 rounding
        XCTAssertEqual(ys[ys.count - 7].sign, .plus)
        XCTAssertEqual(ys[ys.count - 1], -1, accuracy: 1e-7)
    }

    func testExpRelativeError() {
        let xs = sweep(-87, 88, 20000)
        let ys = apply(ck_exp_array, xs)
        var worst = 0.0
        for (x, y) in zip(xs, ys) { worst = max(worst, abs(Double(y) / Foundation.exp(Double(x)) - 1)) }
        XCTAssertLessThan(worst, 4e-7, "max relative exp error \(worst)")
    }

    /// Splitting a buffer anywhere (threads, tails shorter than a vector) gives the same bits.
    func testSplitsGiveIdenticalResults() {
        let n = 1000 + Int.random(in: 0..<16)
        let xs = (0..<n).map { _ in Float.random(in: -8...8) }, ds = (0..<n).map { _ in Float.random(in: -1...1) }
        var whole = [Float](repeating: 0, count: n), parts = whole, dWhole = whole, dParts = whole
        let cut = Int.random(in: 1..<n)
        xs.withUnsafeBufferPointer { x in
            ds.withUnsafeBufferPointer { d in
                ck_gelu_forward(x.baseAddress!, &whole, 0, n)
                parts.withUnsafeMutableBufferPointer { p in
                    ck_gelu_forward(x.baseAddress!, p.baseAddress!, 0, cut)
                    ck_gelu_forward(x.baseAddress!, p.baseAddress!, cut, n)
                }
                ck_gelu_backward(x.baseAddress!, d.baseAddress!, &dWhole, 0, n)
                dParts.withUnsafeMutableBufferPointer { p in
                    ck_gelu_backward(x.baseAddress!, d.baseAddress!, p.baseAddress!, 0, cut)
                    ck_gelu_backward(x.baseAddress!, d.baseAddress!, p.baseAddress!, cut, n)
                }
            }
        }
        XCTAssertEqual(whole.map(\.bitPattern), parts.map(\.bitPattern), "cut at \(cut)")
        XCTAssertEqual(dWhole.map(\.bitPattern), dParts.map(\.bitPattern), "cut at \(cut)")
    }

    /// Attention's (batch, head) tiles split across calls give the same bits as one call.
    func testAttentionTileSplitsGiveIdenticalResults() {
        let B = 3, T = 21, H = 4, Dh = 16
        let lengths: [Int32] = [21, 7, 16], starts: [Int32] = [0, 21, 28], rows = 44
        let qkv = (0..<(rows * 3 * H * Dh)).map { _ in Float.random(in: -2...2) }
        let dOut = (0..<(rows * H * Dh)).map { _ in Float.random(in: -1...1) }
        func run(_ cuts: [Int]) -> ([Float], [Float], [Float]) {
            var probs = [Float](repeating: .nan, count: B * H * T * T), out = [Float](repeating: .nan, count: rows * H * Dh)
            var dq = [Float](repeating: .nan, count: qkv.count)
            let bounds = [0] + cuts + [B * H]
            for (lo, hi) in zip(bounds, bounds.dropFirst()) {
                ck_attention_forward(qkv, lengths, starts, &probs, &out, T, H, Dh, lo, hi)
            }
            for (lo, hi) in zip(bounds, bounds.dropFirst()) {
                ck_attention_backward(qkv, lengths, starts, probs, dOut, &dq, T, H, Dh, lo, hi)
            }
            return (probs, out, dq)
        }
        let whole = run([]), split = run([Int.random(in: 1..<(B * H))])
        XCTAssertEqual(whole.0.map(\.bitPattern), split.0.map(\.bitPattern))
        XCTAssertEqual(whole.1.map(\.bitPattern), split.1.map(\.bitPattern))
        XCTAssertEqual(whole.2.map(\.bitPattern), split.2.map(\.bitPattern))
        XCTAssertFalse(whole.0.contains { $0.isNaN } || whole.1.contains { $0.isNaN } || whole.2.contains { $0.isNaN },
                       "every element written")
    }
}
