/// The numbers of one grade: its train range with the held-out numbers taken out, and its
/// out-of-range interval.
public struct NumberSet: Sendable {
    public let trainRange: ClosedRange<Int>
    public let oodRange: ClosedRange<Int>
    /// The held-out numbers (sorted): never in a train or phrasing question.
    public let heldoutNumbers: [Int]
    /// The train range minus the held-out numbers (sorted).
    public let trainNumbers: [Int]
    let heldoutMask: [Bool]  // indexed by n - trainRange.lowerBound

    init(trainRange: ClosedRange<Int>, oodRange: ClosedRange<Int>, heldout: [Int]) {
        self.trainRange = trainRange
        self.oodRange = oodRange
        var mask = [Bool](repeating: false, count: trainRange.count)
        for n in heldout where trainRange.contains(n) { mask[n - trainRange.lowerBound] = true }
        heldoutMask = mask
        heldoutNumbers = heldout.filter { trainRange.contains($0) }.sorted()
        trainNumbers = trainRange.filter { !mask[$0 - trainRange.lowerBound] }
    }

    public func isHeldout(_ n: Int) -> Bool { trainRange.contains(n) && heldoutMask[n - trainRange.lowerBound] }
}

/// Generates Grade 1 (and, with `LessonConfig.grade` 2, Grade 2) questions, deterministically
/// for a config and an RNG state.
///
/// How negatives are drawn (so that no surface cue answers a question) is described per concept in
/// `pair(_:yes:pool:rng:)` and in Docs/LESSONS.md. Labels are balanced exactly per concept by
/// `generate`; `question(concept:split:rng:)` draws the label with a fair coin.
public struct LessonGenerator: Sendable {
    public let config: LessonConfig
    public let trainRange: ClosedRange<Int>
    public let oodRange: ClosedRange<Int>
    /// The held-out numbers (sorted): never in a train or phrasing question.
    public let heldoutNumbers: [Int]
    /// The train range minus the held-out numbers (sorted).
    public let trainNumbers: [Int]

    private let heldoutMask: [Bool]  // indexed by n - trainRange.lowerBound
    /// Grade 1's numbers (the ranges above) and Grade 2's: ten times the train range (0...999 by
    /// default), the block of its size above it for ood (1000...1999), and held out: Grade 1's
    /// held-out numbers plus the same fraction of the rest, so no Grade 2 question shows a number
    /// Grade 1 holds out.
    public let grade1: NumberSet
    public let grade2: NumberSet
    /// The concepts this generator teaches (`LessonConfig.grade`).
    public let concepts: [Concept]
    private let phrasings: [[CompiledTemplate]]  // indexed by concept order
    private let records: [[Phrasing]]

    /// Builds a generator; a config that `validate()` rejects is a programming error here
    /// (use `init(validating:)` for user input).
    public init(config: LessonConfig) {
        self.config = config
        trainRange = config.resolvedTrainRange
        oodRange = config.resolvedOODRange
        let heldCount = min(trainRange.count, max(0, Int((Double(trainRange.count) * config.heldoutFraction).rounded())))
        var all = Array(trainRange)
        var rng = SplitMix64(seed: config.seed).derived(0x4845_4C44)  // "HELD"
        rng.shuffle(&all)
        heldoutNumbers = all.prefix(heldCount).sorted()
        var mask = [Bool](repeating: false, count: trainRange.count)
        for n in heldoutNumbers { mask[n - trainRange.lowerBound] = true }
        heldoutMask = mask
        let lower = trainRange.lowerBound
        trainNumbers = trainRange.filter { !mask[$0 - lower] }
        records = Concept.allCases.map { Templates.records($0) }
        phrasings = records.map { $0.map { CompiledTemplate($0.text) } }
        grade1 = NumberSet(trainRange: trainRange, oodRange: oodRange, heldout: heldoutNumbers)
        let upper = (trainRange.upperBound + 1) * 10 - 1
        let train2 = trainRange.lowerBound...upper, ood2 = (upper + 1)...(upper + train2.count)
        var rest = Array((trainRange.upperBound + 1)...upper)
        var rng2 = SplitMix64(seed: config.seed).derived(0x4752_4432)  // "GRD2"
        rng2.shuffle(&rest)
        let held2 = Int((Double(rest.count) * config.heldoutFraction).rounded())
        grade2 = NumberSet(trainRange: train2, oodRange: ood2, heldout: heldoutNumbers + rest.prefix(held2))
        concepts = Concept.upTo(grade: config.grade)
    }

