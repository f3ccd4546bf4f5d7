import Foundation

// The layout op and the typed reasoner on the CPU. The reasoner is a port of the host
// `Reasoner.run` (Model) onto the op's buffers; `Kernels/reasoner.cl` is the same code line for
// line, so the two backends agree to rounding.

/// Limits of `Backend.reasoner` shared by both backends (the OpenCL kernel sizes its private
/// arrays from them).
enum ReasonerLimits {
    static let maxSlots = 12
    static let maxPlaces = 8
    /// The step of the first five ops, in `ReasonerSpec` order: identity, +1, -1, +2, -2 (the
    /// sixth, between, is computed from the other numbers; then the three digit ops; the last
    /// four read pointer C).
    static let unaryDelta: [Int] = [0, 1, -1, 2, -2]
    /// Index of the order-free `between` op.
    static let betweenOp = 5
    /// Index of the ones-digit op; the tens and hundreds digits follow it.
    static let firstDigitOp = 6
    /// Index of the first binary op (add A + C, subtract A - C, next_term 2A - C, place_value,
    /// total).
    static let firstBinaryOp = 9
    /// Index of `total`: the sum of the numbers from slot A through slot C.
    static let totalOp = 13
    /// Index of the first relation that reads no B (even; odd follows it).
    static let firstUnaryRelation = 7
    /// The decoder's probability floor (`Reasoner.floor`).
    static let floor: Float = 1e-4
}

extension ReasonerSpec {
    /// Throws unless the sizes fit both backends.
    func validate() throws {
        guard (1...ReasonerLimits.maxSlots).contains(slots) else {
            throw ComputeError.invalidArgument("reasoner slots \(slots) is outside 1...\(ReasonerLimits.maxSlots)")
        }
        guard (1...ReasonerLimits.maxPlaces).contains(places) else {
            throw ComputeError.invalidArgument("reasoner places \(places) is outside 1...\(ReasonerLimits.maxPlaces)")
        }
    }
}

/// Checks a `copy2D` call against the two buffers' sizes; false when there is nothing to copy.
func checkCopy2D(srcCount: Int, srcOffset: Int, srcStride: Int, dstCount: Int, dstOffset: Int, dstStride: Int,
                 rows: Int, cols: Int) throws -> Bool {
    guard rows >= 0, cols >= 0, srcOffset >= 0, dstOffset >= 0, srcStride >= 0, dstStride >= 0 else {
        throw ComputeError.invalidArgument(
            "copy2D rows=\(rows) cols=\(cols) offsets \(srcOffset), \(dstOffset) strides \(srcStride), \(dstStride) must be >= 0")
    }
    if rows == 0 || cols == 0 { return false }
    guard rows == 1 || dstStride >= cols else {
        throw ComputeError.invalidArgument("copy2D dstStride \(dstStride) < cols \(cols): destination rows would overlap")
    }
    let srcEnd = srcOffset + (rows - 1) * srcStride + cols, dstEnd = dstOffset + (rows - 1) * dstStride + cols
    guard srcEnd <= srcCount else {
        throw ComputeError.invalidArgument("copy2D source has \(srcCount) elements, op needs \(srcEnd)")
    }
    guard dstEnd <= dstCount else {
        throw ComputeError.invalidArgument("copy2D target has \(dstCount) elements, op needs \(dstEnd)")
    }
    return true
}

extension CPUBackend {
    // MARK: layout

    public func copy2D(_ src: any DeviceBuffer, srcOffset: Int, srcStride: Int,
                       to dst: any DeviceBuffer, dstOffset: Int, dstStride: Int, rows: Int, cols: Int) throws {
        let S = try cpu(src, .float32, "src"), D = try cpu(dst, .float32, "dst")
        guard try checkCopy2D(srcCount: S.count, srcOffset: srcOffset, srcStride: srcStride, dstCount: D.count,
                              dstOffset: dstOffset, dstStride: dstStride, rows: rows, cols: cols) else { return }
        let sp = S.floats + srcOffset, dp = D.floats + dstOffset
        parallelFor(rows, grain: max(1, 32768 / cols)) { rr in
            for r in rr { (dp + r * dstStride).update(from: sp + r * srcStride, count: cols) }
        }
    }

