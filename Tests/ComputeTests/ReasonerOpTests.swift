import Foundation
import XCTest
@testable import Compute

/// Float64 reference of `Backend.reasoner`, written from `ReasonerSpec` apart from the backends:
/// numbers are plain integers here (the backends work on digit arrays), the yes/no softmax is a
/// sigmoid and the gradients are summed in another order.
struct ReasonerReference {
    let spec: ReasonerSpec
    /// The spec's float constants 1e-4 and 1 - 1e-4 (the clamp of p is taken at these values).
    static let lo = Double(Float(1e-4)), hi = Double(1 - Float(1e-4))
    static let deltas = [0, 1, -1, 2, -2]

    struct Row {
        var dLogits: [Double]
        var stats: [Double]
        var trace: [Int32]
        /// The BOOL before the clamp (for choosing where finite differences are valid).
        var p: Double
    }

    var limit: Int { (0..<spec.places).reduce(1) { r, _ in r * 10 } }

    func digit(_ v: Int, _ place: Int) -> Int { (0..<place).reduce(v) { r, _ in r / 10 } % 10 }

    func holds(_ r: Int, _ a: Int, _ b: Int) -> Bool {
        switch r {
        case 0: return a == b
        case 1: return a > b
        case 2: return a < b
        case 3: return a % 2 == b % 2
        case 4: return spec.places > 1 && (a / 10) % 10 == (b / 10) % 10
        case 5: return a % 10 == b % 10
        case 6: return a % 10 + b % 10 == 10
        case 7: return a % 2 == 0
        default: return a % 2 == 1
        }
    }