    /// Builds a generator after checking the config (one-line error).
    public init(validating config: LessonConfig) throws {
        try config.validate()
        self.init(config: config)
    }

    /// Whether `n` is one of the held-out numbers.
    public func isHeldout(_ n: Int) -> Bool {
        trainRange.contains(n) && heldoutMask[n - trainRange.lowerBound]
    }

    /// Whether a split can be generated with this config (the heldout split needs held-out
    /// numbers, the carry split a Grade 2 concept).
    public func canGenerate(_ split: Split) -> Bool {
        (split != .heldout || !heldoutNumbers.isEmpty) && !concepts(for: split).isEmpty
    }

    /// The generator's concepts that have questions in `split` (only Grade 2 has `carry`).
    public func concepts(for split: Split, among chosen: [Concept]? = nil) -> [Concept] {
        (chosen ?? concepts).filter { split != .carry || $0.hasCarrySplit }
    }

    // MARK: generation

    /// `count` questions of `split`, cycling through `concepts` (default: all) so that every concept
    /// gets the same number of questions (±1) and, per yes/no concept, as many yes as no (±1);
    /// the order is then shuffled.
    /// Concepts without questions in `split` (Grade 1 in `carry`) are left out; none left gives none.
    public func generate(split: Split, count: Int, concepts: [Concept]? = nil, rng: inout SplitMix64) -> [Question] {
        let concepts = self.concepts(for: split, among: concepts)
        if concepts.isEmpty && split == .carry { return [] }
        precondition(!concepts.isEmpty || count == 0, "generate needs at least one concept")
        var plan: [(Concept, Bool?)] = []
        plan.reserveCapacity(count)
        // Alternate the label per concept, each starting with its own coin so that odd counts favour
        // neither yes nor no and small batches mix both.
        let firstYes = concepts.map { _ in rng.coin() }
        for i in 0..<count {
            let slot = i % concepts.count
            let concept = concepts[slot]
            let round = i / concepts.count
            plan.append((concept, concept.isYesNo ? ((round % 2 == 0) == firstYes[slot]) : nil))
        }
        rng.shuffle(&plan)
        return plan.map { question(concept: $0.0, split: split, yes: $0.1, rng: &rng) }
    }

    /// One question of `concept` in `split`; the label of a yes/no concept is a fair coin.
    public func question(concept: Concept, split: Split, rng: inout SplitMix64) -> Question {
        question(concept: concept, split: split, yes: concept.isYesNo ? rng.coin() : nil, rng: &rng)
    }

