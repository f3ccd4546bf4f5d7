import Curriculum
import Foundation

/// The diagnostic suite: accuracy per concept and *category* of question, so a weakness shows as
/// a cell ("same_tens, tens boundary: 0.81") and not as one number per concept (Docs/COURSES.md).
///
/// Number categories: close (|a−b| ≤ 1) and far (≥ 10) pairs, equal operands, a tens or hundreds
/// boundary crossed by the answer or held by an operand, digits 0 and 9, out-of-range numbers.
/// Grade 2 arithmetic: whether the ones regroup, a carry or borrow across the hundreds, a 10 or 100
/// step, adding or subtracting. Grade 2 numbers to 1000: the place asked and a place above the
/// number's top digit; comparisons of numbers with the same hundreds digit or the same digits
/// reordered; parity asked as even or odd of an even or odd number.
/// Phrasing categories: the construction family (frame), operand order (whether the worked
/// solution's A is the first number named), number-first vs expression-first sentences, and
/// held-out phrasings.
public enum Diagnostics {
    /// Cells with fewer questions than this are reported as too small to mean anything.
    public static let minCellSize = 30

    /// Categories train questions can fill, so the focus loop can practise them.
    public static func isTrainable(_ category: String) -> Bool {
        !["out_of_range", "heldout_phrasing", "hundreds_boundary", "regroup_hundreds"].contains(category)
    }

    /// Every category a question falls in.
    public static func categories(_ q: Question) -> [String] {
        var out: [String] = []
        let o = q.operands
        if q.split == .ood { out.append("out_of_range") }
        if o.contains(where: { String($0).contains("0") || String($0).contains("9") }) { out.append("zeros_nines") }
        switch q.concept {
        case .countAfter, .countBefore, .countBetween:
            if let n = o.first {
                let answer: Int = q.concept == .countBefore ? n - 1 : n + 1
                // The answer's tens (or hundreds) differ from the number asked about.
                if answer / 10 != n / 10 { out.append("tens_boundary") }
                if answer / 100 != n / 100 { out.append("hundreds_boundary") }
            }
        case .skipCount:
            if o.count == 3 {
                let step = o[2] - o[1]
                out.append("step_\(abs(step))")
                out.append(step > 0 ? "counts_up" : "counts_down")
                if LessonGenerator.crossesHundreds(o[2], abs(step), plus: step > 0) { out.append("regroup_hundreds") }
            }
        case .placeValue:
            if o.count == 2, let i = String(o[1]).firstIndex(of: Character(String(o[0]))) {
                let place = String(o[1]).distance(from: i, to: String(o[1]).endIndex) - 1
                out.append(["ones", "tens", "hundreds", "thousands"][min(place, 3)] + "_place")
            }
        case .placeDigit:
            if let a = o.first, let op = q.program?.op {
                let place = op.rawValue - ProgramOp.onesDigit.rawValue
                out.append(["ones", "tens", "hundreds"][max(0, min(place, 2))] + "_asked")
                if String(a).count <= place { out.append("above_top_digit") }
                if Set(String(a)).count != String(a).count { out.append("repeated_digits") }
            }
        case .compare:
            if o.count == 2 {
                let (a, b) = (o[0], o[1]), d = abs(a - b)
                if d == 0 { out.append("equal_operands") } else if d <= 1 { out.append("close") } else if d >= 10 { out.append("far") }
                if a != b && a / 100 == b / 100 { out.append("same_hundreds") }
                if a != b && String(a).sorted() == String(b).sorted() { out.append("same_digits_reordered") }
                if String(a).count != String(b).count { out.append("different_lengths") }
            }
        case .expandedForm:
            if o.count == 4 {
                let n = o[0], parts = Array(o[1...])
                let canonical = parts.sorted(by: >) == [n / 1000 * 1000, n / 100 % 10 * 100, n / 10 % 10 * 10, n % 10].filter { $0 != 0 }
                if canonical { out.append(parts == parts.sorted(by: >) ? "places_in_order" : "places_reordered") }
                else if parts.reduce(0, +) == n { out.append("regrouped") }
                else { out.append("wrong_parts") }
            }
        case .oddEven:
            if let a = o.first {
                out.append(a % 2 == 0 ? "even_number" : "odd_number")
                if let relation = q.program?.relation { out.append(relation == .even ? "asks_even" : "asks_odd") }
                if a < 100 { out.append("below_100") }
            }
        case .add, .subtract, .addSubCheck, .missingAddend, .wordProblem:
            // The column method's categories: which places carry or borrow.
            if o.count >= 2, let program = q.program {
                let a = o[0], c = o[1], plus = program.op == .add
                let onesRegroup = plus ? a % 10 + c % 10 >= 10 : a % 10 < c % 10
                out.append(onesRegroup ? "regroup_ones" : "no_regroup_ones")
                if LessonGenerator.crossesHundreds(a, c, plus: plus) { out.append("regroup_hundreds") }
                if c == 10 || c == 100 { out.append("tens_hundreds_step") }
                out.append(plus ? "adds" : "subtracts")
            }
        default:
            if o.count >= 2, let a = o.first, let b = o.last {
                let d = abs(a - b)
                if d == 0 { out.append("equal_operands") } else if d <= 1 { out.append("close") } else if d >= 10 { out.append("far") }
                if a / 10 != b / 10 && d <= 2 { out.append("tens_boundary") }
                if a / 100 != b / 100 { out.append("hundreds_boundary") }
            }
        }
        let records = Templates.records(q.concept)
        if q.template >= 0 && q.template < records.count {
            let p = records[q.template]
            out.append("frame:" + p.frame)
            if p.kind != .train { out.append("heldout_phrasing") }
            let before = p.text.prefix(while: { $0 != "{" }).split(separator: " ").count
            out.append(before <= 1 ? "number_first" : "expression_first")
        }
        if let program = q.program { out.append(program.a == 0 ? "a_first" : "a_second") }
        return out
    }

