import Foundation
@testable import Curriculum

/// An answer key written independently of the generator: it reads a question's text with its own
/// patterns (one per phrasing, slots named by their role in the concept's definition), pulls the
/// numbers back out, and computes the answer from the concept's definition.
enum Oracle {
    struct Reading {
        var answer: Answer
        var operands: [Int]
        /// Whether the phrasing is one of the held-out ones.
        var heldoutPhrasing: Bool
    }

    // "<a>" etc. become number captures; "!" marks a held-out phrasing. For count_between, <n> is
    // the lower number and <m> = n+2, so the order the two are named in tells apart phrasings that
    // differ only in it ("in the middle of 5 and 7" is a train phrasing, "of 7 and 5" a held-out one).
    static let sentences: [Concept: [String]] = [
        .sameParity: [
            "are <a> and <b> both even or both odd?",
            "do <a> and <b> have the same parity?",
            "are <a> and <b> the same kind of number, even or odd?",
            "do <b> and <a> have the same parity?",
            "is <a> odd exactly when <b> is odd?",
            "!is the parity of <a> the same as the parity of <b>?",
            "!are <b> and <a> both odd or both even?",
        ],
        .successor: [
            "is <b> the successor of <a>?",
            "does <b> come right after <a>?",
            "is <b> one more than <a>?",
            "is <a> followed by <b> when counting?",
            "is <b> the next number after <a>?",
            "does <b> follow <a> when counting?",
            "is <b> equal to <a> plus one?",
            "!does <a> come right before <b>?",
            "!is <b> the number right after <a>?",
        ],
        .predecessor: [
            "is <b> the predecessor of <a>?",
            "does <b> come right before <a>?",
            "is <b> one less than <a>?",
            "is <a> right after <b> when counting?",
            "is <b> the number that comes before <a>?",
            "does <a> follow <b> when counting?",
            "is <b> equal to <a> minus one?",
            "!does <a> come right after <b>?",
            "!is <b> the number right before <a>?",
        ],
        .add2: [
            "is <b> two more than <a>?",
            "if you add two to <a>, do you get <b>?",
            "is <a> plus two equal to <b>?",
            "does <b> come two steps after <a>?",
            "is <a> plus two the same as <b>?",
            "do you get <b> if you add two to <a>?",
            "is <a> two before <b> when counting?",
            "is <b> the number two after <a>?",
            "is <a> equal to <b> minus two?",
            "!is <b> equal to <a> plus two?",
            "!is <a> two less than <b>?",
        ],
        .sameTens: [
            "do <a> and <b> have the same tens digit?",
            "is the tens digit of <a> the same as the tens digit of <b>?",
            "is the tens digit of <b> equal to the tens digit of <a>?",
            "do <b> and <a> share the same tens digit?",
            "do the tens digits of <b> and <a> match?",
            "do <a> and <b> have equal tens digits?",
            "is the tens digit the same in <a> and <b>?",
            "!are the tens digits of <a> and <b> the same?",
            "!does <a> have the same tens digit as <b>?",
        ],
        .sameOnes: [
            "do <a> and <b> have the same ones digit?",
            "is the ones digit of <a> the same as the ones digit of <b>?",
            "do <a> and <b> end in the same digit?",
            "do <b> and <a> share the same ones digit?",
            "do the ones digits of <b> and <a> match?",
            "do <a> and <b> have equal ones digits?",
            "is the ones digit the same in <a> and <b>?",
            "!are the ones digits of <a> and <b> the same?",
            "!does <b> end in the same digit as <a>?",
        ],
        .makesTen: [
            "do the ones digits of <a> and <b> add up to ten?",
            "do the ones digits of <a> and <b> make ten?",
            "is the ones digit of <a> plus the ones digit of <b> equal to ten?",
            "do the ones digits of <b> and <a> make ten together?",
            "is ten the sum of the ones digits of <a> and <b>?",
            "do the ones digits of <b> and <a> add up to ten?",
            "!if you add the ones digits of <a> and <b>, do you get ten?",
            "!do the ones digits of <b> and <a> together make ten?",
        ],
        .greater: [
            "is <a> greater than <b>?",
            "is <a> bigger than <b>?",
            "is <b> less than <a>?",
            "is <a> more than <b>?",
            "is <a> larger than <b>?",
            "is <a> higher than <b>?",
            "!is <b> smaller than <a>?",
            "!is <b> lower than <a>?",
        ],
        .smaller: [
            "is <a> less than <b>?",
            "is <a> smaller than <b>?",
            "is <b> greater than <a>?",
            "is <a> lower than <b>?",
            "is <b> larger than <a>?",
            "is <b> higher than <a>?",
            "!is <b> bigger than <a>?",
            "!is <b> more than <a>?",
        ],
        .equality: [
            "is <X> equal to <m>?",
            "does <X> equal <m>?",
            "is <m> equal to <X>?",
            "is <X> the same as <m>?",
            "is <X> the same number as <m>?",
            "!is <m> the same as <X>?",
            "!does <m> equal <X>?",
        ],
        .countAfter: [
            "what comes after <n>?",
            "what number comes right after <n>?",
            "what is the successor of <n>?",
            "what is one more than <n>?",
            "which number is the successor of <n>?",
            "what is the number after <n>?",
            "which number follows <n>?",
            "!which number comes right after <n>?",
            "!what number is one more than <n>?",
        ],
        .countBefore: [
            "what comes before <n>?",
            "what number comes right before <n>?",
            "what is the predecessor of <n>?",
            "what is one less than <n>?",
            "which number is the predecessor of <n>?",
            "what is the number before <n>?",
            "which number does <n> follow?",
            "!which number comes right before <n>?",
            "!what number is one less than <n>?",
        ],
        .countBetween: [
            "what number is between <n> and <m>?",
            "what comes between <n> and <m>?",
            "which number is between <m> and <n>?",
            "what number is in the middle of <n> and <m>?",
            "what number is between <m> and <n>?",
            "what comes between <m> and <n>?",
            "which number is between <n> and <m>?",
            "which number is in the middle of <n> and <m>?",
            "!which number comes between <n> and <m>?",
            "!what number is in the middle of <m> and <n>?",
        ],
    ]

