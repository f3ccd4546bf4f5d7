/// Grade 2's number sense to 1000 (Docs/LESSONS.md, "Grade 2"): the digit in a named place,
/// comparing two numbers, odd and even. Numbers come from the Grade 2 set (train 0-999 less the
/// held-out ones, out of range 1000-1999), drawn so that no surface cue answers: the place word,
/// not the digits' positions, decides a digit; close numbers and reordered digits decide a
/// comparison; every parity and size of number is asked both ways.
extension LessonGenerator {
    /// A number and its digit in the place `op` names (ones, tens or hundreds digit). Three times in
    /// four the number's digits all differ, so reading another place gives another answer; one
    /// time in six the place is above the number's top digit (the hundreds digit of 47 is 0).
    func placeDigit(op: ProgramOp, split: Split, rng: inout SplitMix64) -> (a: Int, digit: Int) {
        let place = op.rawValue - ProgramOp.onesDigit.rawValue
        precondition((0...2).contains(place), "placeDigit needs a digit op, got \(op)")
        let big = Pool(numbers: grade2, split: split), small = Pool(numbers: grade1, split: split)
        for _ in 0..<20_000 {
            let short = place > 0 && split != .ood && rng.chance(1.0 / 6)
            let a = short ? small.sample(&rng) : big.sample(&rng)
            if short && a >= (place == 1 ? 10 : 100) { continue }
            if !short && place < 2 && a < 100 && split != .ood && rng.coin() { continue }
            let digits = String(a).compactMap(\.wholeNumberValue)
            if rng.chance(0.75) && Set(digits).count != digits.count { continue }
            let digit = (a / [1, 10, 100][place]) % 10
            if split == .ood { return (a, digit) }
            guard big.accepts(a, digit) else { continue }
            return (a, digit)
        }
        fatalError("cannot draw a place-digit question for the \(split.rawValue) split with these ranges")
    }

    /// Two numbers to compare, a > b exactly when `yes`. Hard pairs: the same hundreds digit
    /// (35%), the same digits in another order (20%), a longer number with the smaller first
    /// digit (15%, 93 against 120), equal numbers (5%, never greater), else any two.
    func comparePair(yes: Bool, split: Split, rng: inout SplitMix64) -> (a: Int, b: Int) {
        let big = Pool(numbers: grade2, split: split)
        for _ in 0..<20_000 {
            let x = big.sample(&rng)
            var y: Int
            let roll = rng.unit()
            if roll < 0.35 {
                y = (x / 100) * 100 + rng.int(below: 100)
            } else if roll < 0.55 {
                var digits = String(x).compactMap(\.wholeNumberValue)
                guard digits.count > 1 else { continue }
                rng.shuffle(&digits)
                guard digits[0] != 0 else { continue }
                y = digits.reduce(0) { $0 * 10 + $1 }
            } else if roll < 0.70 {
                // Out of range every number has four digits: no shorter one to draw.
                guard split != .ood, x >= 100, x / 100 < 9 else { continue }
                y = rng.int(in: (x / 100 + 1)...9) * 10 + rng.int(below: 10)
            } else if roll < 0.75 {
                guard !yes else { continue }
                y = x
            } else {
                y = big.sample(&rng)
            }
            guard x != y || !yes else { continue }
            let (a, b) = yes ? (max(x, y), min(x, y)) : (min(x, y), max(x, y))
            if split == .ood {
                guard grade2.oodRange.contains(a), grade2.oodRange.contains(b) else { continue }
                return (a, b)
            }
            guard big.accepts(a, b) else { continue }
            return (a, b)
        }
        fatalError("cannot draw a comparison for the \(split.rawValue) split with these ranges")
    }