    /// One question with a chosen label (`yes` is ignored for counting concepts).
    public func question(concept: Concept, split: Split, yes: Bool?, rng: inout SplitMix64) -> Question {
        precondition(split != .heldout || !heldoutNumbers.isEmpty, "the heldout split needs held-out numbers (heldoutFraction is 0)")
        precondition(split != .carry || concept.hasCarrySplit, "\(concept.rawValue) has no carry split")
        let pool = Pool(generator: self, split: split)
        let templateIndices = Templates.indices(for: split, concept: concept, holdout: config.templateHoldout)
        var template = rng.pick(templateIndices)
        let label = yes ?? rng.coin()
        var values: [Character: Int] = [:]
        let answer: Answer, operands: [Int]
        switch concept {
        case .skipCount:
            let (p, c, a) = sequence(split: split, rng: &rng)
            values = ["p": p, "c": c, "a": a]
            answer = .number(2 * a - c)
            operands = [p, c, a]
        case .placeValue:
            let (d, a, value) = placeValue(split: split, rng: &rng)
            values = ["c": d, "a": a]
            answer = .number(value)
            operands = [d, a]
        case .placeDigit:
            let (a, digit) = placeDigit(op: records[concept.index][template].program.op, split: split, rng: &rng)
            values = ["a": a]
            answer = .number(digit)
            operands = [a]
        case .compare:
            let (a, b) = comparePair(yes: label, split: split, rng: &rng)
            values = ["a": a, "b": b]
            answer = Answer(label)
            operands = [a, b]
        case .expandedForm:
            let (n, parts) = expandedForm(yes: label, split: split, rng: &rng)
            values = ["b": n, "a": parts[0], "m": parts[1], "c": parts[2]]
            answer = Answer(label)
            operands = [n] + parts
        case .oddEven:
            // The number's parity is a coin and the word asked follows from it and the label, so
            // neither the parity nor the word says yes (the held-out phrasings are not split evenly
            // between the two words; where a split has one word only, its parity follows the label).
            var even = rng.coin()
            let asked: ProgramRelation = even == label ? .even : .odd
            let withWord = templateIndices.filter { records[concept.index][$0].program.relation == asked }
            if withWord.isEmpty {
                even = (records[concept.index][template].program.relation == .even) == label
            } else {
                template = rng.pick(withWord)
            }
            let a = parityNumber(even: even, split: split, rng: &rng)
            values = ["a": a]
            answer = Answer(label)
            operands = [a]
        case .add, .subtract, .addSubCheck, .missingAddend, .wordProblem:
            let sketch = records[concept.index][template].program
            let plus = sketch.op == .add
            let (a, c) = arithmetic(plus: plus, split: split, rng: &rng)
            let result = plus ? a + c : a - c
            values = ["a": a, "c": c]
            if concept == .addSubCheck {
                let b = label ? result : wrongResult(a, c, plus: plus, split: split, rng: &rng)
                values["b"] = b
                answer = Answer(label)
                operands = [a, c, b]
            } else {
                answer = .number(result)
                operands = [a, c]
            }
        case .countAfter, .countBefore, .countBetween:
            let n = numberForCounting(concept, pool: pool, rng: &rng)
            values = ["n": n, "m": n + 2]
            switch concept {
            case .countAfter: answer = .number(n + 1); operands = [n]
            case .countBefore: answer = .number(n - 1); operands = [n]
            default: answer = .number(n + 1); operands = [n, n + 2]
            }
        case .equality:
            let expression = records[concept.index][template].expression ?? .successor
            let (n, m) = equality(expression, yes: label, pool: pool, rng: &rng)
            values = ["n": n, "k": n + 2, "m": m]
            answer = Answer(label)
            operands = expression == .between ? [n, n + 2, m] : [n, m]
        default:
            let (a, b) = relationPair(concept, yes: label, pool: pool, rng: &rng)
            values = ["a": a, "b": b]
            answer = Answer(label)
            operands = [a, b]
        }
        return render(concept: concept, template: template, values: values, answer: answer, operands: operands,
                      split: split, rng: &rng)
    }

    /// Fills a phrasing's slots, draws an opener and a tail (not on the fixed split, whose
    /// sentences stay exactly as earlier rounds had them), and resolves the worked solution.
    func render(concept: Concept, template: Int, values: [Character: Int], answer: Answer, operands: [Int],
                split: Split, rng: inout SplitMix64) -> Question {
        let compiled = phrasings[concept.index][template]
        var text = compiled.render { String(values[$0] ?? 0) }
        if split != .fixed {
            if rng.unit() < 0.3 { text = rng.pick(Grammar.openers) + text }
            if rng.unit() < 0.3 { text += rng.pick(concept.isYesNo ? Grammar.yesNoTails : Grammar.numberTails) }
        }
        let program = QuestionProgram(records[concept.index][template].program, order: compiled.slotOrder)
        return Question(text: text, answer: answer, concept: concept, operands: operands, split: split,
                        template: template, program: program)
    }

