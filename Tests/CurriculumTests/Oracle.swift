import Foundation
@testable import Curriculum

/// An answer key: it finds the phrasing a question's text was rendered from (by its shape, with
/// openers and tails taken off), binds the numbers to the phrasing's slots, and computes the answer
/// twice, independently of the generator's own arithmetic: from the concept's definition on the
/// bound operands, and by running the phrasing's worked solution. Both must agree with the
/// generator, so a wrong answer or a wrong worked solution fails the tests.
enum Oracle {
    struct Reading {
        var answer: Answer
        /// The answer the phrasing's worked solution gives (nil when it gives no value).
        var programAnswer: Answer?
        var operands: [Int]
        /// Whether the phrasing is held out (systematic or fixed).
        var heldoutPhrasing: Bool
    }

    /// Each concept's phrasings by shape.
    static let shapes: [[String: [Phrasing]]] = Concept.allCases.map { Dictionary(grouping: Templates.records($0), by: \.shape) }

    /// The text without an opener or a tail, its numbers, and its shape.
    static func core(_ text: String) -> (shape: String, numbers: [Int]) {
        var t = text
        for o in Grammar.openers where t.hasPrefix(o) { t.removeFirst(o.count) }
        for tail in Grammar.yesNoTails + Grammar.numberTails where t.hasSuffix(tail) { t.removeLast(tail.count) }
        var blanked = "", inNumber = false
        for ch in t {
            if ch.isASCII && ch.isNumber { if !inNumber { blanked += "{0}" }; inNumber = true } else { blanked.append(ch); inNumber = false }
        }
        return (Grammar.shape(blanked), numbers(in: t))
    }

    static func apply(_ op: ProgramOp, _ x: Int, others: [Int], second: Int? = nil) -> Int? {
        switch op {
        case .add: return second.map { x + $0 }
        case .subtract: return second.flatMap { x - $0 >= 0 ? x - $0 : nil }
        case .nextTerm: return second.flatMap { 2 * x - $0 >= 0 ? 2 * x - $0 : nil }
        case .placeValue:
            guard let d = second, (1...9).contains(d) else { return nil }
            let digits = String(x).map { Int(String($0))! }
            guard let i = digits.firstIndex(of: d) else { return nil }
            return d * Int(pow(10.0, Double(digits.count - 1 - i)))
        case .total: return nil  // reads a run of numbers: `readings` adds it up
        case .onesDigit: return x % 10
        case .tensDigit: return (x / 10) % 10
        case .hundredsDigit: return (x / 100) % 10
        case .identity: return x
        case .successor: return x + 1
        case .predecessor: return x - 1
        case .add2: return x + 2
        case .subtract2: return x - 2
        case .between: return others.contains(x + 2) ? x + 1 : others.contains(x - 2) ? x - 1 : nil
        }
    }

    static func relate(_ r: ProgramRelation, _ x: Int, _ y: Int) -> Bool {
        switch r {
        case .equal: return x == y
        case .greater: return x > y
        case .smaller: return x < y
        case .sameParity: return x % 2 == y % 2
        case .sameTens: return (x / 10) % 10 == (y / 10) % 10
        case .sameOnes: return x % 10 == y % 10
        case .makesTen: return x % 10 + y % 10 == 10
        case .even: return x % 2 == 0
        case .odd: return x % 2 == 1
        }
    }