    /// Softmax over the masked-in entries (zeros when none).
    static func softmax(_ v: [Double], _ mask: [Bool]) -> [Double] {
        guard let mx = v.indices.filter({ mask[$0] }).map({ v[$0] }).max() else { return v.map { _ in 0 } }
        let e = v.indices.map { mask[$0] ? exp(v[$0] - mx) : 0 }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Whether step 1 (op k on slot i, and slot c for ops 9-13) reads slot j; total (13) reads
    /// every slot from i through c. Such a slot is never also operand B.
    static func reads(_ k: Int, _ i: Int, _ c: Int, _ j: Int) -> Bool {
        j == i || (k == 13 ? j > i && j <= c : k >= 9 && j == c)
    }

    /// First largest masked-in entry; 0 when none.
    static func argmax(_ v: [Double], _ mask: [Bool]) -> Int {
        var best: Int? = nil
        for i in v.indices where mask[i] { if best == nil || v[i] > v[best!] { best = i } }
        return best ?? 0
    }

    func row(logits xf: [Float], numbers: [Int?], kind: Int32, value: Int32, gain: Float) -> Row {
        let S = spec.slots, P = spec.places, U = ReasonerSpec.opCount, R = ReasonerSpec.relationCount
        let oA = 0, oB = S, oC = 2 * S, oU = 3 * S, oR = oU + U, oStop = oR + R, oYN = oStop + 1, oDig = oYN + 2
        let x = xf.map(Double.init), g = Double(gain), lo = Self.lo, hi = Self.hi
        let present = numbers.map { $0 != nil }
        let relOffered = (0..<R).map { (spec.relationMask >> $0) & 1 != 0 }
        let feedsRelation = (0..<U).map { (spec.boolOpMask >> $0) & 1 != 0 }
        // between (op 5) is offered only when two numbers of the question are two apart.
        let present2 = numbers.compactMap { $0 }
        let offersBetween = present2.contains { a in present2.contains { $0 == a + 2 } }
        let opOffered = (0..<U).map { (spec.offeredOps >> $0) & 1 != 0 && ($0 != 5 || offersBetween) }
        let la = Array(x[oA..<oB]), lb = Array(x[oB..<oC]), lc = Array(x[oC..<oU]), lu = Array(x[oU..<oR]), lr = Array(x[oR..<oStop])
        let tA = Self.argmax(la, present), tR = Self.argmax(lr, relOffered)
        var tB = Self.argmax(lb, present), tU = Self.argmax(lu, opOffered), tC = Self.argmax(lc, present)
        var piA = Self.softmax(la, present), piB = Self.softmax(lb, present), piC = Self.softmax(lc, present)
        var wU = Self.softmax(lu, opOffered), wR = Self.softmax(lr, relOffered)
        var pStop = 1 / (1 + exp(-x[oStop]))
        if spec.hard {
            // One number per role: an op the question has enough numbers for (B only where a
            // relation that reads it answers), C apart from A, B apart from what step 1 reads.
            pStop = x[oStop] > 0 ? 1 : 0
            let needsB = pStop == 0 && tR < 7
            let count = present.filter { $0 }.count
            let feasible = (0..<U).map { opOffered[$0] && count >= ($0 >= 9 ? 2 : 1) + (needsB ? 1 : 0) }
            let anyOp = feasible.contains(true)
            tU = Self.argmax(lu, feasible)
            let any = present.contains(true)
            piA = (0..<S).map { any && $0 == tA ? 1 : 0 }
            var cAllowed = present
            if tU >= 9 && anyOp { cAllowed[tA] = false }
            let anyC = cAllowed.contains(true)
            tC = Self.argmax(lc, cAllowed)
            piC = (0..<S).map { anyC && $0 == tC ? 1 : 0 }
            var bAllowed = present
            if needsB { for j in 0..<S where Self.reads(tU, tA, tC, j) { bAllowed[j] = false } }
            let anyB = bAllowed.contains(true)
            tB = Self.argmax(lb, bAllowed)
            piB = (0..<S).map { anyB && $0 == tB ? 1 : 0 }
            wU = (0..<U).map { anyOp && $0 == tU ? 1 : 0 }
            wR = (0..<R).map { $0 == tR ? 1 : 0 }
        }
        // Ops 0-4 add a constant; op 5 (between) is the number between this one and another
        // number of the question two away from it, trying the one above first.
        let u: [[Int?]] = numbers.indices.map { i in
            guard let n = numbers[i] else { return [Int?](repeating: nil, count: U) }
            let valid = { (v: Int) in (0..<limit).contains(v) ? v : nil }
            let others = numbers.indices.filter { $0 != i }.compactMap { numbers[$0] }
            let between: Int? = valid(n + 2) != nil && others.contains(n + 2) ? n + 1
                : (valid(n - 2) != nil && others.contains(n - 2) ? n - 1 : nil)
            // Ops 6-8: the digit of the ones, tens and hundreds place (0 past the top place).
            let digitOps: [Int?] = (0..<3).map { digit(n, $0) }
            return Self.deltas.map { valid(n + $0) } + [between] + digitOps
        }
        // Ops 9-13 for every slot c, as integers: a + c, a - c, 2a - c (with 2a itself held in
        // the places), the value of digit c at the highest place of a holding it, and the total of
        // the numbers from slot i through slot c.
        func binary(_ k: Int, _ i: Int, _ c: Int) -> Int? {
            guard let a = numbers[i], let b = numbers[c] else { return nil }
            let v: Int
            switch k {
            case 9: v = a + b
            case 10: v = a - b
            case 13:
                // total: the numbers from slot i through slot c (i < c, all present).
                guard i < c, (i...c).allSatisfy({ numbers[$0] != nil }) else { return nil }
                v = (i...c).reduce(0) { $0 + numbers[$1]! }
            case 11: guard 2 * a < limit else { return nil }; v = 2 * a - b
            default:
                guard (1...9).contains(b), let p = (0..<P).reversed().first(where: { digit(a, $0) == b }) else { return nil }
                v = b * (0..<p).reduce(1) { r, _ in r * 10 }
            }
            return (0..<limit).contains(v) ? v : nil
        }
        /// Every step-1 result of slot i and op k with its weight factor from pointer C (1 for
        /// one-number ops) and the C slot (nil for one-number ops).
        func results(_ i: Int, _ k: Int) -> [(v: Int, wc: Double, c: Int?)] {
            if k < 9 { return u[i][k].map { [($0, 1.0, nil)] } ?? [] }
            return (0..<S).filter { $0 != i }.compactMap { c in binary(k, i, c).map { ($0, piC[c], c) } }
        }

        var p = 0.0
        var dist = [Double](repeating: 0, count: P * 10)
        if spec.enabled {
            for i in 0..<S {
                for k in 0..<U {
                    for (v, wc, c) in results(i, k) {
                        for q in 0..<P { dist[q * 10 + digit(v, q)] += piA[i] * wU[k] * wc }
                        for j in 0..<S where feedsRelation[k] {
                            guard let b = numbers[j] else { continue }
                            for r in 0..<R where holds(r, v, b) && !(r < 7 && Self.reads(k, i, c ?? -1, j)) { p += piA[i] * piB[j] * wU[k] * wR[r] * wc }
                        }
                    }
                }
            }
        } else {
            p = 0.5
        }
        let pc = min(max(p, lo), hi)
        let typedYes = spec.enabled ? log(pc / (1 - pc)) : 0
        let z0 = x[oYN], z1 = x[oYN + 1] + g * typedYes
        let pYes = 1 / (1 + exp(z0 - z1)), pNo = 1 / (1 + exp(z1 - z0))
        var probs = [[Double]](), number = 0, place = 1
        for q in 0..<P {
            let z = (0..<10).map { x[oDig + q * 10 + $0] + g * log(dist[q * 10 + $0] + lo) }
            let pr = Self.softmax(z, [Bool](repeating: true, count: 10))
            probs.append(pr)
            number += Self.argmax(pr, [Bool](repeating: true, count: 10)) * place
            place *= 10
        }
        let isNumber = pStop > 0.5
        var out = Row(dLogits: [Double](repeating: 0, count: spec.width),
                      stats: [0, 0, 0, 0, isNumber ? 1 : 0, pYes, Double(number), 0, pStop, 0],
                      trace: [Int32(tA), Int32(tB), Int32(tU), Int32(tR), Int32(tC)], p: p)
        guard kind == 1 || kind == 2 else { return out }

        let eps = Double(spec.labelSmoothing)
        var d = out.dLogits
        var dLdp = 0.0, dGain = 0.0, loss = 0.0
        var dLdDist = [Double](repeating: 0, count: P * 10)
        if kind == 1 {
            let y = value != 0
            let tYes = y ? 1 - eps / 2 : eps / 2, tNo = 1 - tYes
            loss = -(tNo * log(max(pNo, 1e-30)) + tYes * log(max(pYes, 1e-30)))
            d[oYN] = pNo - tNo
            d[oYN + 1] = pYes - tYes
            dGain = (pYes - tYes) * typedYes
            // d typedYes / dp = 1 / p + 1 / (1 - p) inside the clamp, 0 outside.
            if spec.enabled && p > lo && p < hi { dLdp = (pYes - tYes) * g * (1 / p + 1 / (1 - p)) }
            out.stats[3] = !isNumber && (pYes > 0.5) == y ? 1 : 0
        } else {
            let n = Int(value), fits = n >= 0 && n < limit
            for q in 0..<P {
                for c in 0..<10 {
                    let t = fits ? (digit(n, q) == c ? 1 - eps + eps / 10 : eps / 10) : 0.1
                    loss -= t * log(max(probs[q][c], 1e-30)) / Double(P)
                    let dz = (probs[q][c] - t) / Double(P)
                    d[oDig + q * 10 + c] = dz
                    dGain += dz * log(dist[q * 10 + c] + lo)
                    dLdDist[q * 10 + c] = dz * g / (dist[q * 10 + c] + lo)
                }
            }
            out.stats[3] = isNumber && number == n ? 1 : 0
        }
        let isNum: Double = kind == 2 ? 1 : 0
        let stopLoss = -(isNum * log(max(pStop, 1e-30)) + (1 - isNum) * log(max(1 - pStop, 1e-30)))
        d[oStop] = Double(spec.lambdaStop) * (pStop - isNum)
        var entropy = 0.0
        if spec.enabled && !spec.hard {
            // Chain rule through p(piA, piB, piC, wU, wR) and dist(piA, piC, wU).
            var dA = [Double](repeating: 0, count: S), dB = dA, dC = dA
            var dU = [Double](repeating: 0, count: U), dR = [Double](repeating: 0, count: R)
            for i in 0..<S {
                for k in 0..<U {
                    for (v, wc, c) in results(i, k) {
                        let s = (0..<P).reduce(0.0) { $0 + dLdDist[$1 * 10 + digit(v, $1)] }
                        dA[i] += wU[k] * wc * s
                        dU[k] += piA[i] * wc * s
                        if let c { dC[c] += piA[i] * wU[k] * s }
                        for j in 0..<S where feedsRelation[k] {
                            guard let b = numbers[j] else { continue }
                            for r in 0..<R where holds(r, v, b) && !(r < 7 && Self.reads(k, i, c ?? -1, j)) {
                                dA[i] += dLdp * piB[j] * wU[k] * wR[r] * wc
                                dB[j] += dLdp * piA[i] * wU[k] * wR[r] * wc
                                dU[k] += dLdp * piA[i] * piB[j] * wR[r] * wc
                                dR[r] += dLdp * piA[i] * piB[j] * wU[k] * wc
                                if let c { dC[c] += dLdp * piA[i] * piB[j] * wU[k] * wR[r] }
                            }
                        }
                    }
                }
            }
            entropy = -(wU + wR).reduce(0.0) { $1 > 0 ? $0 + $1 * log($1) : $0 }
            let lam = Double(spec.lambdaEntropy)
            for k in 0..<U where wU[k] > 0 { dU[k] += lam * (log(wU[k]) + 1) }
            for r in 0..<R where wR[r] > 0 { dR[r] += lam * (log(wR[r]) + 1) }
            out.stats[9] = -(piA + piB).reduce(0.0) { $1 > 0 ? $0 + $1 * log($1) : $0 }
            for (off, pr, dp) in [(oA, piA, dA), (oB, piB, dB), (oC, piC, dC), (oU, wU, dU), (oR, wR, dR)] {
                let dot = zip(pr, dp).reduce(0.0) { $0 + $1.0 * $1.1 }
                for i in pr.indices { d[off + i] = pr[i] * (dp[i] - dot) }
            }
        }
        let scale = Double(spec.lossScale)
        out.dLogits = d.map { $0 * scale }
        out.stats[0] = loss
        out.stats[1] = stopLoss
        out.stats[2] = entropy
        out.stats[7] = dGain * scale
        return out
    }
}

/// A batch of reasoner inputs.
struct ReasonerCase {
    var spec: ReasonerSpec
    var rows: Int
    var logits: [Float]
    var numbers: [Int?] // [rows * slots]
    var targets: [Int32] // [rows * 2]
    var gain: Float