    // MARK: typed reasoner

    public func reasoner(logits: any DeviceBuffer, numbers: any DeviceBuffer, targets: any DeviceBuffer,
                         gain: any DeviceBuffer, dLogits: any DeviceBuffer, rowStats: any DeviceBuffer,
                         trace: any DeviceBuffer, rows: Int, spec: ReasonerSpec) throws {
        try spec.validate()
        guard rows >= 0 else { throw ComputeError.invalidArgument("reasoner rows \(rows) is negative") }
        let L = try cpu(logits, .float32, "logits"), N = try cpu(numbers, .int32, "numbers")
        let T = try cpu(targets, .int32, "targets"), G = try cpu(gain, .float32, "gain")
        let D = try cpu(dLogits, .float32, "dLogits"), St = try cpu(rowStats, .float32, "rowStats")
        let Tr = try cpu(trace, .int32, "trace")
        let W = spec.width
        try need(L, rows * W, "logits"); try need(N, rows * spec.slots * spec.places, "numbers")
        try need(T, rows * 2, "targets"); try need(G, 1, "gain"); try need(D, rows * W, "dLogits")
        try need(St, rows * ReasonerSpec.statsWidth, "rowStats"); try need(Tr, rows * ReasonerSpec.traceWidth, "trace")
        if rows == 0 { return }
        let g = G.floats[0]
        let lp = L.floats, np = N.ints, tp = T.ints, dp = D.floats, sp = St.floats, trp = Tr.ints
        // Each row is independent and computed in a fixed order: deterministic for any split.
        parallelFor(rows, grain: 8) { rr in
            let scratch = ReasonerScratch()
            defer { scratch.release() }
            for row in rr {
                Self.reasonerRow(spec: spec, gain: g, x: lp + row * W, nums: np + row * spec.slots * spec.places,
                                 target: tp + row * 2, d: dp + row * W, stats: sp + row * ReasonerSpec.statsWidth,
                                 trace: trp + row * ReasonerSpec.traceWidth, s: scratch)
            }
        }
    }
}

/// Per-thread work arrays of one reasoner row, sized for the limits.
struct ReasonerScratch {
    static let MS = ReasonerLimits.maxSlots, MP = ReasonerLimits.maxPlaces
    static let U = ReasonerSpec.opCount, R = ReasonerSpec.relationCount
    let f: UnsafeMutablePointer<Float>
    let n: UnsafeMutablePointer<Int32>
    static let floatCount = 9 * MS + 3 * U + 3 * R + 3 * 10 * MP
    static let intCount = MS + U * (MP + 1) + 3 * MP + U + R

    init() {
        f = .allocate(capacity: Self.floatCount)
        n = .allocate(capacity: Self.intCount)
        f.initialize(repeating: 0, count: Self.floatCount)
        n.initialize(repeating: 0, count: Self.intCount)
    }

    func release() { f.deallocate(); n.deallocate() }