    /// An even (or odd) number; a third of the time below 100, so size says nothing either.
    func parityNumber(even wantEven: Bool, split: Split, rng: inout SplitMix64) -> Int {
        let big = Pool(numbers: grade2, split: split), small = Pool(numbers: grade1, split: split)
        for _ in 0..<20_000 {
            let a = split != .ood && rng.chance(1.0 / 3) ? small.sample(&rng) : big.sample(&rng)
            guard (a % 2 == 0) == wantEven else { continue }
            if split == .ood { return a }
            var held = false
            guard big.allowed(a, &held), split != .heldout || held else { continue }
            return a
        }
        fatalError("cannot draw an odd/even question for the \(split.rawValue) split with these ranges")
    }
}

/// Expanded form (Docs/LESSONS.md, "Numbers to 1000").
extension LessonGenerator {
    /// A number and three parts, in the order the sentence names them, whose sum is the number
    /// exactly when `yes`. Yes: the places' values (70%; in another order a third of the time), or
    /// regrouped, 100 moved from the hundreds to the tens or 10 from the tens to the ones (30%:
    /// 347 = 200 + 140 + 7), so parts whose digits are not the number's are no cue for "no". No:
    /// one part's digit changed (30%), two places' digits swapped (30%: 300 + 70 + 4 for 347),
    /// one part ten times too big or small (20%), the number 10 or 100 off (20%). Train numbers
    /// have three non-zero digits; out of range, 1000-1999 with one zero digit (three parts still).
    func expandedForm(yes: Bool, split: Split, rng: inout SplitMix64) -> (n: Int, parts: [Int]) {
        let big = Pool(numbers: grade2, split: split)
        for _ in 0..<20_000 {
            let n = big.sample(&rng)
            var places = [n / 1000 * 1000, n / 100 % 10 * 100, n / 10 % 10 * 10, n % 10].filter { $0 != 0 }
            guard places.count == 3 else { continue }
            var shown = n
            if yes {
                if split != .ood && rng.chance(0.3) {
                    // Regroup: 100 from the hundreds into the tens, or 10 from the tens into the ones.
                    let (h, t, o) = (places[0] / 100, places[1] / 10, places[2])
                    if rng.coin() {
                        guard h >= 2 else { continue }
                        places = [(h - 1) * 100, (t + 10) * 10, o]
                    } else {
                        guard t >= 2 else { continue }
                        places = [h * 100, (t - 1) * 10, o + 10]
                    }
                } else if rng.chance(1.0 / 3) {
                    rng.shuffle(&places)
                }
            } else {
                let roll = rng.unit()
                if roll < 0.3 {
                    let i = rng.int(below: 3), scale = places[i] / leadingDigit(places[i])
                    let d = leadingDigit(places[i]) + (rng.coin() ? 1 : -1) * rng.int(in: 1...3)
                    guard (1...9).contains(d) else { continue }
                    places[i] = d * scale
                } else if roll < 0.6 {
                    let (i, j) = rng.coin() ? (0, 1) : (rng.coin() ? (1, 2) : (0, 2))
                    let (di, dj) = (leadingDigit(places[i]), leadingDigit(places[j]))
                    guard di != dj else { continue }
                    (places[i], places[j]) = (dj * places[i] / di, di * places[j] / dj)
                } else if roll < 0.8 {
                    let i = rng.int(below: 3)
                    places[i] = rng.coin() || places[i] < 10 ? places[i] * 10 : places[i] / 10
                } else {
                    shown = n + (rng.coin() ? 1 : -1) * (rng.coin() ? 10 : 100)
                }
                guard places.reduce(0, +) != shown else { continue }
            }
            let numbers = [shown] + places
            if split == .ood {
                guard grade2.oodRange.contains(shown), places.allSatisfy({ $0 >= 1 }) else { continue }
                return (shown, places)
            }
            var held = false
            guard numbers.allSatisfy({ big.allowed($0, &held) }), split != .heldout || held else { continue }
            return (shown, places)
        }
        fatalError("cannot draw an expanded-form question for the \(split.rawValue) split with these ranges")
    }

    private func leadingDigit(_ n: Int) -> Int {
        var v = n
        while v >= 10 { v /= 10 }
        return v
    }
}