    var numberDigits: [Int32] {
        var out = [Int32]()
        for n in numbers {
            if let n {
                var v = n
                for _ in 0..<spec.places { out.append(Int32(v % 10)); v /= 10 }
            } else {
                out += [Int32](repeating: -1, count: spec.places)
            }
        }
        return out
    }

    func reference() -> [ReasonerReference.Row] {
        let ref = ReasonerReference(spec: spec), W = spec.width, S = spec.slots
        return (0..<rows).map { r in
            ref.row(logits: Array(logits[(r * W)..<((r + 1) * W)]), numbers: Array(numbers[(r * S)..<((r + 1) * S)]),
                    kind: targets[2 * r], value: targets[2 * r + 1], gain: gain)
        }
    }
}

struct ReasonerChecks {
    let b: any Backend
    var rng: TestRNG
    let label: String

    init(_ backend: any Backend, _ test: String = #function) {
        b = backend
        label = "\(backend.kind.rawValue) \(test)"
        rng = Shared.rng(label)
    }

    /// Random questions: absent slots (and a row with none), numbers at both ends of the range
    /// (so the ops overflow and underflow), repeats and neighbours (so equality holds), and
    /// targets of every kind, numbers too wide or negative included.
    mutating func makeCase(_ spec: ReasonerSpec, rows: Int) -> ReasonerCase {
        let S = spec.slots, limit = (0..<spec.places).reduce(1) { r, _ in r * 10 }
        var numbers = [Int?](), targets = [Int32]()
        for r in 0..<rows {
            var row = [Int?]()
            for _ in 0..<S {
                let roll = Int.random(in: 0..<10, using: &rng)
                var v: Int?
                switch roll {
                case 0, 1: v = nil
                case 2: v = Int.random(in: 0...min(2, limit - 1), using: &rng)
                case 3: v = max(0, limit - 1 - Int.random(in: 0...2, using: &rng))
                case 4, 5:
                    if let base = row.compactMap({ $0 }).randomElement(using: &rng) {
                        v = min(limit - 1, max(0, base + Int.random(in: -2...2, using: &rng)))
                    } else {
                        v = Int.random(in: 0..<limit, using: &rng)
                    }
                default: v = Int.random(in: 0..<limit, using: &rng)
                }
                row.append(v)
            }
            if r == 1 { row = [Int?](repeating: nil, count: S) }
            numbers += row
            let kind = r == 0 ? 2 : r == 2 ? 0 : Int.random(in: 0..<7, using: &rng)
            switch kind {
            case 0: targets += [0, Int32.random(in: -3...3, using: &rng)]
            case 1, 2, 3: targets += [1, Int32.random(in: 0...1, using: &rng)]
            default:
                let present = row.compactMap { $0 }
                let n: Int
                switch Int.random(in: 0..<8, using: &rng) {
                case 0: n = limit + Int.random(in: 0...5, using: &rng) // too wide: every digit class is wrong
                case 1: n = -Int.random(in: 1...3, using: &rng)
                case 6, 7: // the sum or difference of two of the row's numbers (the binary ops' results)
                    let x = present.randomElement(using: &rng) ?? 0, y = present.randomElement(using: &rng) ?? 0
                    n = min(limit - 1, max(0, kind == 6 ? x + y : x - y))
                case 2, 3: n = present.randomElement(using: &rng).map { max(0, min(limit - 1, $0 + Int.random(in: -2...2, using: &rng))) } ?? 0
                default: n = Int.random(in: 0..<limit, using: &rng)
                }
                targets += [2, Int32(n)]
            }
        }
        let logits = (0..<(rows * spec.width)).map { _ in Float.random(in: -3...3, using: &rng) }
        return ReasonerCase(spec: spec, rows: rows, logits: logits, numbers: numbers, targets: targets,
                            gain: Float.random(in: 0.5...2, using: &rng))
    }