    // Float arrays: pointers A, B, C, their partials g* and gradients d*.
    var piA: UnsafeMutablePointer<Float> { f }
    var piB: UnsafeMutablePointer<Float> { f + Self.MS }
    var piC: UnsafeMutablePointer<Float> { f + 2 * Self.MS }
    var gA: UnsafeMutablePointer<Float> { f + 3 * Self.MS }
    var gB: UnsafeMutablePointer<Float> { f + 4 * Self.MS }
    var gC: UnsafeMutablePointer<Float> { f + 5 * Self.MS }
    var dpiA: UnsafeMutablePointer<Float> { f + 6 * Self.MS }
    var dpiB: UnsafeMutablePointer<Float> { f + 7 * Self.MS }
    var dpiC: UnsafeMutablePointer<Float> { f + 8 * Self.MS }
    private var u0: UnsafeMutablePointer<Float> { f + 9 * Self.MS }
    var wU: UnsafeMutablePointer<Float> { u0 }
    var gU: UnsafeMutablePointer<Float> { u0 + Self.U }
    var dwU: UnsafeMutablePointer<Float> { u0 + 2 * Self.U }
    private var r0: UnsafeMutablePointer<Float> { u0 + 3 * Self.U }
    var wR: UnsafeMutablePointer<Float> { r0 }
    var gR: UnsafeMutablePointer<Float> { r0 + Self.R }
    var dwR: UnsafeMutablePointer<Float> { r0 + 2 * Self.R }
    private var p0: UnsafeMutablePointer<Float> { r0 + 3 * Self.R }
    var dist: UnsafeMutablePointer<Float> { p0 }
    var probs: UnsafeMutablePointer<Float> { p0 + 10 * Self.MP }
    var dDist: UnsafeMutablePointer<Float> { p0 + 20 * Self.MP }
    // Int arrays.
    var present: UnsafeMutablePointer<Int32> { n }
    /// u[k * maxPlaces + place]: one-number op k < 9 applied to the current slot; uValid[k] says it exists.
    var u: UnsafeMutablePointer<Int32> { n + Self.MS }
    var uValid: UnsafeMutablePointer<Int32> { n + Self.MS + Self.U * Self.MP }
    var targetDigits: UnsafeMutablePointer<Int32> { n + Self.MS + Self.U * (Self.MP + 1) }
    /// The result of a binary op on the current (A, C) pair.
    var pair: UnsafeMutablePointer<Int32> { targetDigits + Self.MP }
    /// Work digits of a two-step binary op (next_term's 2A).
    var work: UnsafeMutablePointer<Int32> { pair + Self.MP }
    /// Which ops this question offers (between only when two of its numbers are two apart).
    var opMask: UnsafeMutablePointer<Int32> { work + Self.MP }
    /// Which relations are offered (`ReasonerSpec.relationMask`).
    var relationMask: UnsafeMutablePointer<Int32> { opMask + Self.U }
}

extension CPUBackend {
    // MARK: reasoner helpers (digits are ones first)

    /// Softmax of x[0..<n] over the entries where mask is non-zero (all when nil); zeros when
    /// none is left.
    @inline(__always)
    static func reasonerSoftmax(_ x: UnsafePointer<Float>, _ n: Int, _ mask: UnsafePointer<Int32>?,
                                _ out: UnsafeMutablePointer<Float>) {
        var mx = -Float.infinity
        for i in 0..<n where mask.map({ $0[i] != 0 }) ?? true { mx = max(mx, x[i]) }
        if mx == -Float.infinity { for i in 0..<n { out[i] = 0 }; return }
        var s: Float = 0
        for i in 0..<n {
            if mask.map({ $0[i] != 0 }) ?? true { out[i] = expf(x[i] - mx); s += out[i] } else { out[i] = 0 }
        }
        for i in 0..<n { out[i] = out[i] / s }
    }

    /// Index of the first largest entry.
    @inline(__always)
    static func reasonerArgmax(_ p: UnsafePointer<Float>, _ n: Int) -> Int {
        var best = 0
        for i in 1..<max(1, n) where p[i] > p[best] { best = i }
        return best
    }

    /// One-hot at the argmax, unless the largest entry is not positive (then unchanged).
    @inline(__always)
    static func reasonerOneHot(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        let best = reasonerArgmax(p, n)
        guard p[best] > 0 else { return }
        for i in 0..<n { p[i] = i == best ? 1 : 0 }
    }

    /// out = d + k with carry/borrow; false when the result leaves [0, 10^places).
    @inline(__always)
    static func digitsAdd(_ d: UnsafePointer<Int32>, _ places: Int, _ k: Int, _ out: UnsafeMutablePointer<Int32>) -> Bool {
        var carry = k
        for p in 0..<places {
            if carry == 0 { out[p] = d[p]; continue }
            let s = Int(d[p]) + carry
            out[p] = Int32(((s % 10) + 10) % 10)
            carry = s >= 0 ? s / 10 : (s - 9) / 10
        }
        return carry == 0
    }