    // MARK: number pools

    /// Which numbers a split may use, and how to draw a starting number.
    struct Pool {
        let generator: NumberSet
        let split: Split
        let span: Int

        init(generator: LessonGenerator, split: Split) { self.init(numbers: generator.grade1, split: split) }

        init(numbers: NumberSet, split: Split) {
            self.generator = numbers
            self.split = split
            let range = split == .ood ? numbers.oodRange : numbers.trainRange
            span = range.upperBound - range.lowerBound
        }

        /// A starting number: a train number (train, phrasing), half the time a held-out number and
        /// otherwise any number of the train range (heldout), any number of the ood range (ood).
        @inline(__always)
        func sample(_ rng: inout SplitMix64) -> Int {
            switch split {
            case .train, .phrasing, .fixed, .carry: return rng.pick(generator.trainNumbers)
            case .heldout: return rng.coin() ? rng.pick(generator.heldoutNumbers) : rng.int(in: generator.trainRange)
            case .ood: return rng.int(in: generator.oodRange)
            }
        }

        /// Whether `n` may appear in a question of this split; records whether it is held out.
        @inline(__always)
        func allowed(_ n: Int, _ held: inout Bool) -> Bool {
            let g = generator
            switch split {
            case .train, .phrasing, .fixed, .carry:
                return g.trainRange.contains(n) && !g.heldoutMask[n - g.trainRange.lowerBound]
            case .heldout:
                guard g.trainRange.contains(n) else { return false }
                if g.heldoutMask[n - g.trainRange.lowerBound] { held = true }
                return true
            case .ood:
                return g.oodRange.contains(n)
            }
        }

        /// Whether every given number may appear in a question of this split (for the heldout
        /// split: all in the train range and at least one held out).
        @inline(__always)
        func accepts(_ a: Int, _ b: Int) -> Bool {
            var held = false
            guard allowed(a, &held), allowed(b, &held) else { return false }
            return split != .heldout || held
        }

        func accepts3(_ a: Int, _ b: Int, _ c: Int, _ d: Int? = nil) -> Bool {
            var held = false
            guard allowed(a, &held), allowed(b, &held), allowed(c, &held) else { return false }
            if let d, !allowed(d, &held) { return false }
            return split != .heldout || held
        }

        /// Whether a number the question makes the model compute (not shown) may be used: train and
        /// phrasing questions never compute a held-out number either.
        func allowsHidden(_ n: Int) -> Bool {
            var held = false
            return allowed(n, &held)
        }

        /// Every number a starting number could be (for the exhaustive fallback).
        var candidates: [Int] {
            switch split {
            case .train, .phrasing, .fixed, .carry: return generator.trainNumbers
            case .heldout: return Array(generator.trainRange)
            case .ood: return Array(generator.oodRange)
            }
        }
    }

    /// A distance with many values: a third 1–3, a third 4–12, a third anywhere in the range.
    @inline(__always)
    static func distance(span: Int, _ rng: inout SplitMix64) -> Int {
        switch rng.int(below: 3) {
        case 0: return rng.int(in: 1...3)
        case 1: return rng.int(in: 4...12)
        default: return rng.int(in: 1...max(1, span))
        }
    }

    private static let maxTries = 4000

    // MARK: pair relations