    struct Output { var dLogits: [Float]; var stats: [Float]; var trace: [Int32] }

    /// Runs the op on `c` with every output poisoned first.
    func run(_ c: ReasonerCase, on be: (any Backend)? = nil) throws -> Output {
        let be = be ?? b
        let W = c.spec.width, SW = ReasonerSpec.statsWidth
        let logits = try be.makeBuffer(c.logits), numbers = try be.makeBuffer(c.numberDigits)
        let targets = try be.makeBuffer(c.targets), gain = try be.makeBuffer([c.gain])
        let d = try be.makeBuffer(count: c.rows * W, dtype: .float32), st = try be.makeBuffer(count: c.rows * SW, dtype: .float32)
        let tr = try be.makeBuffer(count: c.rows * ReasonerSpec.traceWidth, dtype: .int32)
        try be.fill(d, value: .nan, offset: 0, count: c.rows * W)
        try be.fill(st, value: .nan, offset: 0, count: c.rows * SW)
        try be.fill(tr, value: -7777, offset: 0, count: c.rows * ReasonerSpec.traceWidth)
        try be.reasoner(logits: logits, numbers: numbers, targets: targets, gain: gain, dLogits: d, rowStats: st,
                        trace: tr, rows: c.rows, spec: c.spec)
        return Output(dLogits: try be.download(d), stats: try be.download(st), trace: try be.downloadInt32(tr))
    }