    /// out = a + sign * c place by place, carrying (sign 1) or borrowing (sign -1) into the next
    /// place; false when the result leaves [0, 10^places) (a carry out of the top place, or a
    /// subtraction of a larger number).
    @inline(__always)
    static func digitsCombine(_ a: UnsafePointer<Int32>, _ c: UnsafePointer<Int32>, _ sign: Int32, _ places: Int,
                              _ out: UnsafeMutablePointer<Int32>) -> Bool {
        var carry: Int32 = 0
        for p in 0..<places {
            let s = a[p] + sign * c[p] + carry
            if s >= 10 { out[p] = s - 10; carry = 1 } else if s < 0 { out[p] = s + 10; carry = -1 } else { out[p] = s; carry = 0 }
        }
        return carry == 0
    }

    /// Binary op k (>= firstBinaryOp) on digit arrays a and c into out; false when it gives no
    /// value. add: a + c; subtract: a - c; next_term: a + (a - c), the term after c, a of a
    /// sequence with a constant step (2a - c); place_value: the value of digit c (1-9) in a,
    /// at the highest place holding it (the 4 in 347 is 40).
    @inline(__always)
    static func binaryOp(_ k: Int, _ a: UnsafePointer<Int32>, _ c: UnsafePointer<Int32>, _ places: Int,
                         _ out: UnsafeMutablePointer<Int32>, _ work: UnsafeMutablePointer<Int32>) -> Bool {
        switch k - ReasonerLimits.firstBinaryOp {
        case 0: return digitsCombine(a, c, 1, places, out)
        case 1: return digitsCombine(a, c, -1, places, out)
        case 2: return digitsCombine(a, a, 1, places, work) && digitsCombine(UnsafePointer(work), c, -1, places, out)
        default:
            let d = c[0]
            guard d >= 1 else { return false }
            for p in 1..<max(1, places) where c[p] != 0 { return false }
            var p = places - 1
            while p >= 0 && a[p] != d { p -= 1 }
            guard p >= 0 else { return false }
            for q in 0..<places { out[q] = q == p ? d : 0 }
            return true
        }
    }

    /// Whether relation r reads its second number (even and odd do not).
    @inline(__always)
    static func relationReadsB(_ r: Int) -> Bool { r < ReasonerLimits.firstUnaryRelation }

    /// Whether step 1 (op k on slot i, and slot c for a binary op) reads slot j: then j cannot
    /// also be operand B, as no number plays two roles. total reads every slot from i to c.
    @inline(__always)
    static func readsSlot(_ k: Int, _ i: Int, _ c: Int, _ j: Int) -> Bool {
        if j == i { return true }
        if k == ReasonerLimits.totalOp { return j > i && j <= c }
        return k >= ReasonerLimits.firstBinaryOp && j == c
    }

    /// -1, 0, 1 comparing from the highest place down.
    @inline(__always)
    static func digitsCompare(_ a: UnsafePointer<Int32>, _ b: UnsafePointer<Int32>, _ places: Int) -> Int {
        var p = places - 1
        while p >= 0 {
            if a[p] != b[p] { return a[p] < b[p] ? -1 : 1 }
            p -= 1
        }
        return 0
    }

    /// Relation r (ReasonerSpec order) between a and b.
    @inline(__always)
    static func relationHolds(_ r: Int, _ a: UnsafePointer<Int32>, _ b: UnsafePointer<Int32>, _ places: Int) -> Bool {
        switch r {
        case 0: return digitsCompare(a, b, places) == 0
        case 1: return digitsCompare(a, b, places) > 0
        case 2: return digitsCompare(a, b, places) < 0
        case 3: return a[0] % 2 == b[0] % 2
        case 4: return places > 1 && a[1] == b[1]
        case 5: return a[0] == b[0]
        case 6: return a[0] + b[0] == 10
        // even and odd read a alone: their weight spreads over pointer B with no gradient to it.
        case 7: return a[0] % 2 == 0
        default: return a[0] % 2 == 1
        }
    }