    /// One cell's score.
    public struct Cell: Codable, Equatable, Sendable {
        public var concept: String
        public var category: String
        public var correct: Int
        public var total: Int
        public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

        enum CodingKeys: String, CodingKey { case concept, category, correct, total, accuracy }
        public init(concept: String, category: String, correct: Int, total: Int) {
            self.concept = concept; self.category = category; self.correct = correct; self.total = total
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            concept = try c.decode(String.self, forKey: .concept); category = try c.decode(String.self, forKey: .category)
            correct = try c.decode(Int.self, forKey: .correct); total = try c.decode(Int.self, forKey: .total)
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(concept, forKey: .concept); try c.encode(category, forKey: .category)
            try c.encode(correct, forKey: .correct); try c.encode(total, forKey: .total); try c.encode(accuracy, forKey: .accuracy)
        }
    }

    /// The questions of a diagnosis: per concept, `perConcept` from each of held-out numbers,
    /// held-out phrasings and out-of-range numbers (a seed of its own, never the train stream).
    public static func questions(generator: LessonGenerator, concepts: [Concept], perConcept: Int, seed: UInt64) -> [Question] {
        var out: [Question] = []
        for (i, split) in [Split.heldout, .phrasing, .ood].enumerated() where generator.canGenerate(split) {
            var rng = SplitMix64(seed: seed ^ 0x4449_4147_0000_0000 ^ UInt64(i))  // "DIAG"
            out += generator.generate(split: split, count: perConcept * concepts.count, concepts: concepts, rng: &rng)
        }
        return out
    }

    /// Scores questions into cells (a question counts in each of its categories), weakest first;
    /// cells under `minCellSize` are left out.
    public static func cells(_ scored: [ScoredQuestion]) -> [Cell] {
        var tallies: [String: (String, String, Tally)] = [:]
        for s in scored {
            for category in categories(s.question) {
                let key = s.question.concept.rawValue + "#" + category
                var entry = tallies[key] ?? (s.question.concept.rawValue, category, Tally())
                entry.2.add(s.correct)
                tallies[key] = entry
            }
        }
        return tallies.values.filter { $0.2.total >= minCellSize }
            .map { Cell(concept: $0.0, category: $0.1, correct: $0.2.correct, total: $0.2.total) }
            .sorted { ($0.accuracy, $0.concept, $0.category) < ($1.accuracy, $1.concept, $1.category) }
    }

    /// The cells under `bar` the focus loop can practise, weakest first, at most `limit`.
    public static func focusCells(_ cells: [Cell], bar: Double, limit: Int = 4) -> [Cell] {
        Array(cells.filter { $0.accuracy < bar && isTrainable($0.category) }.prefix(limit))
    }

    /// A table: one line per concept, its weakest cells.
    public static func text(_ cells: [Cell], perConcept shown: Int = 4) -> String {
        var out = "diagnostics (accuracy per concept and category, weakest first; cells of \(minCellSize)+ questions):\n"
        for concept in Concept.allCases.map(\.rawValue) {
            let mine = cells.filter { $0.concept == concept }
            guard !mine.isEmpty else { continue }
            let parts = mine.prefix(shown).map { String(format: "%@ %.3f (%d)", $0.category as NSString, $0.accuracy, $0.total) }
            out += "  " + concept.padding(toLength: 15, withPad: " ", startingAt: 0) + parts.joined(separator: "  ") + "\n"
        }
        return out
    }
}