    /// Compares one case with the float64 reference: dLogits and the float stats to about 1e-4
    /// relative (absolute part scaled to the row's largest gradient), counts and the trace exactly.
    mutating func check(_ spec: ReasonerSpec, rows: Int, _ what: String) throws {
        let c = makeCase(spec, rows: rows)
        let got = try run(c)
        let want = c.reference()
        let W = spec.width, SW = ReasonerSpec.statsWidth
        let tag = "\(label) \(what) [seed \(Shared.seed); replay with COMPUTE_TEST_SEED=\(Shared.seed)]"
        var failures = 0
        func fail(_ msg: String) {
            failures += 1
            if failures <= 8 { XCTFail("\(tag): \(msg)") }
        }
        for r in 0..<rows {
            let w = want[r]
            // Gradients are differences of O(1) probabilities (times lossScale), so the absolute
            // part never drops below float rounding at that size.
            let scale = max(0.05 * Double(spec.lossScale), w.dLogits.map(abs).max() ?? 0)
            for j in 0..<W {
                let g = Double(got.dLogits[r * W + j]), e = w.dLogits[j]
                if !(abs(g - e) <= 2e-5 * scale + 1e-4 * abs(e)) { fail("row \(r) dLogits[\(j)] = \(g), expected \(e)") }
            }
            for k in 0..<SW {
                let g = Double(got.stats[r * SW + k]), e = w.stats[k]
                let ok: Bool
                switch k {
                case 3, 4: ok = g == e
                case 6: ok = g == Double(Float(e)) // the decoded number, as a float
                case 7: ok = abs(g - e) <= 1e-5 * max(1, abs(e)) + 1e-4 * abs(e)
                default: ok = abs(g - e) <= 1e-5 + 1e-4 * abs(e)
                }
                if !ok { fail("row \(r) rowStats[\(k)] = \(g), expected \(e)") }
            }
            if Array(got.trace[(r * 5)..<(r * 5 + 5)]) != w.trace {
                fail("row \(r) trace \(Array(got.trace[(r * 5)..<(r * 5 + 5)])), expected \(w.trace)")
            }
        }
        if failures > 8 { XCTFail("\(tag): \(failures) mismatches in all") }
    }

    mutating func soft() throws {
        try check(ReasonerSpec(slots: 6, places: 4, hard: false, labelSmoothing: 0.1, lambdaStop: 0.5,
                               lambdaEntropy: 0.05, lossScale: 0.25), rows: 64, "soft")
        try check(ReasonerSpec(slots: 5, places: 3, hard: false, labelSmoothing: 0, lambdaStop: 1,
                               lambdaEntropy: 0, lossScale: 1), rows: 48, "soft no smoothing, no entropy")
    }

    /// Canonical programs: `smaller` left out of the relations, predecessor and subtract_2 kept
    /// off the BOOL path (they still answer NUM questions).
    mutating func masked() throws {
        let canonical = (relation: ReasonerSpec.allRelations & ~(1 << 2), bool: ReasonerSpec.allOps & ~(1 << 2 | 1 << 4))
        for hard in [false, true] {
            var spec = ReasonerSpec(slots: 5, places: 3, hard: hard, labelSmoothing: 0.1, lambdaStop: 0.5,
                                    lambdaEntropy: 0.05, lossScale: 0.5)
            spec.relationMask = canonical.relation
            spec.boolOpMask = canonical.bool
            try check(spec, rows: 64, hard ? "hard, canonical masks" : "soft, canonical masks")
            // Random masks (at least one relation offered).
            spec.relationMask = Int32.random(in: 1...ReasonerSpec.allRelations, using: &rng)
            spec.boolOpMask = Int32.random(in: 0...ReasonerSpec.allOps, using: &rng)
            spec.offeredOps = Int32.random(in: 1...ReasonerSpec.allOps, using: &rng)
            try check(spec, rows: 48, "random masks \(spec.relationMask)/\(spec.boolOpMask)/\(spec.offeredOps), hard \(hard)")
            spec.offeredOps = ReasonerSpec.oneNumberOps
            try check(spec, rows: 48, "random masks \(spec.relationMask)/\(spec.boolOpMask), hard \(hard)")
        }
        // A masked relation gets no weight and no gradient.
        var spec = ReasonerSpec(slots: 4, places: 3, hard: false, lambdaEntropy: 0.05)
        spec.relationMask = canonical.relation
        let c = makeCase(spec, rows: 32), out = try run(c), smallerColumn = 3 * 4 + ReasonerSpec.opCount + 2
        for r in 0..<32 {
            XCTAssertEqual(out.dLogits[r * spec.width + smallerColumn], 0, "\(label) row \(r): masked relation has a gradient")
            XCTAssertNotEqual(out.trace[r * 5 + 3], 2, "\(label) row \(r): masked relation chosen")
        }
    }