    func relationPair(_ concept: Concept, yes: Bool, pool: Pool, rng: inout SplitMix64) -> (Int, Int) {
        for _ in 0..<LessonGenerator.maxTries {
            guard let (a, b) = pair(concept, yes: yes, pool: pool, rng: &rng) else { continue }
            if concept.holds(a, b) == yes && pool.accepts(a, b) { return (a, b) }
        }
        // Tiny or odd ranges: search every pair from a random starting point.
        let candidates = pool.candidates
        let start = rng.int(below: candidates.count)
        let others = Array(min(pool.generator.trainRange.lowerBound, pool.generator.oodRange.lowerBound)...max(pool.generator.trainRange.upperBound, pool.generator.oodRange.upperBound))
        let offset = rng.int(below: others.count)
        for i in 0..<candidates.count {
            let a = candidates[(start + i) % candidates.count]
            for j in 0..<others.count {
                let b = others[(offset + j) % others.count]
                if concept.holds(a, b) == yes && pool.accepts(a, b) { return (a, b) }
            }
        }
        fatalError("cannot make a '\(yes ? "yes" : "no")' \(concept.rawValue) question for the \(pool.split.rawValue) split with these ranges")
    }

    /// One candidate pair for a relation with the wanted label (nil: try again).
    /// The caller re-checks the label and the split, so a candidate may miss either.
    func pair(_ concept: Concept, yes: Bool, pool: Pool, rng: inout SplitMix64) -> (Int, Int)? {
        let x = pool.sample(&rng)
        let span = pool.span
        let sign = rng.coin() ? 1 : -1
        switch concept {
        case .sameParity:
            // Same distance distribution for yes and no, nudged by one to the wanted parity; random side.
            if yes && rng.chance(0.05) { return (x, x) }
            var d = LessonGenerator.distance(span: span, &rng)
            if (d % 2 == 0) != yes { d += (d == 1 || rng.coin()) ? 1 : -1 }
            return (x, x + sign * d)

        case .successor, .predecessor, .add2:
            // yes: b = a+k (k = 1, -1, 2). no: 44% the mirror b = a-k (same distance, wrong side),
            // 52% the right side at another distance (many distances, k±1 included; some of these
            // fall outside the range and are redrawn, which evens the two out), 4% b = a or the
            // wrong side at another distance.
            let k = concept == .successor ? 1 : concept == .predecessor ? -1 : 2
            let dir = k > 0 ? 1 : -1
            if yes { return (x, x + k) }
            let r = rng.unit()
            if r < 0.44 { return (x, x - k) }
            if r < 0.96 {
                // Right side, distance != |k|: a third of the time adjacent to it (|k|±1), else spread.
                var d: Int
                if rng.chance(0.33) { d = abs(k) + (rng.coin() || abs(k) == 1 ? 1 : -1) } else { d = LessonGenerator.distance(span: span, &rng) }
                if d == abs(k) { d += 1 }
                return (x, x + dir * d)
            }
            if rng.coin() { return (x, x) }
            var d = LessonGenerator.distance(span: span, &rng)
            if d == abs(k) { d += 1 }
            return (x, x - dir * d)

        case .sameTens:
            let ones = x % 10, tens = (x / 10) % 10
            if yes {
                if rng.chance(0.05) { return (x, x) }
                if x >= 100 || span >= 100, rng.chance(0.3) {
                    // Same tens digit in another hundred.
                    let y = pool.sample(&rng)
                    return (x, (y / 100) * 100 + tens * 10 + rng.int(below: 10))
                }
                var o = rng.int(below: 9); if o >= ones { o += 1 }
                return (x, x - ones + o)
            }
            let r = rng.unit()
            if r < 0.5 {
                // Near miss: within 9 of a, just across a tens boundary (up when a's ones digit
                // allows, else down).
                let up = ones == 0 ? false : ones == 9 ? true : sign > 0
                return up ? (x, x + rng.int(in: (10 - ones)...9)) : (x, x - rng.int(in: (ones + 1)...9))
            }
            if r < 0.8 {
                // Same ones digit, another tens digit.
                return (x, x + sign * 10 * rng.int(in: 1...9))
            }
            return (x, pool.sample(&rng))

        case .sameOnes:
            let ones = x % 10
            if yes {
                if rng.chance(0.05) { return (x, x) }
                let k = rng.coin() ? rng.int(in: 1...9) : rng.int(in: 1...max(1, span / 10))
                return (x, x + sign * 10 * k)
            }
            let r = rng.unit()
            if r < 0.4 {
                // Near miss: same tens, another ones digit.
                var o = rng.int(below: 9); if o >= ones { o += 1 }
                return (x, x - ones + o)
            }
            if r < 0.7 {
                // Ones digits one apart, anywhere.
                let y = pool.sample(&rng)
                return (x, y - y % 10 + (ones + (rng.coin() ? 1 : 9)) % 10)
            }
            return (x, pool.sample(&rng))

        case .makesTen:
            let ones = x % 10
            let y = pool.sample(&rng)
            if yes {
                guard ones != 0 else { return nil }
                return (x, y - y % 10 + (10 - ones))
            }
            let r = rng.unit()
            if r < 0.4 {
                // Near miss: ones digits summing to 9 or 11.
                return (x, y - y % 10 + (10 - ones + (rng.coin() ? 1 : 9)) % 10)
            }
            if r < 0.55 {
                // Same ones digit.
                return (x, y - y % 10 + ones)
            }
            return (x, y)

        case .greater, .smaller:
            // yes and no share one distance distribution; no is 92% the other side, 8% b = a.
            if !yes && rng.chance(0.08) { return (x, x) }
            let d = LessonGenerator.distance(span: span, &rng)
            let aAbove = (concept == .greater) == yes
            let (lo, hi) = rng.coin() ? (x, x + d) : (x - d, x)
            return aAbove ? (hi, lo) : (lo, hi)

        default:
            return nil
        }
    }