    /// Equality expressions: pattern and value.
    nonisolated(unsafe) static let expressions: [(String, ([Int]) -> Int?)] = [
        ("the successor of <n>", { $0[0] + 1 }),
        ("the predecessor of <n>", { $0[0] - 1 }),
        ("the number after <n>", { $0[0] + 1 }),
        ("the number before <n>", { $0[0] - 1 }),
        ("two more than <n>", { $0[0] + 2 }),
        ("the number between <n> and <k>", { abs($0[0] - $0[1]) == 2 ? min($0[0], $0[1]) + 1 : nil }),
    ]

    struct Compiled {
        let regex: NSRegularExpression
        let names: [String]
        let heldout: Bool
    }

    static func compile(_ sentence: String, wholeLine: Bool = true) -> Compiled {
        var s = sentence
        let heldout = s.hasPrefix("!")
        if heldout { s.removeFirst() }
        var pattern = NSRegularExpression.escapedPattern(for: s)
        var names: [String] = []
        for name in ["a", "b", "n", "m", "k", "X"] {
            let slot = NSRegularExpression.escapedPattern(for: "<\(name)>")
            if pattern.contains(slot) {
                pattern = pattern.replacingOccurrences(of: slot, with: name == "X" ? "(?<X>.+)" : "(?<\(name)>[0-9]+)")
                names.append(name)
            }
        }
        if wholeLine { pattern = "^" + pattern + "$" }
        return Compiled(regex: try! NSRegularExpression(pattern: pattern, options: [.caseInsensitive]), names: names, heldout: heldout)
    }

    static let compiled: [Concept: [Compiled]] = sentences.mapValues { $0.map { compile($0) } }
    nonisolated(unsafe) static let compiledExpressions: [(Compiled, ([Int]) -> Int?)] = expressions.map { (compile($0.0), $0.1) }

    static func captures(_ c: Compiled, _ text: String) -> [String: String]? {
        let ns = text as NSString
        guard let m = c.regex.firstMatch(in: text, range: NSRange(location: 0, length: ns.length)) else { return nil }
        var out: [String: String] = [:]
        for name in c.names {
            let r = m.range(withName: name)
            if r.location != NSNotFound { out[name] = ns.substring(with: r) }
        }
        return out
    }

    /// Every reading of the text under its concept's phrasings (normally exactly one).
    static func readings(_ text: String, concept: Concept) -> [Reading] {
        var out: [Reading] = []
        for c in compiled[concept] ?? [] {
            guard let caps = captures(c, text) else { continue }
            let v = caps.compactMapValues { Int($0) }
            switch concept {
            case .equality:
                guard let x = caps["X"], let m = v["m"] else { continue }
                for (e, value) in compiledExpressions {
                    guard let ecaps = captures(e, x) else { continue }
                    let n = Int(ecaps["n"]!)!
                    let k = ecaps["k"].flatMap { Int($0) }
                    guard let val = value(k == nil ? [n] : [n, k!]) else { continue }
                    out.append(Reading(answer: val == m ? .yes : .no, operands: k == nil ? [n, m] : [n, k!, m], heldoutPhrasing: c.heldout))
                }
            case .countAfter:
                out.append(Reading(answer: .number(v["n"]! + 1), operands: [v["n"]!], heldoutPhrasing: c.heldout))
            case .countBefore:
                out.append(Reading(answer: .number(v["n"]! - 1), operands: [v["n"]!], heldoutPhrasing: c.heldout))
            case .countBetween:
                let n = v["n"]!, m = v["m"]!
                guard m == n + 2 else { continue }
                out.append(Reading(answer: .number(n + 1), operands: [n, m], heldoutPhrasing: c.heldout))
            default:
                let a = v["a"]!, b = v["b"]!
                let truth: Bool
                switch concept {
                case .sameParity: truth = a % 2 == b % 2
                case .successor: truth = a + 1 == b
                case .predecessor: truth = a - 1 == b
                case .add2: truth = a + 2 == b
                case .sameTens: truth = (a / 10) % 10 == (b / 10) % 10
                case .sameOnes: truth = a % 10 == b % 10
                case .makesTen: truth = (a % 10) + (b % 10) == 10
                case .greater: truth = a > b
                case .smaller: truth = b > a
                default: continue
                }
                out.append(Reading(answer: truth ? .yes : .no, operands: [a, b], heldoutPhrasing: c.heldout))
            }
        }
        return out
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
