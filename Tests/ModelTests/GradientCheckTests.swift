import Compute
import XCTest
@testable import Model

/// Finite-difference checks of every layer's backward and of the whole model, on the CPU backend.
/// Backend storage is fp32, so each check compares the analytic directional derivative g·v with a
/// central difference (L(θ+εv) − L(θ−εv)) / 2ε whose loss is accumulated in float64.
final class GradientCheckTests: XCTestCase {
    let be = CPUBackend(threads: 1)
    var rng = ModelRNG(seed: UInt64.random(in: 0...UInt64.max))

    func randn(_ n: Int, _ std: Double = 1) -> [Float] { (0..<n).map { _ in Float(rng.normal() * std) } }

    /// Weighted sum Σ w·y in float64: a scalar loss with dL/dy = w.
    func weighted(_ y: any DeviceBuffer, _ w: [Float]) throws -> Double {
        let v = try be.download(y, offset: 0, count: w.count)
        return zip(v, w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Checks dL/dx for one input buffer: `loss` recomputes the forward and returns L.
    func checkDirectional(_ name: String, x: any DeviceBuffer, grad: [Float], eps: Float = 1e-2,
                          tol: Double = 2e-2, loss: () throws -> Double) throws {
        let x0 = try be.download(x)
        let v = randn(x0.count)
        let analytic = zip(grad, v).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        func central(_ h: Float) throws -> Double {
            try be.upload(zip(x0, v).map { $0 + h * $1 }, to: x)
            let lp = try loss()
            try be.upload(zip(x0, v).map { $0 - h * $1 }, to: x)
            let lm = try loss()
            try be.upload(x0, to: x)
            return (lp - lm) / Double(2 * h)
        }
        // Richardson extrapolation cancels the O(eps^2) curvature term of the central difference,
        // so eps can stay large enough for fp32 round-off not to matter.
        let numeric = (4 * (try central(eps / 2)) - (try central(eps))) / 3
        // A loss held in fp32 buffers is exact to about one ulp of its size, which a difference
        // over eps / 2 turns into ~ulp·|L| / eps of noise in the derivative: where the directional
        // derivative itself is that small, compare against the noise, not against zero.
        let noise = 2 * Double(Float.ulpOfOne) * max(1, abs(try loss())) / Double(eps)
        let err = abs(numeric - analytic) / max(1e-3, abs(numeric) + abs(analytic), 100 * noise)
        XCTAssertLessThan(err, tol, "\(name): analytic \(analytic) vs numeric \(numeric) (seed \(rng.state))")
    }

    func testLinearGELULayerNormSoftmax() throws {
        let rows = 5, cols = 8, outCols = 6
        let x = try be.makeBuffer(randn(rows * cols))
        var prng = ModelRNG(seed: rng.next())
        let store = ParameterStore(backend: be)
        let lin = try Linear(store, "lin", cols, outCols, std: 0.5, rng: &prng)
        try be.upload(randn(outCols, 0.5), to: lin.b.value)
        let ln = try LayerNormLayer(store, "ln", outCols, rng: &prng)
        try be.upload(randn(outCols, 0.5).map { $0 + 1 }, to: ln.gamma.value)
        try be.upload(randn(outCols, 0.5), to: ln.beta.value)
        let y1 = try be.makeBuffer(count: rows * outCols, dtype: .float32)
        let y2 = try be.makeBuffer(count: rows * outCols, dtype: .float32)
        let y3 = try be.makeBuffer(count: rows * outCols, dtype: .float32)
        let y4 = try be.makeBuffer(count: rows * outCols, dtype: .float32)
        let mean = try be.makeBuffer(count: rows, dtype: .float32), rstd = try be.makeBuffer(count: rows, dtype: .float32)
        let w = randn(rows * outCols)
        func forward() throws -> Double {
            try lin.forward(be, x: x, y: y1, rows: rows)          // [rows, out]
            try be.gelu(y1, y2, count: rows * outCols)
            try ln.forward(be, x: y2, y: y3, mean: mean, rstd: rstd, rows: rows)
            try be.softmax(y3, y4, rows: rows, cols: outCols)
            return try weighted(y4, w)
        }
        _ = try forward()
        try store.zeroGrads()
        let dy4 = try be.makeBuffer(w), d3 = try be.makeBuffer(count: rows * outCols, dtype: .float32)
        let d2 = try be.makeBuffer(count: rows * outCols, dtype: .float32), d1 = try be.makeBuffer(count: rows * outCols, dtype: .float32)
        let dx = try be.makeBuffer(count: rows * cols, dtype: .float32)
        try be.softmaxBackward(y: y4, dY: dy4, dX: d3, rows: rows, cols: outCols)
        try ln.backward(be, x: y2, mean: mean, rstd: rstd, dY: d3, dX: d2, rows: rows)
        try be.geluBackward(x: y1, dY: d2, dX: d1, count: rows * outCols)
        try lin.backward(be, x: x, dY: d1, dX: dx, rows: rows)
        try checkDirectional("x", x: x, grad: try be.download(dx), loss: forward)
        for p in store.all {
            try checkDirectional(p.name, x: p.value, grad: try be.download(p.grad), loss: forward)
        }
    }

    /// Two sequences of 5 and 3 tokens stored back to back (8 rows, no padding).
    func testAttentionBackward() throws {
        let B = 2, T = 5, H = 2, Dh = 3, rows = 8
        let qkv = try be.makeBuffer(randn(rows * 3 * H * Dh))
        let lengths = try be.makeBuffer([Int32(T), 3]), starts = try be.makeBuffer([Int32(0), 5])
        let probs = try be.makeBuffer(count: B * H * T * T, dtype: .float32)
        let out = try be.makeBuffer(count: rows * H * Dh, dtype: .float32)
        let w = randn(rows * H * Dh)
        func forward() throws -> Double {
            try be.attentionForward(qkv: qkv, lengths: lengths, starts: starts, probs: probs, out: out, rows: rows,
                                    batch: B, seq: T, heads: H, headDim: Dh)
            return try weighted(out, w)
        }
        _ = try forward()
        let dq = try be.makeBuffer(count: rows * 3 * H * Dh, dtype: .float32)
        try be.fill(dq, value: .nan, offset: 0, count: dq.count)
        try be.attentionBackward(qkv: qkv, lengths: lengths, starts: starts, probs: probs, dOut: try be.makeBuffer(w),
                                 dQKV: dq, rows: rows, batch: B, seq: T, heads: H, headDim: Dh)
        let g = try be.download(dq)
        XCTAssertFalse(g.contains { $0.isNaN }, "attentionBackward left elements of dQKV unwritten")
        try checkDirectional("qkv", x: qkv, grad: g, eps: 1e-2, loss: forward)
    }

    func testCrossEntropyWithSmoothing() throws {
        let rows = 4, classes = 7
        let logits = try be.makeBuffer(randn(rows * classes))
        let targets = try be.makeBuffer([Int32(2), 0, -1, 6])
        let losses = try be.makeBuffer(count: rows, dtype: .float32)
        let dl = try be.makeBuffer(count: rows * classes, dtype: .float32)
        func forward() throws -> Double {
            try be.crossEntropy(logits: logits, targets: targets, losses: losses, dLogits: dl, rows: rows,
                                classes: classes, smoothing: 0.1, gradScale: 1)
            return try be.download(losses).reduce(0.0) { $0 + Double($1) }
        }
        _ = try forward()
        let g = try be.download(dl)
        XCTAssertEqual(g[(2 * classes)..<(3 * classes)].reduce(0, +), 0, "ignored row must have zero gradient")
        try checkDirectional("logits", x: logits, grad: g, eps: 1e-2, loss: forward)
    }
}