    mutating func hard() throws {
        try check(ReasonerSpec(slots: 6, places: 4, hard: true, labelSmoothing: 0.1, lambdaStop: 0.5,
                               lambdaEntropy: 0.05, lossScale: 0.5), rows: 64, "hard")
    }

    mutating func disabled() throws {
        try check(ReasonerSpec(slots: 4, places: 3, hard: false, enabled: false, labelSmoothing: 0.05,
                               lambdaEntropy: 0.1, lossScale: 0.125), rows: 40, "soft disabled")
        try check(ReasonerSpec(slots: 4, places: 3, hard: true, enabled: false, labelSmoothing: 0.05,
                               lambdaEntropy: 0.1, lossScale: 0.125), rows: 40, "hard disabled")
    }

    mutating func shapes() throws {
        try check(ReasonerSpec(slots: 1, places: 1, hard: false, labelSmoothing: 0.1, lambdaEntropy: 0.02), rows: 20,
                  "one slot, one place")
        try check(ReasonerSpec(slots: 8, places: 8, hard: false, labelSmoothing: 0.1, lambdaEntropy: 0.02, lossScale: 0.3),
                  rows: 24, "eight slots, eight places")
        try check(ReasonerSpec(slots: 8, places: 2, hard: true, labelSmoothing: 0.1), rows: 24, "hard, eight slots")
        // The most slots there are: `--programs positional` runs on 12 virtual slots.
        try check(ReasonerSpec(slots: 12, places: 4, hard: false, labelSmoothing: 0.1, lambdaEntropy: 0.02), rows: 24,
                  "twelve slots")
        try check(ReasonerSpec(slots: 12, places: 3, hard: true, labelSmoothing: 0.1), rows: 24, "hard, twelve slots")
        try check(ReasonerSpec(slots: 3, places: 4, hard: false), rows: 1, "one row")
    }

    mutating func rejects() throws {
        let c = makeCase(ReasonerSpec(slots: 2, places: 2, hard: false), rows: 2)
        for bad in [ReasonerSpec(slots: 13, places: 2, hard: false), ReasonerSpec(slots: 0, places: 2, hard: false),
                    ReasonerSpec(slots: 2, places: 9, hard: false)] {
            var cc = c
            cc.spec = bad
            cc.numbers = [Int?](repeating: nil, count: 2 * max(1, bad.slots))
            XCTAssertThrowsError(try run(cc), "\(label) spec slots=\(bad.slots) places=\(bad.places) must be rejected")
        }
        // Buffers too small for the rows.
        let W = c.spec.width
        let logits = try b.makeBuffer(count: W, dtype: .float32), numbers = try b.makeBuffer(c.numberDigits)
        let targets = try b.makeBuffer(c.targets), gain = try b.makeBuffer([Float(1)])
        let d = try b.makeBuffer(count: 2 * W, dtype: .float32), st = try b.makeBuffer(count: 18, dtype: .float32)
        let tr = try b.makeBuffer(count: 8, dtype: .int32)
        XCTAssertThrowsError(try b.reasoner(logits: logits, numbers: numbers, targets: targets, gain: gain, dLogits: d,
                                            rowStats: st, trace: tr, rows: 2, spec: c.spec), "\(label) short logits")
    }

    // MARK: copy2D

