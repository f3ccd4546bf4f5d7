import Foundation
import XCTest
@testable import Compute

/// Every op against a float64 reference computed here, on fresh random inputs, with outputs
/// poisoned (NaN, or a sentinel for int32) first. Each check runs unchanged on either backend.
struct Checks {
    let b: any Backend
    var rng: TestRNG
    let label: String

    init(_ backend: any Backend, _ test: String = #function) {
        b = backend
        label = "\(backend.kind.rawValue) \(test)"
        rng = Shared.rng(label)
    }

    mutating func floats(_ n: Int, _ lo: Float = -2, _ hi: Float = 2) -> [Float] {
        (0..<n).map { _ in Float.random(in: lo...hi, using: &rng) }
    }

    mutating func integers(_ n: Int, _ lo: Int = -8, _ hi: Int = 8) -> [Float] {
        (0..<n).map { _ in Float(Int.random(in: lo...hi, using: &rng)) }
    }

    func buf(_ v: [Float]) throws -> any DeviceBuffer { try b.makeBuffer(v) }
    func buf(_ v: [Int32]) throws -> any DeviceBuffer { try b.makeBuffer(v) }

    func poisoned(_ n: Int) throws -> any DeviceBuffer {
        let x = try b.makeBuffer(count: n, dtype: .float32)
        try b.fill(x, value: .nan, offset: 0, count: n)
        return x
    }

    func poisonedInt(_ n: Int) throws -> any DeviceBuffer {
        let x = try b.makeBuffer(count: n, dtype: .int32)
        try b.fill(x, value: -7777, offset: 0, count: n)
        return x
    }

    func get(_ x: any DeviceBuffer) throws -> [Float] { try b.download(x) }

    // MARK: GEMM

