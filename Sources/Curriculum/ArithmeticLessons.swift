/// How Grade 2's sums and differences draw their numbers (Docs/LESSONS.md, "Grade 2").
///
/// Train questions are what the standards call "within 100" (two numbers of Grade 1's range whose
/// sum or difference stays in it, with and without regrouping between ones and tens) and, a
/// quarter of the time, "10 or 100 more or less" than a three-digit number. No train question
/// carries into or borrows from the hundreds; the `carry` split is exactly those questions, on
/// train numbers, so it scores a carry the model never saw done. The constants 10 and 100 of the
/// "more or less" questions are exempt from the held-out check (the lesson is about them).
extension LessonGenerator {
    /// Whether a ± c carries into, or borrows from, the hundreds (for c = 10 or 100 and a two-
    /// or three-digit a; for two numbers below 100: the sum reaching 100).
    public static func crossesHundreds(_ a: Int, _ c: Int, plus: Bool) -> Bool {
        if plus { return (a % 100) + (c % 100) >= 100 }
        return a >= 100 && (a % 100) < (c % 100)
    }

    /// Operands (a, c) of a sum (`plus`) or difference (a >= c) for `split`.
    func arithmetic(plus: Bool, split: Split, rng: inout SplitMix64) -> (Int, Int) {
        let big = Pool(numbers: grade2, split: split), small = Pool(numbers: grade1, split: split)
        let smallTop = grade1.trainRange.upperBound
        for _ in 0..<20_000 {
            if rng.chance(0.25) {
                // 10 or 100 more or less than a three-digit number.
                let c = rng.coin() ? 10 : 100
                let a = big.sample(&rng)
                let r = plus ? a + c : a - c
                guard r >= 0 else { continue }
                if split == .ood { return (a, c) }
                guard a > smallTop, r <= grade2.trainRange.upperBound else { continue }
                guard Self.crossesHundreds(a, c, plus: plus) == (split == .carry) else { continue }
                if big.accepts(a, r) { return (a, c) }
                continue
            }
            if split == .ood {
                var a = big.sample(&rng), c = big.sample(&rng)
                if !plus && a < c { swap(&a, &c) }
                return (a, c)
            }
            if split == .carry && !plus {
                // A difference of a number above 99 and a two-digit number, landing below 100:
                // the hundreds digit is borrowed.
                let a = big.sample(&rng), c = small.sample(&rng)
                guard a > smallTop, a - c >= 0, a - c <= smallTop, big.accepts3(a, c, a - c) else { continue }
                return (a, c)
            }
            var a = small.sample(&rng), c = small.sample(&rng)
            if !plus && a < c { swap(&a, &c) }
            let r = plus ? a + c : a - c
            if split == .carry {
                guard r > smallTop, small.accepts(a, c), big.allowsHidden(r) else { continue }
                return (a, c)
            }
            guard r <= smallTop, small.accepts3(a, c, r) else { continue }
            return (a, c)
        }
        fatalError("cannot draw a Grade 2 \(plus ? "sum" : "difference") for the \(split.rawValue) split with these ranges")
    }

    /// A wrong result for "a ± c = b?": the mistakes a learner makes, in about these shares:
    /// off by ten (35%, a carry or borrow done twice or not at all), off by one (25%), the
    /// answer without regrouping (15%), the other operation (10%), off by 2-9 (15%).
    func wrongResult(_ a: Int, _ c: Int, plus: Bool, split: Split, rng: inout SplitMix64) -> Int {
        let r = plus ? a + c : a - c
        let big = Pool(numbers: grade2, split: split)
        for _ in 0..<200 {
            let roll = rng.unit()
            var b: Int
            if roll < 0.35 { b = r + (rng.coin() ? 10 : -10) }
            else if roll < 0.6 { b = r + (rng.coin() ? 1 : -1) }
            else if roll < 0.75 { b = Self.withoutRegrouping(a, c, plus: plus) }
            else if roll < 0.85 { b = plus ? a - c : a + c }
            else { b = r + (rng.coin() ? 1 : -1) * rng.int(in: 2...9) }
            guard b != r, b >= 0 else { continue }
            if split != .ood && !big.allowsHidden(b) { continue }
            return b
        }
        return r + 1
    }

    /// a ± c place by place with no carry or borrow (each place's digit mod 10).
    static func withoutRegrouping(_ a: Int, _ c: Int, plus: Bool) -> Int {
        var x = a, y = c, out = 0, scale = 1
        while x > 0 || y > 0 {
            let d = plus ? (x % 10 + y % 10) % 10 : (x % 10 - y % 10 + 10) % 10
            out += d * scale
            x /= 10; y /= 10; scale *= 10
        }
        return out
    }
}

/// Skip counting and the value of a digit (Docs/LESSONS.md, "Grade 2").
extension LessonGenerator {
    /// Three terms (p, c, a) of a sequence counting by 2, 5, 10 or 100, up (75%) or down, whose
    /// next term a ± step stays in the grade's train range. Like the sums, no train question's
    /// next term carries into or borrows from the hundreds (98 → 100, 305 → 295); the carry split
    /// is those. Steps of 2, 5 and 10 start half the time below 100.
    func sequence(split: Split, rng: inout SplitMix64) -> (p: Int, c: Int, a: Int) {
        let big = Pool(numbers: grade2, split: split), small = Pool(numbers: grade1, split: split)
        for _ in 0..<20_000 {
            let step = [2, 5, 10, 100][rng.int(below: 4)]
            let up = rng.chance(0.75), s = up ? step : -step
            let pool = step == 100 || split == .ood || split == .carry || rng.coin() ? big : small
            let p = pool.sample(&rng), c = p + s, a = c + s, next = a + s
            guard min(p, c, a, next) >= 0 else { continue }
            if split == .ood {
                guard grade2.oodRange.contains(c), grade2.oodRange.contains(a) else { continue }
                return (p, c, a)
            }
            guard next <= grade2.trainRange.upperBound,
                  Self.crossesHundreds(a, step, plus: up) == (split == .carry),
                  big.accepts3(p, c, a, next) else { continue }
            return (p, c, a)
        }
        fatalError("cannot draw a skip-counting sequence for the \(split.rawValue) split with these ranges")
    }

    /// A digit d (1-9, once in a) and a number a of two to four digits: the value of d in a.
    func placeValue(split: Split, rng: inout SplitMix64) -> (d: Int, a: Int, value: Int) {
        let big = Pool(numbers: grade2, split: split)
        for _ in 0..<20_000 {
            let a = big.sample(&rng)
            let digits = String(a).compactMap { $0.wholeNumberValue }
            let once = digits.filter { d in d != 0 && digits.filter { $0 == d }.count == 1 }
            guard a >= 10, !once.isEmpty else { continue }
            let d = rng.pick(once)
            let place = digits.count - 1 - digits.firstIndex(of: d)!
            let value = d * (0..<place).reduce(1) { r, _ in r * 10 }
            if split == .ood { return (d, a, value) }
            guard big.accepts3(d, a, value) else { continue }
            return (d, a, value)
        }
        fatalError("cannot draw a place-value question for the \(split.rawValue) split with these ranges")
    }
}