    mutating func copy2D() throws {
        for trial in 0..<6 {
            let rows = trial == 5 ? 1 : Int.random(in: 1...9, using: &rng), cols = Int.random(in: 1...13, using: &rng)
            let srcStride = trial == 4 ? 0 : cols + Int.random(in: 0...5, using: &rng) // 0: one row broadcast
            let dstStride = cols + Int.random(in: 0...5, using: &rng)
            let srcOffset = Int.random(in: 0...7, using: &rng), dstOffset = Int.random(in: 0...7, using: &rng)
            let srcCount = srcOffset + (rows - 1) * srcStride + cols + Int.random(in: 0...3, using: &rng)
            let dstCount = dstOffset + (rows - 1) * dstStride + cols + Int.random(in: 0...3, using: &rng)
            let S = (0..<srcCount).map { _ in Float.random(in: -100...100, using: &rng) }
            let src = try b.makeBuffer(S), dst = try b.makeBuffer(count: dstCount, dtype: .float32)
            try b.fill(dst, value: .nan, offset: 0, count: dstCount)
            try b.copy2D(src, srcOffset: srcOffset, srcStride: srcStride, to: dst, dstOffset: dstOffset,
                         dstStride: dstStride, rows: rows, cols: cols)
            let got = try b.download(dst)
            var inside = [Int: Float]()
            for r in 0..<rows { for c in 0..<cols { inside[dstOffset + r * dstStride + c] = S[srcOffset + r * srcStride + c] } }
            let what = "\(label) copy2D rows=\(rows) cols=\(cols) src \(srcOffset)+\(srcStride) dst \(dstOffset)+\(dstStride) (seed \(Shared.seed))"
            for i in 0..<dstCount {
                if let w = inside[i] {
                    if got[i].bitPattern != w.bitPattern { XCTFail("\(what): dst[\(i)] = \(got[i]), expected \(w)"); break }
                } else if !got[i].isNaN {
                    XCTFail("\(what): dst[\(i)] outside the block was overwritten with \(got[i])"); break
                }
            }
        }
        // Empty blocks are no-ops; overlapping destination rows and short buffers are rejected.
        let src = try b.makeBuffer([Float](repeating: 1, count: 20)), dst = try b.makeBuffer([Float](repeating: 7, count: 20))
        try b.copy2D(src, srcOffset: 0, srcStride: 5, to: dst, dstOffset: 0, dstStride: 5, rows: 0, cols: 5)
        try b.copy2D(src, srcOffset: 0, srcStride: 5, to: dst, dstOffset: 0, dstStride: 5, rows: 4, cols: 0)
        XCTAssertEqual(try b.download(dst), [Float](repeating: 7, count: 20), "\(label) empty copy2D")
        XCTAssertThrowsError(try b.copy2D(src, srcOffset: 0, srcStride: 5, to: dst, dstOffset: 0, dstStride: 3,
                                          rows: 2, cols: 5), "\(label) overlapping destination rows")
        XCTAssertThrowsError(try b.copy2D(src, srcOffset: 1, srcStride: 5, to: dst, dstOffset: 0, dstStride: 5,
                                          rows: 4, cols: 5), "\(label) source too short")
        XCTAssertThrowsError(try b.copy2D(src, srcOffset: 0, srcStride: 5, to: dst, dstOffset: 0, dstStride: 6,
                                          rows: 4, cols: 5), "\(label) target too short")
    }
}

final class CPUReasonerOpTests: XCTestCase {
    func testReasonerSoft() throws { var c = ReasonerChecks(Shared.cpu); try c.soft() }
    func testReasonerHard() throws { var c = ReasonerChecks(Shared.cpu); try c.hard() }
    func testReasonerMasks() throws { var c = ReasonerChecks(Shared.cpu); try c.masked() }
    func testReasonerDisabled() throws { var c = ReasonerChecks(Shared.cpu); try c.disabled() }
    func testReasonerShapes() throws { var c = ReasonerChecks(Shared.cpu); try c.shapes() }
    func testReasonerRejects() throws { var c = ReasonerChecks(Shared.cpu); try c.rejects() }
    func testCopy2D() throws { var c = ReasonerChecks(Shared.cpu); try c.copy2D() }

    /// Bit-identical for any thread count.
    func testReasonerDeterministic() throws {
        var c = ReasonerChecks(Shared.cpu)
        let cs = c.makeCase(ReasonerSpec(slots: 6, places: 4, hard: false, labelSmoothing: 0.1, lambdaEntropy: 0.05), rows: 97)
        let a = try c.run(cs), b = try c.run(cs, on: CPUBackend(threads: 1)), d = try c.run(cs, on: CPUBackend(threads: 3))
        for o in [b, d] {
            XCTAssertEqual(a.dLogits.map(\.bitPattern), o.dLogits.map(\.bitPattern), "dLogits (seed \(Shared.seed))")
            XCTAssertEqual(a.stats.map(\.bitPattern), o.stats.map(\.bitPattern), "rowStats (seed \(Shared.seed))")
            XCTAssertEqual(a.trace, o.trace, "trace (seed \(Shared.seed))")
        }
    }