    /// Fills s.u / s.uValid with the one-number ops (0-8) applied to slot `slot` of `nums`
    /// ([slots, places]). `between` (op 5) reads the other present slots: slot + 1 when one of
    /// them holds slot + 2, else slot - 1 when one holds slot - 2, else no value; so it does not
    /// matter which of the two outer numbers pointer A picks. The digit ops (6-8) give the
    /// digit of the ones, tens or hundreds place as a number (0 past the top place).
    @inline(__always)
    static func applyUnaryOps(_ nums: UnsafePointer<Int32>, _ slots: Int, _ slot: Int, _ places: Int,
                              _ present: UnsafePointer<Int32>, _ s: ReasonerScratch) {
        let MP = ReasonerLimits.maxPlaces, digits = nums + slot * places
        for k in 0..<ReasonerLimits.unaryDelta.count {
            s.uValid[k] = digitsAdd(digits, places, ReasonerLimits.unaryDelta[k], s.u + k * MP) ? 1 : 0
        }
        // Ops 3 (+2) and 4 (-2) hold the candidates' outer neighbours.
        let bt = ReasonerLimits.betweenOp
        s.uValid[bt] = 0
        for (outer, inner) in [(3, 1), (4, 2)] where s.uValid[outer] != 0 {
            var found = false
            for j in 0..<slots where j != slot && present[j] != 0 {
                if digitsCompare(UnsafePointer(s.u + outer * MP), nums + j * places, places) == 0 { found = true; break }
            }
            if found {
                for q in 0..<places { s.u[bt * MP + q] = s.u[inner * MP + q] }
                s.uValid[bt] = 1
                break
            }
        }
        for k in ReasonerLimits.firstDigitOp..<ReasonerLimits.firstBinaryOp {
            let place = k - ReasonerLimits.firstDigitOp
            for q in 0..<places { s.u[k * MP + q] = 0 }
            s.u[k * MP] = place < places ? digits[place] : 0
            s.uValid[k] = 1
        }
    }

    /// The result of step-1 op k on slot i (and slot c for a binary op), in s.u (filled by
    /// `applyUnaryOps` for slot i) or s.pair; nil where it has no value.
    @inline(__always)
    static func stepResult(_ k: Int, _ i: Int, _ c: Int, _ nums: UnsafePointer<Int32>, _ PL: Int,
                           _ s: ReasonerScratch) -> UnsafePointer<Int32>? {
        if k == ReasonerLimits.totalOp {
            guard i < c else { return nil }
            for j in i...c where s.present[j] == 0 { return nil }
            for q in 0..<PL { s.pair[q] = nums[i * PL + q] }
            for j in (i + 1)...c {
                guard digitsCombine(UnsafePointer(s.pair), nums + j * PL, 1, PL, s.work) else { return nil }
                for q in 0..<PL { s.pair[q] = s.work[q] }
            }
            return UnsafePointer(s.pair)
        }
        if k >= ReasonerLimits.firstBinaryOp {
            guard s.present[c] != 0, binaryOp(k, nums + i * PL, nums + c * PL, PL, s.pair, s.work) else { return nil }
            return UnsafePointer(s.pair)
        }
        guard s.uValid[k] != 0 else { return nil }
        return UnsafePointer(s.u + k * ReasonerLimits.maxPlaces)
    }