    /// The whole C buffer after C = alpha op(A) op(B) + beta C in float64.
    static func refGemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Double,
                        _ A: [Float], _ aOff: Int, _ lda: Int, _ B: [Float], _ bOff: Int, _ ldb: Int,
                        _ beta: Double, _ C: [Float], _ cOff: Int, _ ldc: Int) -> [Double] {
        var out = C.map(Double.init)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let a = ta ? A[aOff + p * lda + i] : A[aOff + i * lda + p]
                    let bb = tb ? B[bOff + j * ldb + p] : B[bOff + p * ldb + j]
                    s += Double(a) * Double(bb)
                }
                let at = cOff + i * ldc + j
                out[at] = alpha * s + (beta == 0 ? 0 : beta * Double(C[at]))
            }
        }
        return out
    }

    mutating func gemm(transA ta: Bool, transB tb: Bool, alpha: Float, beta: Float) throws {
        let m = Int.random(in: 1...40, using: &rng), n = Int.random(in: 1...40, using: &rng)
        let k = Int.random(in: 1...70, using: &rng)
        let (aRows, aCols) = ta ? (k, m) : (m, k), (bRows, bCols) = tb ? (n, k) : (k, n)
        let lda = aCols + 3, ldb = bCols + 1, ldc = n + 2
        let aOff = 5, bOff = 2, cOff = 7
        let A = integers(aOff + aRows * lda), B = integers(bOff + bRows * ldb)
        // Padding between rows holds a sentinel that must survive; the matrix itself is NaN when
        // beta == 0 (so it must be overwritten) and integers otherwise.
        var C = [Float](repeating: 12345, count: cOff + m * ldc + 4)
        for i in 0..<m { for j in 0..<n { C[cOff + i * ldc + j] = beta == 0 ? .nan : Float(Int.random(in: -8...8, using: &rng)) } }
        let want = Self.refGemm(ta, tb, m, n, k, Double(alpha), A, aOff, lda, B, bOff, ldb, Double(beta), C, cOff, ldc)
        let a = try buf(A), bb = try buf(B), c = try buf(C)
        try b.gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: a, aOffset: aOff, lda: lda,
                   b: bb, bOffset: bOff, ldb: ldb, beta: beta, c: c, cOffset: cOff, ldc: ldc)
        assertExact(try get(c), want, "\(label) gemm ta=\(ta) tb=\(tb) m=\(m) n=\(n) k=\(k) alpha=\(alpha) beta=\(beta)")
    }

    mutating func gemmKZero() throws {
        let m = 5, n = 6, ldc = 8
        var C = integers(m * ldc)
        let c = try buf(C)
        let a = try buf([Float](repeating: 1, count: 4)), bb = try buf([Float](repeating: 1, count: 4))
        try b.gemm(transA: false, transB: false, m: m, n: n, k: 0, alpha: 1, a: a, aOffset: 0, lda: 1,
                   b: bb, bOffset: 0, ldb: n, beta: 2, c: c, cOffset: 0, ldc: ldc)
        var want = C.map(Double.init)
        for i in 0..<m { for j in 0..<n { want[i * ldc + j] *= 2 } }
        assertExact(try get(c), want, "\(label) gemm k=0 beta=2")
        for i in 0..<m { for j in 0..<n { C[i * ldc + j] = .nan } }
        try b.upload(C, to: c)
        try b.gemm(transA: false, transB: false, m: m, n: n, k: 0, alpha: 1, a: a, aOffset: 0, lda: 1,
                   b: bb, bOffset: 0, ldb: n, beta: 0, c: c, cOffset: 0, ldc: ldc)
        want = C.map(Double.init)
        for i in 0..<m { for j in 0..<n { want[i * ldc + j] = 0 } }
        assertExact(try get(c), want, "\(label) gemm k=0 beta=0")
        // Empty sizes are no-ops.
        try b.gemm(transA: false, transB: false, m: 0, n: n, k: 3, alpha: 1, a: a, aOffset: 0, lda: 3,
                   b: bb, bOffset: 0, ldb: n, beta: 0, c: c, cOffset: 0, ldc: ldc)
    }

    mutating func gemmStridedBatched(transA ta: Bool, transB tb: Bool) throws {
        let batch = Int.random(in: 2...4, using: &rng)
        let m = Int.random(in: 1...24, using: &rng), n = Int.random(in: 1...24, using: &rng), k = Int.random(in: 1...24, using: &rng)
        let (aRows, aCols) = ta ? (k, m) : (m, k), (bRows, bCols) = tb ? (n, k) : (k, n)
        let lda = aCols + 1, ldb = bCols, ldc = n + 1
        let strideA = aRows * lda + 3, strideB = bRows * ldb, strideC = m * ldc + 2
        let A = integers(strideA * batch), B = integers(strideB * batch)
        var C = [Float](repeating: 12345, count: strideC * batch)
        for bi in 0..<batch { for i in 0..<m { for j in 0..<n { C[bi * strideC + i * ldc + j] = .nan } } }
        var want = C.map(Double.init)
        for bi in 0..<batch {
            let r = Self.refGemm(ta, tb, m, n, k, 1, A, bi * strideA, lda, B, bi * strideB, ldb, 0, C, bi * strideC, ldc)
            for i in 0..<m { for j in 0..<n { let at = bi * strideC + i * ldc + j; want[at] = r[at] } }
        }
        let a = try buf(A), bb = try buf(B), c = try buf(C)
        try b.gemmStridedBatched(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1,
                                 a: a, aOffset: 0, lda: lda, strideA: strideA, b: bb, bOffset: 0, ldb: ldb, strideB: strideB,
                                 beta: 0, c: c, cOffset: 0, ldc: ldc, strideC: strideC, batch: batch)
        assertExact(try get(c), want, "\(label) gemmStridedBatched ta=\(ta) tb=\(tb) m=\(m) n=\(n) k=\(k) batch=\(batch)")
    }

    // MARK: elementwise

    mutating func biasOps() throws {
        let rows = 37, cols = 53
        let X = floats(rows * cols), Bv = floats(cols), G0 = floats(cols)
        let x = try buf(X), bias = try buf(Bv)
        try b.addBias(x, bias: bias, rows: rows, cols: cols)
        assertClose(try get(x), (0..<(rows * cols)).map { Double(X[$0]) + Double(Bv[$0 % cols]) }, atol: 1e-6, rtol: 1e-6, "\(label) addBias")
        let g = try buf(G0)
        try b.biasBackward(dY: x, dBias: g, rows: rows, cols: cols)
        let want = (0..<cols).map { j in Double(G0[j]) + (0..<rows).reduce(0.0) { $0 + Double(X[$1 * cols + j]) + Double(Bv[j]) } }
        assertClose(try get(g), want, atol: 1e-4, rtol: 1e-5, "\(label) biasBackward")
    }

    mutating func geluOps() throws {
        let n = 1000
        let X = floats(n, -6, 6), D = floats(n)
        let x = try buf(X), y = try poisoned(n), d = try buf(D), dx = try poisoned(n)
        try b.gelu(x, y, count: n)
        assertClose(try get(y), X.map { let v = Double($0); return 0.5 * v * (1 + erf(v / 2.0.squareRoot())) },
                    atol: 1e-6, rtol: 1e-5, "\(label) gelu")
        try b.geluBackward(x: x, dY: d, dX: dx, count: n)
        let want = (0..<n).map { i -> Double in
            let v = Double(X[i])
            return Double(D[i]) * (0.5 * (1 + erf(v / 2.0.squareRoot())) + v * exp(-0.5 * v * v) / (2 * Double.pi).squareRoot())
        }
        assertClose(try get(dx), want, atol: 1e-6, rtol: 1e-5, "\(label) geluBackward")

        // Fused GEMM epilogue: x += bias in place, y = gelu(x).
        let rows = 29, cols = 41
        let Xb = floats(rows * cols, -4, 4), Bv = floats(cols)
        let xb = try buf(Xb), bias = try buf(Bv), yb = try poisoned(rows * cols)
        try b.addBiasGelu(xb, bias: bias, yb, rows: rows, cols: cols)
        let pre = (0..<(rows * cols)).map { Double(Xb[$0]) + Double(Bv[$0 % cols]) }
        assertClose(try get(xb), pre, atol: 1e-6, rtol: 1e-6, "\(label) addBiasGelu x")
        assertClose(try get(yb), pre.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }, atol: 1e-6, rtol: 1e-5,
                    "\(label) addBiasGelu y")
    }

    mutating func arithmeticOps() throws {
        let n = 777
        let A = floats(n), B = floats(n)
        let a = try buf(A), bb = try buf(B), y = try poisoned(n)
        try b.add(a, bb, y, count: n)
        assertClose(try get(y), (0..<n).map { Double(A[$0]) + Double(B[$0]) }, atol: 1e-6, rtol: 1e-6, "\(label) add")
        try b.add(a, bb, a, count: n) // y aliases a
        assertClose(try get(a), (0..<n).map { Double(A[$0]) + Double(B[$0]) }, atol: 1e-6, rtol: 1e-6, "\(label) add aliased")
        try b.upload(A, to: a)
        let z = try poisoned(n)
        try b.mul(a, bb, z, count: n)
        assertClose(try get(z), (0..<n).map { Double(A[$0]) * Double(B[$0]) }, atol: 1e-6, rtol: 1e-6, "\(label) mul")
        try b.axpy(alpha: 0.75, x: a, y: bb, count: n)
        assertClose(try get(bb), (0..<n).map { Double(B[$0]) + 0.75 * Double(A[$0]) }, atol: 1e-6, rtol: 1e-6, "\(label) axpy")
        try b.scale(a, by: -1.5, count: n)
        assertClose(try get(a), A.map { -1.5 * Double($0) }, atol: 1e-6, rtol: 1e-6, "\(label) scale")
    }

    // MARK: normalisation and softmax

    mutating func layerNormOps() throws {
        let rows = 19, cols = 300, eps: Float = 1e-5
        let X = floats(rows * cols, -3, 5), G = floats(cols), Bt = floats(cols), DY = floats(rows * cols)
        let DG0 = floats(cols), DB0 = floats(cols)
        let x = try buf(X), g = try buf(G), bt = try buf(Bt), y = try poisoned(rows * cols)
        let mean = try poisoned(rows), rstd = try poisoned(rows)
        try b.layerNorm(x: x, gamma: g, beta: bt, y: y, mean: mean, rstd: rstd, rows: rows, cols: cols, eps: eps)
        var wy = [Double](), wm = [Double](), wr = [Double](), wdx = [Double]()
        var wdg = DG0.map(Double.init), wdb = DB0.map(Double.init)
        for i in 0..<rows {
            let row = (0..<cols).map { Double(X[i * cols + $0]) }
            let mu = row.reduce(0, +) / Double(cols)
            let v = row.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(cols)
            let rs = 1 / (v + Double(eps)).squareRoot()
            wm.append(mu); wr.append(rs)
            let xh = row.map { ($0 - mu) * rs }
            for j in 0..<cols { wy.append(xh[j] * Double(G[j]) + Double(Bt[j])) }
            let gg = (0..<cols).map { Double(DY[i * cols + $0]) * Double(G[$0]) }
            let sg = gg.reduce(0, +), sgx = (0..<cols).reduce(0.0) { $0 + gg[$1] * xh[$1] }
            for j in 0..<cols {
                wdx.append(rs * (gg[j] - sg / Double(cols) - xh[j] * sgx / Double(cols)))
                wdg[j] += Double(DY[i * cols + j]) * xh[j]
                wdb[j] += Double(DY[i * cols + j])
            }
        }
        assertClose(try get(y), wy, atol: 1e-4, rtol: 1e-4, "\(label) layerNorm y")
        assertClose(try get(mean), wm, atol: 1e-5, rtol: 1e-5, "\(label) layerNorm mean")
        assertClose(try get(rstd), wr, atol: 1e-5, rtol: 1e-4, "\(label) layerNorm rstd")
        let dy = try buf(DY), dx = try poisoned(rows * cols), dg = try buf(DG0), db = try buf(DB0)
        try b.layerNormBackward(x: x, gamma: g, mean: mean, rstd: rstd, dY: dy, dX: dx, dGamma: dg, dBeta: db, rows: rows, cols: cols)
        assertClose(try get(dx), wdx, atol: 1e-4, rtol: 1e-3, "\(label) layerNormBackward dX")
        assertClose(try get(dg), wdg, atol: 1e-4, rtol: 1e-4, "\(label) layerNormBackward dGamma")
        assertClose(try get(db), wdb, atol: 1e-4, rtol: 1e-4, "\(label) layerNormBackward dBeta")
    }

    mutating func softmaxOps() throws {
        let rows = 13, cols = 77
        var X = floats(rows * cols, -8, 8)
        X[3] = -.infinity // a masked entry
        for j in 0..<cols { X[5 * cols + j] = -.infinity } // a fully masked row gives zeros
        let DY = floats(rows * cols)
        let x = try buf(X), y = try poisoned(rows * cols)
        try b.softmax(x, y, rows: rows, cols: cols)
        var want = [Double]()
        for i in 0..<rows {
            let row = (0..<cols).map { Double(X[i * cols + $0]) }
            let mx = row.max()!
            if mx == -.infinity { want += Array(repeating: 0, count: cols); continue }
            let e = row.map { exp($0 - mx) }
            let s = e.reduce(0, +)
            want += e.map { $0 / s }
        }
        assertClose(try get(y), want, atol: 1e-6, rtol: 1e-5, "\(label) softmax")
        let Y = try get(y)
        let dy = try buf(DY), dx = try poisoned(rows * cols)
        try b.softmaxBackward(y: y, dY: dy, dX: dx, rows: rows, cols: cols)
        var wdx = [Double]()
        for i in 0..<rows {
            let dot = (0..<cols).reduce(0.0) { $0 + Double(Y[i * cols + $1]) * Double(DY[i * cols + $1]) }
            for j in 0..<cols { wdx.append(Double(Y[i * cols + j]) * (Double(DY[i * cols + j]) - dot)) }
        }
        assertClose(try get(dx), wdx, atol: 1e-6, rtol: 1e-4, "\(label) softmaxBackward")
    }

    // MARK: embeddings

    mutating func embeddingOps() throws {
        let vocab = 23, dim = 17, count = 60
        let T = floats(vocab * dim), D = floats(count * dim), T0 = floats(vocab * dim)
        // Repeated ids (and some ids never used) exercise accumulation.
        let ids = (0..<count).map { _ in Int32(Int.random(in: 0..<(vocab - 3), using: &rng)) }
        let t = try buf(T), i = try buf(ids), o = try poisoned(count * dim)
        try b.embeddingGather(table: t, ids: i, out: o, count: count, dim: dim)
        assertExact(try get(o), (0..<(count * dim)).map { Double(T[Int(ids[$0 / dim]) * dim + $0 % dim]) }, "\(label) embeddingGather")
        let d = try buf(D), dt = try buf(T0)
        try b.embeddingScatterAdd(dOut: d, ids: i, dTable: dt, count: count, dim: dim)
        var want = T0.map(Double.init)
        for p in 0..<count { for j in 0..<dim { want[Int(ids[p]) * dim + j] += Double(D[p * dim + j]) } }
        assertClose(try get(dt), want, atol: 1e-5, rtol: 1e-5, "\(label) embeddingScatterAdd")
    }

    // MARK: reductions

    mutating func reductionOps() throws {
        for n in [0, 1, 255, 100_003] {
            let X = floats(n, -1, 1)
            let x = try b.makeBuffer(count: max(n, 1), dtype: .float32)
            if n > 0 { try b.upload(X, to: x) }
            let out = try poisoned(1)
            let s = X.reduce(0.0) { $0 + Double($1) }, sq = X.reduce(0.0) { $0 + Double($1) * Double($1) }
            try b.sum(x, count: n, out: out)
            // fp32 summation error grows with the sum of magnitudes, not with the result.
            let magnitude = X.reduce(0.0) { $0 + abs(Double($1)) }
            assertClose(try get(out), [s], atol: max(1e-4, 4 * Double(Float.ulpOfOne) * magnitude), rtol: 1e-5, "\(label) sum n=\(n)")
            try b.fill(out, value: .nan, offset: 0, count: 1)
            try b.mean(x, count: n, out: out)
            assertClose(try get(out), [n == 0 ? 0 : s / Double(n)], atol: 1e-6, rtol: 1e-5, "\(label) mean n=\(n)")
            try b.fill(out, value: .nan, offset: 0, count: 1)
            try b.sumOfSquares(x, count: n, out: out)
            assertClose(try get(out), [sq], atol: 1e-4, rtol: 1e-5, "\(label) sumOfSquares n=\(n)")
        }
    }

    // MARK: precision

    mutating func halfRoundTrip() throws {
        var X = floats(2000, -70000, 70000) + floats(2000, -1, 1) + floats(500, -1e-4, 1e-4)
        X += [0, -0, 65504, 65520, -65520, 1e-8, .infinity, -.infinity, 6.1035156e-05, 5.9604645e-08]
        let n = X.count
        let x = try buf(X)
        let h = try b.makeBuffer(count: n, dtype: .float16)
        try b.fill(h, value: .nan, offset: 0, count: n)
        let y = try poisoned(n)
        try b.toHalf(x, h, count: n)
        try b.fromHalf(h, y, count: n)
        let got = try get(y)
        // Bit-exact against Swift's round-to-nearest-even Float16, and within half precision.
        assertExact(got, X.map { Double(Float(Float16($0))) }, "\(label) half round trip")
        for i in 0..<n where abs(X[i]) >= 6.1035156e-05 && abs(X[i]) <= 65504 {
            if abs(Double(got[i]) - Double(X[i])) > abs(Double(X[i])) * 0.00049 {
                XCTFail("\(label) half[\(i)] = \(got[i]) for \(X[i]) (seed \(Shared.seed))"); break
            }
        }
    }

    /// dst (half) += src (float): each element is the fp32 sum rounded to nearest even, within
    /// half an fp16 ulp of the float64 sum, and overflow gives inf.
    mutating func accumulateHalfOp() throws {
        let n = 3001
        var H = floats(n, -300, 300), S = floats(n, -300, 300)
        H[0] = 65000; S[0] = 1000          // overflows to inf
        H[1] = 1; S[1] = -1                // exact zero
        H[2] = 0.5; S[2] = 1e-9            // below half resolution: unchanged
        let h16 = H.map { Float16($0) }
        let h = try b.makeBuffer(count: n, dtype: .float16)
        let hx = try buf(h16.map { Float($0) })
        try b.toHalf(hx, h, count: n)
        try b.accumulateHalf(try buf(S), into: h, count: n)
        let y = try poisoned(n)
        try b.fromHalf(h, y, count: n)
        let got = try get(y)
        assertExact(got, (0..<n).map { Double(Float(Float16(Float(h16[$0]) + S[$0]))) }, "\(label) accumulateHalf")
        XCTAssertEqual(got[0], .infinity, "\(label) accumulateHalf overflow")
        for i in 3..<n {
            let exact = Double(Float(h16[i])) + Double(S[i])
            let ulp = Double(Float16(exact).ulp)
            if abs(Double(got[i]) - exact) > 0.5 * ulp * 1.001 {
                XCTFail("\(label) accumulateHalf[\(i)] = \(got[i]), exact \(exact) (seed \(Shared.seed))"); break
            }
        }
    }

    // MARK: training ops

    mutating func crossEntropyOp() throws {
        let rows = 11, classes = 29, smoothing: Float = 0.1, gradScale: Float = 0.5
        let L = floats(rows * classes, -5, 5)
        var T = (0..<rows).map { _ in Int32(Int.random(in: 0..<classes, using: &rng)) }
        T[4] = -1 // ignored row
        let l = try buf(L), t = try buf(T), losses = try poisoned(rows), d = try poisoned(rows * classes)
        try b.crossEntropy(logits: l, targets: t, losses: losses, dLogits: d, rows: rows, classes: classes,
                           smoothing: smoothing, gradScale: gradScale)
        var wl = [Double](), wd = [Double]()
        for i in 0..<rows {
            if T[i] < 0 { wl.append(0); wd += Array(repeating: 0, count: classes); continue }
            let row = (0..<classes).map { Double(L[i * classes + $0]) }
            let mx = row.max()!
            let lse = mx + log(row.reduce(0) { $0 + exp($1 - mx) })
            var loss = 0.0
            for j in 0..<classes {
                let q = Double(smoothing) / Double(classes) + (j == Int(T[i]) ? 1 - Double(smoothing) : 0)
                loss -= q * (row[j] - lse)
                wd.append(Double(gradScale) * (exp(row[j] - lse) - q))
            }
            wl.append(loss)
        }
        assertClose(try get(losses), wl, atol: 1e-5, rtol: 1e-5, "\(label) crossEntropy losses")
        assertClose(try get(d), wd, atol: 1e-6, rtol: 1e-5, "\(label) crossEntropy dLogits")
    }

    mutating func optimizerOps() throws {
        let n = 1001
        let P = floats(n), G = floats(n), M = floats(n, -0.1, 0.1), V = floats(n, 0, 0.01), E = floats(n)
        let lr: Float = 1e-2, b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8, wd: Float = 0.01, step = 3, gs: Float = 0.5
        let p = try buf(P), g = try buf(G), m = try buf(M), v = try buf(V)
        try b.adamW(param: p, grad: g, m: m, v: v, count: n, lr: lr, beta1: b1, beta2: b2, eps: eps, weightDecay: wd,
                    step: step, gradScale: gs)
        var wp = [Double](), wm = [Double](), wv = [Double]()
        for i in 0..<n {
            let gg = Double(G[i]) * Double(gs)
            let mi = Double(b1) * Double(M[i]) + (1 - Double(b1)) * gg
            let vi = Double(b2) * Double(V[i]) + (1 - Double(b2)) * gg * gg
            var pp = Double(P[i])
            pp -= Double(lr) * Double(wd) * pp
            pp -= Double(lr) * (mi / (1 - pow(Double(b1), Double(step)))) / ((vi / (1 - pow(Double(b2), Double(step)))).squareRoot() + Double(eps))
            wp.append(pp); wm.append(mi); wv.append(vi)
        }
        assertClose(try get(p), wp, atol: 1e-5, rtol: 1e-5, "\(label) adamW param")
        assertClose(try get(m), wm, atol: 1e-6, rtol: 1e-5, "\(label) adamW m")
        assertClose(try get(v), wv, atol: 1e-7, rtol: 1e-5, "\(label) adamW v")
        let e = try buf(E)
        try b.emaUpdate(ema: e, param: p, decay: 0.99, count: n)
        let P1 = try get(p)
        assertClose(try get(e), (0..<n).map { 0.99 * Double(E[$0]) + 0.01 * Double(P1[$0]) }, atol: 1e-6, rtol: 1e-5, "\(label) emaUpdate")
    }

    mutating func vqNearestOp() throws {
        let rows = 33, codes = 70, dim = 12
        var X = floats(rows * dim), C = floats(codes * dim)
        // Row 0 sits exactly on codes 9 and 41 (a tie): the lowest index wins.
        for j in 0..<dim { C[41 * dim + j] = C[9 * dim + j]; X[j] = C[9 * dim + j] }
        let x = try buf(X), c = try buf(C), idx = try poisonedInt(rows), dist = try poisoned(rows)
        try b.vqNearest(x: x, codebook: c, indices: idx, distances: dist, rows: rows, codes: codes, dim: dim)
        let gi = try b.downloadInt32(idx), gd = try get(dist)
        for r in 0..<rows {
            let ds = (0..<codes).map { k in (0..<dim).reduce(0.0) { let t = Double(X[r * dim + $1]) - Double(C[k * dim + $1]); return $0 + t * t } }
            let best = ds.min()!
            let i = Int(gi[r])
            guard i >= 0, i < codes else { XCTFail("\(label) vq index[\(r)] = \(i) (seed \(Shared.seed))"); return }
            // Float rounding may flip a near-tie; the pick must be (near) optimal and its distance right.
            if ds[i] > best + 1e-4 { XCTFail("\(label) vq row \(r) picked \(i) at \(ds[i]), best \(best) (seed \(Shared.seed))") }
            assertClose([gd[r]], [ds[i]], atol: 1e-4, rtol: 1e-5, "\(label) vq distance row \(r)")
        }
        XCTAssertEqual(gi[0], 9, "\(label) vq tie must pick the lowest index (seed \(Shared.seed))")
    }

    /// Two shapes: heads shorter than a vector with keys in one partial block, and heads of whole
    /// 16-float vectors with keys over three blocks (the CPU kernel's two paths). Sequences are
    /// stored back to back with one row between them that no sequence owns: it must stay untouched.
    mutating func attentionOps() throws {
        try attentionOps(T: 9, H: 2, Dh: 5, lens: [9, 4, 0]) // 0 behaves as 1 (the first key stays visible)
        try attentionOps(T: 37, H: 2, Dh: 32, lens: [37, 17, 1])
    }

    mutating func attentionOps(T: Int, H: Int, Dh: Int, lens: [Int32]) throws {
        let B = lens.count
        let used = lens.map { max(1, min(T, Int($0))) }
        let starts = (0..<B).map { b in used[..<b].reduce(0, +) + b }  // a gap row after each sequence
        let rows = used.reduce(0, +) + B
        let Q = floats(rows * 3 * H * Dh), DO = floats(rows * H * Dh)
        func at(_ r: Int, _ w: Int, _ h: Int, _ d: Int) -> Int { ((r * 3 + w) * H + h) * Dh + d }
        let scale = 1 / Double(Dh).squareRoot()
        var P = [Double](repeating: 0, count: B * H * T * T)
        var O = [Double](repeating: .nan, count: rows * H * Dh), dQKV = [Double](repeating: .nan, count: Q.count)
        for bb in 0..<B {
            let len = used[bb], s0 = starts[bb]
            for r in s0..<(s0 + len) {
                for h in 0..<H { for d in 0..<Dh { O[(r * H + h) * Dh + d] = 0; for w in 0..<3 { dQKV[at(r, w, h, d)] = 0 } } }
            }
            for h in 0..<H {
                for i in 0..<len {
                    var s = [Double](repeating: -.infinity, count: T)
                    for j in 0..<len { s[j] = (0..<Dh).reduce(0.0) { $0 + Double(Q[at(s0 + i, 0, h, $1)]) * Double(Q[at(s0 + j, 1, h, $1)]) } * scale }
                    let mx = s.max()!
                    let e = s.map { $0 == -.infinity ? 0 : exp($0 - mx) }
                    let sum = e.reduce(0, +)
                    for j in 0..<T { P[((bb * H + h) * T + i) * T + j] = e[j] / sum }
                    for d in 0..<Dh {
                        O[((s0 + i) * H + h) * Dh + d] = (0..<len).reduce(0.0) { $0 + P[((bb * H + h) * T + i) * T + $1] * Double(Q[at(s0 + $1, 2, h, d)]) }
                    }
                }
                // Backward from the float64 probabilities.
                for i in 0..<len {
                    let p = (0..<len).map { P[((bb * H + h) * T + i) * T + $0] }
                    let dO = (0..<Dh).map { Double(DO[((s0 + i) * H + h) * Dh + $0]) }
                    let dp = (0..<len).map { j in (0..<Dh).reduce(0.0) { $0 + dO[$1] * Double(Q[at(s0 + j, 2, h, $1)]) } }
                    let dot = (0..<len).reduce(0.0) { $0 + p[$1] * dp[$1] }
                    for j in 0..<len {
                        let ds = p[j] * (dp[j] - dot) * scale
                        for d in 0..<Dh {
                            dQKV[at(s0 + i, 0, h, d)] += ds * Double(Q[at(s0 + j, 1, h, d)])
                            dQKV[at(s0 + j, 1, h, d)] += ds * Double(Q[at(s0 + i, 0, h, d)])
                            dQKV[at(s0 + j, 2, h, d)] += p[j] * dO[d]
                        }
                    }
                }
            }
        }
        let q = try buf(Q), l = try buf(lens), st = try buf(starts.map { Int32($0) })
        let probs = try poisoned(P.count), out = try poisoned(O.count)
        try b.attentionForward(qkv: q, lengths: l, starts: st, probs: probs, out: out, rows: rows, batch: B, seq: T,
                               heads: H, headDim: Dh)
        assertClose(try get(probs), P, atol: 1e-6, rtol: 1e-5, "\(label) attentionForward probs T \(T) Dh \(Dh)")
        assertMatches(try get(out), O, "\(label) attentionForward out T \(T) Dh \(Dh)")
        let dO = try buf(DO), dq = try poisoned(Q.count)
        try b.attentionBackward(qkv: q, lengths: l, starts: st, probs: probs, dOut: dO, dQKV: dq, rows: rows, batch: B,
                                seq: T, heads: H, headDim: Dh)
        assertMatches(try get(dq), dQKV, "\(label) attentionBackward dQKV T \(T) Dh \(Dh)")
    }

    /// Close to want where want is a number; still NaN (never written) where want is NaN.
    func assertMatches(_ got: [Float], _ want: [Double], _ what: String) {
        let owned = want.indices.filter { !want[$0].isNaN }
        assertClose(owned.map { got[$0] }, owned.map { want[$0] }, atol: 1e-5, rtol: 1e-4, what)
        let touched = want.indices.filter { want[$0].isNaN && !got[$0].isNaN }
        XCTAssertTrue(touched.isEmpty, "\(what): \(touched.count) elements outside every sequence were written")
    }

    // MARK: memory ops

    mutating func memoryOps() throws {
        let X = floats(100)
        let x = try buf(X), y = try poisoned(100)
        try b.copy(x, srcOffset: 10, to: y, dstOffset: 20, count: 30)
        try b.fill(y, value: 3, offset: 0, count: 20)
        try b.fill(y, value: -1, offset: 50, count: 50)
        let want = (0..<100).map { i -> Double in i < 20 ? 3 : i < 50 ? Double(X[i - 10]) : -1 }
        assertExact(try get(y), want, "\(label) copy/fill")
        assertExact(try b.download(y, offset: 25, count: 5), Array(want[25..<30]), "\(label) download offset")
        let ints = try poisonedInt(10)
        try b.upload([1, 2, 3] as [Int32], to: ints, offset: 4)
        XCTAssertEqual(try b.downloadInt32(ints), [-7777, -7777, -7777, -7777, 1, 2, 3, -7777, -7777, -7777], label)
        XCTAssertThrowsError(try b.upload(X, to: ints, offset: 0), "\(label) float upload into an int32 buffer")
        XCTAssertThrowsError(try b.download(x, offset: 90, count: 20), "\(label) download past the end")
    }
}