    /// dLogits and rowStats[7] against central differences (five-point) of the row losses
    /// lossScale * (answer + lambdaStop * stop - lambdaEntropy * entropy) read from rowStats.
    func testReasonerFiniteDifferences() throws {
        var c = ReasonerChecks(Shared.cpu)
        let spec = ReasonerSpec(slots: 4, places: 3, hard: false, labelSmoothing: 0.1, lambdaStop: 0.7,
                                lambdaEntropy: 0.05, lossScale: 0.5)
        let rows = 16, W = spec.width, SW = ReasonerSpec.statsWidth
        var base = c.makeCase(spec, rows: rows)
        base.gain = 1.3
        let ref = base.reference()
        // Rows whose BOOL sits near the clamp's corners have no derivative there.
        let smooth = ref.map { r in
            let lo = ReasonerReference.lo
            return !(r.p > lo / 4 && r.p < lo * 4) && !(1 - r.p > lo / 4 && 1 - r.p < lo * 4)
        }
        let out = try c.run(base)
        func losses(_ cs: ReasonerCase) throws -> [Double] {
            let o = try c.run(cs)
            return (0..<rows).map { r in
                let s = (0..<SW).map { Double(o.stats[r * SW + $0]) }
                return Double(spec.lossScale) * (s[0] + Double(spec.lambdaStop) * s[1] - Double(spec.lambdaEntropy) * s[2])
            }
        }
        let h: Float = 1e-2
        func fivePoint(_ perturb: (inout ReasonerCase, Float) -> Void) throws -> [Double] {
            var f = [[Double]]()
            for k: Float in [-2, -1, 1, 2] {
                var cs = base
                perturb(&cs, k * h)
                f.append(try losses(cs))
            }
            return (0..<rows).map { (f[0][$0] - 8 * f[1][$0] + 8 * f[2][$0] - f[3][$0]) / (12 * Double(h)) }
        }
        var failures = 0, checked = 0
        for j in 0..<W {
            let fd = try fivePoint { cs, dx in for r in 0..<rows { cs.logits[r * W + j] += dx } }
            for r in 0..<rows where smooth[r] {
                let an = Double(out.dLogits[r * W + j])
                checked += 1
                if !(abs(fd[r] - an) <= 1e-3 + 1e-2 * abs(an)) {
                    failures += 1
                    if failures <= 8 { XCTFail("row \(r) dLogits[\(j)] = \(an), finite difference \(fd[r]) (seed \(Shared.seed))") }
                }
            }
        }
        let fdGain = try fivePoint { cs, dx in cs.gain += dx }
        for r in 0..<rows where smooth[r] {
            let an = Double(out.stats[r * SW + 7])
            if !(abs(fdGain[r] - an) <= 1e-3 + 1e-2 * abs(an)) {
                XCTFail("row \(r) d(loss)/d(gain) = \(an), finite difference \(fdGain[r]) (seed \(Shared.seed))")
            }
        }
        XCTAssertGreaterThan(checked, W * rows / 2, "most rows must be checked (seed \(Shared.seed))")
        XCTAssertEqual(failures, 0, "finite-difference mismatches (seed \(Shared.seed))")
    }
}

final class OpenCLReasonerOpTests: XCTestCase {
    func testReasonerSoft() throws { var c = ReasonerChecks(try Shared.opencl()); try c.soft() }
    func testReasonerHard() throws { var c = ReasonerChecks(try Shared.opencl()); try c.hard() }
    func testReasonerMasks() throws { var c = ReasonerChecks(try Shared.opencl()); try c.masked() }
    func testReasonerDisabled() throws { var c = ReasonerChecks(try Shared.opencl()); try c.disabled() }
    func testReasonerShapes() throws { var c = ReasonerChecks(try Shared.opencl()); try c.shapes() }
    func testReasonerRejects() throws { var c = ReasonerChecks(try Shared.opencl()); try c.rejects() }
    func testCopy2D() throws { var c = ReasonerChecks(try Shared.opencl()); try c.copy2D() }

    /// The two backends agree closely on the same inputs (both also match the reference).
    func testReasonerMatchesCPU() throws {
        var c = ReasonerChecks(try Shared.opencl())
        for hard in [false, true] {
            let cs = c.makeCase(ReasonerSpec(slots: 6, places: 4, hard: hard, labelSmoothing: 0.1, lambdaEntropy: 0.05,
                                             lossScale: 0.25), rows: 80)
            let a = try c.run(cs), o = try c.run(cs, on: Shared.cpu)
            XCTAssertEqual(a.trace, o.trace, "trace hard=\(hard) (seed \(Shared.seed))")
            assertClose(a.dLogits, o.dLogits.map(Double.init), atol: 1e-5, rtol: 1e-4, "dLogits hard=\(hard) vs cpu")
            assertClose(a.stats, o.stats.map(Double.init), atol: 1e-5, rtol: 1e-4, "rowStats hard=\(hard) vs cpu")
        }
    }
}