    /// One question: the port of the reference in the tests (see `ReasonerSpec`).
    static func reasonerRow(spec: ReasonerSpec, gain g: Float, x: UnsafePointer<Float>, nums: UnsafePointer<Int32>,
                            target: UnsafePointer<Int32>, d: UnsafeMutablePointer<Float>,
                            stats: UnsafeMutablePointer<Float>, trace: UnsafeMutablePointer<Int32>, s: ReasonerScratch) {
        let NS = spec.slots, PL = spec.places, U = ReasonerSpec.opCount, R = ReasonerSpec.relationCount
        let floor = ReasonerLimits.floor, firstBinary = ReasonerLimits.firstBinaryOp
        let oA = 0, oB = NS, oC = 2 * NS, oU = 3 * NS, oR = oU + U, oStop = oR + R, oYN = oStop + 1, oDig = oYN + 2
        let W = spec.width, hard = spec.hard, enabled = spec.enabled

        // A slot holds a number when every place is a digit (absent slots are -1).
        for i in 0..<NS {
            var ok: Int32 = 1
            for q in 0..<PL where nums[i * PL + q] < 0 || nums[i * PL + q] > 9 { ok = 0 }
            s.present[i] = ok
        }
        let piA = s.piA, piB = s.piB, piC = s.piC, wU = s.wU, wR = s.wR
        reasonerSoftmax(x + oA, NS, s.present, piA)
        reasonerSoftmax(x + oB, NS, s.present, piB)
        reasonerSoftmax(x + oC, NS, s.present, piC)
        // An op is offered only where it can give a value: between needs two numbers two apart
        // (without the mask a NUM answer would pay nothing in soft mode for weight on an op with
        // no value, and the argmax could pick it).
        for k in 0..<U { s.opMask[k] = (spec.offeredOps >> k) & 1 }
        s.opMask[ReasonerLimits.betweenOp] = 0
        for i in 0..<NS where s.present[i] != 0 && (spec.offeredOps >> ReasonerLimits.betweenOp) & 1 != 0 {
            applyUnaryOps(nums, NS, i, PL, s.present, s)
            if s.uValid[ReasonerLimits.betweenOp] != 0 { s.opMask[ReasonerLimits.betweenOp] = 1; break }
        }
        reasonerSoftmax(x + oU, U, s.opMask, wU)
        for r in 0..<R { s.relationMask[r] = (spec.relationMask >> r) & 1 }
        reasonerSoftmax(x + oR, R, s.relationMask, wR)
        var pStop = 1 / (1 + expf(-x[oStop]))
        if hard {
            // One role per number: the argmax program uses a different number for A, C and B,
            // and an op the question has enough numbers for.
            pStop = pStop > 0.5 ? 1 : 0
            reasonerOneHot(wR, R)
            let tR = reasonerArgmax(wR, R), needsB = pStop < 0.5 && relationReadsB(tR)
            var count = 0
            for i in 0..<NS where s.present[i] != 0 { count += 1 }
            for k in 0..<U where count < (k >= firstBinary ? 2 : 1) + (needsB ? 1 : 0) { wU[k] = 0 }
            reasonerOneHot(wU, U)
            let tU = reasonerArgmax(wU, U)
            reasonerOneHot(piA, NS)
            let tA = reasonerArgmax(piA, NS)
            if tU >= firstBinary { piC[tA] = 0 }
            reasonerOneHot(piC, NS)
            let tC = reasonerArgmax(piC, NS)
            if needsB { for j in 0..<NS where readsSlot(tU, tA, tC, j) { piB[j] = 0 } }
            reasonerOneHot(piB, NS)
        }

        // Each step-1 result v = op_k(n_i) (k < 9) or op_k(n_i, n_c) (k >= 9) has weight
        // piA_i wU_k (times piC_c for a binary op). BOOL p = sum over results and (j, r) of
        // weight piB_j wR_r [rel_r(v, n_j)], with its partials; the NUM's per-place digit mixture
        // is the weighted sum of the results' one-hot digits.
        var p: Float = 0
        let gA = s.gA, gB = s.gB, gC = s.gC, gU = s.gU, gR = s.gR, dist = s.dist
        for i in 0..<NS { gA[i] = 0; gB[i] = 0; gC[i] = 0 }
        for k in 0..<U { gU[k] = 0 }
        for r in 0..<R { gR[r] = 0 }
        for i in 0..<(PL * 10) { dist[i] = 0 }
        if enabled {
            for i in 0..<NS where (piA[i] > 0 || !hard) && s.present[i] != 0 {
                applyUnaryOps(nums, NS, i, PL, s.present, s)
                for k in 0..<U {
                    let binary = k >= firstBinary
                    for c in 0..<(binary ? NS : 1) where !(binary && c == i) {
                        if binary && hard && !(piC[c] > 0) { continue }
                        guard let v = stepResult(k, i, c, nums, PL, s) else { continue }
                        let wc: Float = binary ? piC[c] : 1
                        let w = piA[i] * wU[k] * wc
                        for pl in 0..<PL { dist[pl * 10 + Int(v[pl])] += w }
                        guard (spec.boolOpMask >> k) & 1 != 0 else { continue }
                        for j in 0..<NS where s.present[j] != 0 {
                            let nj = nums + j * PL, stepReadsJ = readsSlot(k, i, c, j)
                            for r in 0..<R where !(stepReadsJ && relationReadsB(r)) && relationHolds(r, v, nj, PL) {
                                let t = piB[j] * wR[r]
                                p += w * t
                                gA[i] += wU[k] * wc * t
                                gU[k] += piA[i] * wc * t
                                if binary { gC[c] += piA[i] * wU[k] * t }
                                gB[j] += w * wR[r]
                                gR[r] += w * piB[j]
                            }
                        }
                    }
                }
            }
        } else {
            p = 0.5
        }

        // Decoder.
        let pc = min(max(p, floor), 1 - floor)
        let typedYes: Float = enabled ? logf(pc) - logf(1 - pc) : 0
        let yn0 = x[oYN], yn1 = x[oYN + 1] + g * typedYes
        let ymx = max(yn0, yn1)
        let e0 = expf(yn0 - ymx), e1 = expf(yn1 - ymx), es = e0 + e1
        let py0 = e0 / es, py1 = e1 / es
        let probs = s.probs
        var number = 0
        var pl = PL - 1
        while pl >= 0 {
            let base = pl * 10
            var mx = -Float.infinity
            for c in 0..<10 { probs[base + c] = x[oDig + base + c] + g * logf(dist[base + c] + floor); mx = max(mx, probs[base + c]) }
            var sum: Float = 0
            for c in 0..<10 { probs[base + c] = expf(probs[base + c] - mx); sum += probs[base + c] }
            for c in 0..<10 { probs[base + c] = probs[base + c] / sum }
            number = number * 10 + reasonerArgmax(probs + base, 10)
            pl -= 1
        }
        trace[0] = Int32(reasonerArgmax(piA, NS)); trace[1] = Int32(reasonerArgmax(piB, NS))
        trace[2] = Int32(reasonerArgmax(wU, U)); trace[3] = Int32(reasonerArgmax(wR, R))
        trace[4] = Int32(reasonerArgmax(piC, NS))
        let isNumber = pStop > 0.5
        for i in 0..<W { d[i] = 0 }
        for c in 0..<ReasonerSpec.statsWidth { stats[c] = 0 }
        stats[4] = isNumber ? 1 : 0
        stats[5] = py1
        stats[6] = Float(number)
        stats[8] = pStop
        let kind = target[0], value = Int(target[1])
        guard kind == 1 || kind == 2 else { return }

        // Losses and gradients (soft mode only is trained; hard mode still reports the loss).
        let eps = spec.labelSmoothing
        var isNum: Float = 0, dP: Float = 0, dGain: Float = 0, answerLoss: Float = 0
        var correct = false
        let dDist = s.dDist
        for i in 0..<(PL * 10) { dDist[i] = 0 }
        if kind == 1 {
            let y = value != 0
            let off = eps / 2, on = 1 - eps + off
            let q0 = y ? off : on, q1 = y ? on : off
            answerLoss = -(q0 * logf(max(py0, 1e-30)) + q1 * logf(max(py1, 1e-30)))
            let d0 = py0 - q0, d1 = py1 - q1
            d[oYN] = d0
            d[oYN + 1] = d1
            dGain += d1 * typedYes
            if enabled && p > floor && p < 1 - floor { dP = d1 * g / (p * (1 - p)) }
            correct = !isNumber && (py1 > 0.5) == y
        } else {
            isNum = 1
            // A number too wide for `places` (or negative) has no right digits: every class is wrong.
            var v = value
            for q in 0..<PL { s.targetDigits[q] = Int32(v % 10); v /= 10 }
            let fits = value >= 0 && v == 0
            let off = eps / 10, on = 1 - eps + off
            for q in 0..<PL {
                for c in 0..<10 {
                    let t: Float = fits ? (Int(s.targetDigits[q]) == c ? on : off) : 0.1
                    let at = q * 10 + c
                    answerLoss -= t * logf(max(probs[at], 1e-30)) / Float(PL)
                    let dl = (probs[at] - t) / Float(PL)
                    d[oDig + at] = dl
                    dGain += dl * logf(dist[at] + floor)
                    dDist[at] = dl * g / (dist[at] + floor)
                }
            }
            correct = isNumber && fits && number == value
        }
        let stopLoss = -(isNum * logf(max(pStop, 1e-30)) + (1 - isNum) * logf(max(1 - pStop, 1e-30)))
        d[oStop] = spec.lambdaStop * (pStop - isNum)

        var entropy: Float = 0, pointerEntropy: Float = 0
        if enabled && !hard {
            let dpiA = s.dpiA, dpiB = s.dpiB, dpiC = s.dpiC, dwU = s.dwU, dwR = s.dwR
            for i in 0..<NS { dpiA[i] = gA[i] * dP; dpiB[i] = gB[i] * dP; dpiC[i] = gC[i] * dP }
            for k in 0..<U { dwU[k] = gU[k] * dP }
            for r in 0..<R { dwR[r] = gR[r] * dP }
            for i in 0..<NS where s.present[i] != 0 {
                applyUnaryOps(nums, NS, i, PL, s.present, s)
                for k in 0..<U {
                    let binary = k >= firstBinary
                    for c in 0..<(binary ? NS : 1) where !(binary && c == i) {
                        guard let v = stepResult(k, i, c, nums, PL, s) else { continue }
                        let wc: Float = binary ? piC[c] : 1
                        var sum: Float = 0
                        for q in 0..<PL { sum += dDist[q * 10 + Int(v[q])] }
                        dpiA[i] += wU[k] * wc * sum
                        dwU[k] += piA[i] * wc * sum
                        if binary { dpiC[c] += piA[i] * wU[k] * sum }
                    }
                }
            }
            // Entropy bonus -lambda * H(w): dH/dw_k = -(log w_k + 1).
            if spec.lambdaEntropy > 0 {
                for k in 0..<U where wU[k] > 0 { dwU[k] += spec.lambdaEntropy * (logf(wU[k]) + 1) }
                for r in 0..<R where wR[r] > 0 { dwR[r] += spec.lambdaEntropy * (logf(wR[r]) + 1) }
            }
            for k in 0..<U where wU[k] > 0 { entropy -= wU[k] * logf(wU[k]) }
            for r in 0..<R where wR[r] > 0 { entropy -= wR[r] * logf(wR[r]) }
            for i in 0..<NS where piA[i] > 0 { pointerEntropy -= piA[i] * logf(piA[i]) }
            for i in 0..<NS where piB[i] > 0 { pointerEntropy -= piB[i] * logf(piB[i]) }
            softmaxBackward(piA, dpiA, NS, d + oA)
            softmaxBackward(piB, dpiB, NS, d + oB)
            softmaxBackward(piC, dpiC, NS, d + oC)
            softmaxBackward(wU, dwU, U, d + oU)
            softmaxBackward(wR, dwR, R, d + oR)
        }
        let scale = spec.lossScale
        for i in 0..<W { d[i] *= scale }
        stats[0] = answerLoss
        stats[9] = pointerEntropy
        stats[1] = stopLoss
        stats[2] = entropy
        stats[3] = correct ? 1 : 0
        stats[7] = dGain * scale
    }

    /// out = p * (dp - sum(p * dp)): the logits' gradient of a softmax group.
    @inline(__always)
    static func softmaxBackward(_ p: UnsafePointer<Float>, _ dp: UnsafePointer<Float>, _ n: Int,
                                _ out: UnsafeMutablePointer<Float>) {
        var dot: Float = 0
        for i in 0..<n { dot += p[i] * dp[i] }
        for i in 0..<n { out[i] = p[i] * (dp[i] - dot) }
    }
}
