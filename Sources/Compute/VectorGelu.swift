/// GELU on the CPU, eight lanes at a time: gelu(v) = v Φ(v), Φ(v) = (1 + erf(v / √2)) / 2, and
/// its derivative Φ(v) + v φ(v).
///
/// Why not `erff`: a scalar libm call per element made GELU and its backward ~29% of a CPU
/// training step (Docs/PROFILING.md). Here erf is Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7 as a formula, ≤ 6e-7 in float32
/// over the reals) and exp a range-reduced polynomial (relative error ≤ 2e-7), both branch-free
/// on SIMD8<Float>, so the compiler vectorises them. Every element is computed the same way
/// whatever the thread split or the tail, so results stay deterministic.
enum VectorGelu {
    typealias V = SIMD8<Float>

    typealias U = SIMD8<UInt32>

    /// e^x for x in [-87, 88] (clamped outside): x = n ln2 + r, |r| ≤ ln2/2, e^r by its Taylor
    /// polynomial to degree 7, 2^n from the exponent bits. Rounding and the float-to-int step use
    /// the 1.5·2^23 trick (adding it leaves n in the low mantissa bits), because SIMD `rounded`
    /// and integer conversion fall back to a call per lane on baseline x86-64.
    @inline(__always) static func exp(_ x: V) -> V {
        let xc = pointwiseMin(pointwiseMax(x, V(repeating: -87)), V(repeating: 88))
        let magic = V(repeating: 12_582_912)  // 1.5 * 2^23
        let shifted = xc * V(repeating: 1.4426950408889634) + magic
        let n = shifted - magic
        // ln2 split in a high part exact in float and a low correction.
        let r = xc - n * V(repeating: 0.693145751953125) - n * V(repeating: 1.428606765330187e-06)
        var p = V(repeating: 1.0 / 5040) + r * V(repeating: 1.0 / 40320)
        p = V(repeating: 1.0 / 720) + r * p
        p = V(repeating: 1.0 / 120) + r * p
        p = V(repeating: 1.0 / 24) + r * p
        p = V(repeating: 1.0 / 6) + r * p
        p = V(repeating: 0.5) + r * p
        p = V(repeating: 1) + r * p
        p = V(repeating: 1) + r * p
        // n sits in the low bits of `shifted` (offset by 0x4B400000); 2^n = (n + 127) << 23.
        let nBits = unsafeBitCast(shifted, to: U.self) &- U(repeating: 0x4B40_0000)
        let scale = (nBits &+ U(repeating: 127)) &<< U(repeating: 23)
        return p * unsafeBitCast(scale, to: V.self)
    }

    /// erf(x) = sign(x) (1 - (a1 t + ... + a5 t^5) e^{-x^2}), t = 1 / (1 + p |x|).
    @inline(__always) static func erf(_ x: V) -> V {
        let bits = unsafeBitCast(x, to: U.self)
        let sign = bits & U(repeating: 0x8000_0000)
        let a = unsafeBitCast(bits & U(repeating: 0x7FFF_FFFF), to: V.self)
        let one = V(repeating: 1)
        let t = one / (one + V(repeating: 0.3275911) * a)
        var poly = V(repeating: -1.453152027) + t * V(repeating: 1.061405429)
        poly = V(repeating: 1.421413741) + t * poly
        poly = V(repeating: -0.284496736) + t * poly
        poly = V(repeating: 0.254829592) + t * poly
        let y = one - t * poly * exp(-(a * a))
        return unsafeBitCast(unsafeBitCast(y, to: U.self) | sign, to: V.self)
    }

    /// Φ(v): the standard normal CDF.
    @inline(__always) static func cdf(_ v: V) -> V { 0.5 * (1 + erf(v * 0.70710678118654752)) }

    @inline(__always) static func load(_ p: UnsafePointer<Float>, _ i: Int, _ n: Int) -> V {
        if n >= 8 { return UnsafeRawPointer(p + i).loadUnaligned(as: V.self) }
        var v = V(repeating: 0)
        for k in 0..<n { v[k] = p[i + k] }
        return v
    }

    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int, _ n: Int) {
        if n >= 8 { UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: V.self); return }
        for k in 0..<n { p[i + k] = v[k] }
    }

    /// y[i] = gelu(x[i]) for i in range.
    static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ range: Range<Int>) {
        var i = range.lowerBound
        while i < range.upperBound {
            let n = min(8, range.upperBound - i)
            let v = load(x, i, n)
            store(v * cdf(v), y, i, n)
            i += 8
        }
    }

    /// dx[i] = dy[i] (Φ(x) + x φ(x)) for i in range (dx may alias dy).
    static func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ range: Range<Int>) {
        var i = range.lowerBound
        while i < range.upperBound {
            let n = min(8, range.upperBound - i)
            let v = load(x, i, n), d = load(dy, i, n)
            let pdf = exp(-0.5 * v * v) * 0.39894228040143268
            store(d * (cdf(v) + v * pdf), dx, i, n)
            i += 8
        }
    }

    /// x[r, :] += bias in place and y[r, :] = gelu(x[r, :]) for the rows in range; x, y: [rows, cols].
    static func addBias(_ x: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                        cols: Int, rows range: Range<Int>) {
        for r in range {
            let row = x + r * cols, out = y + r * cols
            var j = 0
            while j < cols {
                let n = min(8, cols - j)
                let v = load(row, j, n) + load(bias, j, n)
                store(v, row, j, n)
                store(v * cdf(v), out, j, n)
                j += 8
            }
        }
    }
}