    // MARK: counting and equality

    func numberForCounting(_ concept: Concept, pool: Pool, rng: inout SplitMix64) -> Int {
        for _ in 0..<LessonGenerator.maxTries {
            let n = pool.sample(&rng)
            if countingAccepts(concept, n, pool) { return n }
        }
        let candidates = pool.candidates
        let start = rng.int(below: candidates.count)
        for i in 0..<candidates.count {
            let n = candidates[(start + i) % candidates.count]
            if countingAccepts(concept, n, pool) { return n }
        }
        fatalError("cannot make a \(concept.rawValue) question for the \(pool.split.rawValue) split with these ranges")
    }

    private func countingAccepts(_ concept: Concept, _ n: Int, _ pool: Pool) -> Bool {
        switch concept {
        case .countAfter: return pool.accepts(n, n + 1)
        case .countBefore: return pool.accepts(n, n - 1)
        default: return pool.accepts3(n, n + 1, n + 2)
        }
    }

    /// An equality statement "f(n) = m" for the phrasing's expression f: yes: m = f(n). no: 60%
    /// m = f(n)±1 or ±2, 20% m = n, 20% m = f(n)±3..10.
    func equality(_ expression: Templates.Expression, yes: Bool, pool: Pool, rng: inout SplitMix64) -> (Int, Int) {
        let k: (Int) -> Int? = { expression == .between ? $0 + 2 : nil }
        for _ in 0..<LessonGenerator.maxTries {
            let n = pool.sample(&rng)
            let value = expression.value(n)
            var m = value
            if !yes {
                let r = rng.unit()
                if r < 0.6 { m = value + (rng.coin() ? 1 : -1) * rng.int(in: 1...2) }
                else if r < 0.8 { m = n }
                else { m = value + (rng.coin() ? 1 : -1) * rng.int(in: 3...10) }
            }
            if (m == value) == yes && pool.accepts3(n, m, k(n) ?? n) && pool.allowsHidden(value) { return (n, m) }
        }
        let candidates = pool.candidates
        let start = rng.int(below: candidates.count)
        for i in 0..<candidates.count {
            let n = candidates[(start + i) % candidates.count]
            let value = expression.value(n)
            for m in [value, value + 1, value - 1, value + 2, value - 2, n] where (m == value) == yes {
                if pool.accepts3(n, m, k(n) ?? n) && pool.allowsHidden(value) { return (n, m) }
            }
        }
        fatalError("cannot make a '\(yes ? "yes" : "no")' equality question for the \(pool.split.rawValue) split with these ranges")
    }
}