    /// Every reading of the text under its concept's phrasings (normally exactly one).
    static func readings(_ text: String, concept: Concept) -> [Reading] {
        let (shape, nums) = core(text)
        var out: [Reading] = []
        for record in shapes[concept.index][shape] ?? [] {
            let order = CompiledTemplate(record.text).slotOrder
            guard order.count == nums.count else { continue }
            var v: [Character: Int] = [:]
            for (letter, n) in zip(order, nums) { v[letter] = n }
            let p = record.program
            var programAnswer: Answer? = nil
            var total: Int? = nil
            if p.op == .total, let from = order.firstIndex(of: p.a), let c = p.c, let to = order.firstIndex(of: c), from < to {
                total = nums[from...to].reduce(0, +)
            }
            if let x = v[p.a], let value = total ?? apply(p.op, x, others: nums, second: p.c.flatMap { v[$0] }) {
                if let r = p.relation, let bl = p.b, let y = v[bl] { programAnswer = Answer(relate(r, value, y)) }
                else if let r = p.relation, r == .even || r == .odd { programAnswer = Answer(relate(r, value, 0)) }
                else if p.relation == nil { programAnswer = .number(value) }
            }
            let held = record.kind != .train
            switch concept {
            case .equality:
                guard let n = v["n"], let m = v["m"] else { continue }
                let k = v["k"]
                let value: Int? = k.map { abs($0 - n) == 2 ? min(n, $0) + 1 : nil } ?? {
                    let t = record.text
                    if t.contains("two more") || t.contains("plus two") { return n + 2 }
                    if t.contains("two less") { return n - 2 }
                    if t.contains("successor") || t.contains("after") || t.contains("plus one") || t.contains("one more") { return n + 1 }
                    return n - 1
                }()
                guard let value else { continue }
                out.append(Reading(answer: Answer(value == m), programAnswer: programAnswer,
                                   operands: k == nil ? [n, m] : [n, k!, m], heldoutPhrasing: held))
            case .countAfter:
                out.append(Reading(answer: .number(v["n"]! + 1), programAnswer: programAnswer, operands: [v["n"]!], heldoutPhrasing: held))
            case .countBefore:
                out.append(Reading(answer: .number(v["n"]! - 1), programAnswer: programAnswer, operands: [v["n"]!], heldoutPhrasing: held))
            case .countBetween:
                let n = v["n"]!, m = v["m"]!
                guard m == n + 2 else { continue }
                out.append(Reading(answer: .number(n + 1), programAnswer: programAnswer, operands: [n, m], heldoutPhrasing: held))
            case .skipCount:
                guard let p = v["p"], let c = v["c"], let a = v["a"], c - p == a - c, 2 * a - c >= 0 else { continue }
                out.append(Reading(answer: .number(2 * a - c), programAnswer: programAnswer, operands: [p, c, a], heldoutPhrasing: held))
            case .placeValue:
                guard let d = v["c"], let a = v["a"] else { continue }
                let digits = String(a).compactMap { $0.wholeNumberValue }
                guard digits.filter({ $0 == d }).count == 1, let i = digits.firstIndex(of: d) else { continue }
                let value = d * Int(pow(10.0, Double(digits.count - 1 - i)))
                out.append(Reading(answer: .number(value), programAnswer: programAnswer, operands: [d, a], heldoutPhrasing: held))
            case .placeDigit:
                // From the words: the place the sentence names.
                guard let a = v["a"] else { continue }
                let t = record.text
                let place = t.contains("hundreds") ? 100 : t.contains("tens") ? 10 : t.contains("ones") ? 1 : 0
                guard place > 0 else { continue }
                out.append(Reading(answer: .number((a / place) % 10), programAnswer: programAnswer, operands: [a], heldoutPhrasing: held))
            case .expandedForm:
                guard let n = v["b"], let x = v["a"], let y = v["m"], let z = v["c"] else { continue }
                out.append(Reading(answer: Answer(x + y + z == n), programAnswer: programAnswer, operands: [n, x, y, z],
                                   heldoutPhrasing: held))
            case .oddEven:
                guard let a = v["a"] else { continue }
                let t = record.text
                guard t.contains("even") != t.contains("odd") else { continue }
                out.append(Reading(answer: Answer((a % 2 == 0) == t.contains("even")), programAnswer: programAnswer, operands: [a],
                                   heldoutPhrasing: held))
            case .add, .subtract, .missingAddend, .wordProblem, .addSubCheck:
                // From the words, not the phrasing's program: which operation the sentence names.
                guard let a = v["a"], let c = v["c"] else { continue }
                let plus = concept == .add || (concept == .addSubCheck || concept == .wordProblem) && names(plusIn: record.text)
                let value = plus ? a + c : a - c
                guard value >= 0 else { continue }
                if concept == .addSubCheck {
                    guard let b = v["b"] else { continue }
                    out.append(Reading(answer: Answer(value == b), programAnswer: programAnswer, operands: [a, c, b], heldoutPhrasing: held))
                } else {
                    out.append(Reading(answer: .number(value), programAnswer: programAnswer, operands: [a, c], heldoutPhrasing: held))
                }
            default:
                let a = v["a"]!, b = v["b"]!
                guard let truth = concept.holds(a, b) else { continue }
                out.append(Reading(answer: Answer(truth), programAnswer: programAnswer, operands: [a, b], heldoutPhrasing: held))
            }
        }
        return out
    }

    /// Whether a Grade 2 sentence names an addition (else a subtraction), from its words.
    static func names(plusIn text: String) -> Bool {
        let t = text.lowercased()
        for w in ["minus", "take", "took", "subtract", "difference", "less", "back", "gives away", "lost", "uses", "sold", "left"]
            where t.contains(w) { return false }
        return true
    }

    /// The reading of a generated question: the one whose operands match the question's (symmetric
    /// relations have phrasings that name a and b in either order), else the first.
    static func reading(_ q: Question) -> Reading? {
        let all = readings(q.text, concept: q.concept)
        return all.first { $0.operands == q.operands } ?? all.first
    }

    /// Every number written in a text, in order.
    static func numbers(in text: String) -> [Int] {
        var out: [Int] = []
        var current = ""
        for ch in text {
            if ch.isASCII && ch.isNumber { current.append(ch) } else if !current.isEmpty { out.append(Int(current)!); current = "" }
        }
        if !current.isEmpty { out.append(Int(current)!) }
        return out
    }

    /// The numbers of a question: those in its text and a number answer.
    static func allNumbers(_ q: Question) -> [Int] {
        numbers(in: q.text) + (q.answer.number.map { [$0] } ?? [])
    }
}

/// A seed that differs per run (printed in failure messages so a failure can be replayed).
func freshSeed() -> UInt64 {
    if let env = ProcessInfo.processInfo.environment["CURRICULUM_TEST_SEED"], let s = UInt64(env) { return s }
    return UInt64.random(in: 0...UInt64.max)
}
