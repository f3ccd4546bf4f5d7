/// The phrasings of every Grade 1 concept.
///
/// Each concept has five to eight train phrasings followed by two held-out ones (the last two,
/// used only by the `phrasing` split while `templateHoldout` is on). The train set varies word
/// order and wording on purpose: with four phrasings a word such as "which" occurred only in
/// count_between and the model took it as the cue for that concept (Docs/RESULTS.md). The held-out set is fixed, not
/// seeded, so reports from different runs compare like with like.
///
/// A held-out phrasing is a new arrangement of known words: every word of it occurs in some train
/// phrasing (the first four of any concept, or an equality expression). A word training never shows
/// has an untrained embedding and tells the model nothing, so a decisive unseen word ("larger" for
/// "smaller") would make a question unanswerable in principle. The tests check this.
///
/// Slots: `{a}`, `{b}` for the pair relations (in the order of the concept's definition, whatever
/// order the sentence names them in); `{n}`, `{m}` for counting; equality sentences are a frame with
/// `{X}` (an expression such as "the successor of {n}") and `{m}` (the number it is compared with).
public enum Templates {
    /// How many phrasings per concept are held out when `templateHoldout` is on (the last ones).
    public static let heldoutCount = 2

    /// Phrasings per concept (for `.equality`, the frames).
    public static func phrasings(_ concept: Concept) -> [String] {
        switch concept {
        case .sameParity: return [
            "Are {a} and {b} both even or both odd?",
            "Do {a} and {b} have the same parity?",
            "Are {a} and {b} the same kind of number, even or odd?",
            "Do {b} and {a} have the same parity?",
            "Is {a} odd exactly when {b} is odd?",
            "Is the parity of {a} the same as the parity of {b}?",
            "Are {b} and {a} both odd or both even?",
        ]
        case .successor: return [
            "Is {b} the successor of {a}?",
            "Does {b} come right after {a}?",
            "Is {b} one more than {a}?",
            "Is {a} followed by {b} when counting?",
            "Is {b} the next number after {a}?",
            "Does {b} follow {a} when counting?",
            "Is {b} equal to {a} plus one?",
            "Does {a} come right before {b}?",
            "Is {b} the number right after {a}?",
        ]
        case .predecessor: return [
            "Is {b} the predecessor of {a}?",
            "Does {b} come right before {a}?",
            "Is {b} one less than {a}?",
            "Is {a} right after {b} when counting?",
            "Is {b} the number that comes before {a}?",
            "Does {a} follow {b} when counting?",
            "Is {b} equal to {a} minus one?",
            "Does {a} come right after {b}?",
            "Is {b} the number right before {a}?",
        ]
        case .add2: return [
            "Is {b} two more than {a}?",
            "If you add two to {a}, do you get {b}?",
            "Is {a} plus two equal to {b}?",
            "Does {b} come two steps after {a}?",
            "Is {a} plus two the same as {b}?",
            "Do you get {b} if you add two to {a}?",
            "Is {a} two before {b} when counting?",
            "Is {b} the number two after {a}?",
            "Is {a} equal to {b} minus two?",
            "Is {b} equal to {a} plus two?",
            "Is {a} two less than {b}?",
        ]
        case .sameTens: return [
            "Do {a} and {b} have the same tens digit?",
            "Is the tens digit of {a} the same as the tens digit of {b}?",
            "Is the tens digit of {b} equal to the tens digit of {a}?",
            "Do {b} and {a} share the same tens digit?",
            "Do the tens digits of {b} and {a} match?",
            "Do {a} and {b} have equal tens digits?",
            "Is the tens digit the same in {a} and {b}?",
            "Are the tens digits of {a} and {b} the same?",
            "Does {a} have the same tens digit as {b}?",
        ]
        case .sameOnes: return [
            "Do {a} and {b} have the same ones digit?",
            "Is the ones digit of {a} the same as the ones digit of {b}?",
            "Do {a} and {b} end in the same digit?",
            "Do {b} and {a} share the same ones digit?",
            "Do the ones digits of {b} and {a} match?",
            "Do {a} and {b} have equal ones digits?",
            "Is the ones digit the same in {a} and {b}?",
            "Are the ones digits of {a} and {b} the same?",
            "Does {b} end in the same digit as {a}?",
        ]
        case .makesTen: return [
            "Do the ones digits of {a} and {b} add up to ten?",
            "Do the ones digits of {a} and {b} make ten?",
            "Is the ones digit of {a} plus the ones digit of {b} equal to ten?",
            "Do the ones digits of {b} and {a} make ten together?",
            "Is ten the sum of the ones digits of {a} and {b}?",
            "Do the ones digits of {b} and {a} add up to ten?",
            "If you add the ones digits of {a} and {b}, do you get ten?",
            "Do the ones digits of {b} and {a} together make ten?",
        ]
        case .greater: return [
            "Is {a} greater than {b}?",
            "Is {a} bigger than {b}?",
            "Is {b} less than {a}?",
            "Is {a} more than {b}?",
            "Is {a} larger than {b}?",
            "Is {a} higher than {b}?",
            "Is {b} smaller than {a}?",
            "Is {b} lower than {a}?",
        ]
        case .smaller: return [
            "Is {a} less than {b}?",
            "Is {a} smaller than {b}?",
            "Is {b} greater than {a}?",
            "Is {a} lower than {b}?",
            "Is {b} larger than {a}?",
            "Is {b} higher than {a}?",
            "Is {b} bigger than {a}?",
            "Is {b} more than {a}?",
        ]
        case .equality: return [
            "Is {X} equal to {m}?",
            "Does {X} equal {m}?",
            "Is {m} equal to {X}?",
            "Is {X} the same as {m}?",
            "Is {X} the same number as {m}?",
            "Is {m} the same as {X}?",
            "Does {m} equal {X}?",
        ]
        case .countAfter: return [
            "What comes after {n}?",
            "What number comes right after {n}?",
            "What is the successor of {n}?",
            "What is one more than {n}?",
            "Which number is the successor of {n}?",
            "What is the number after {n}?",
            "Which number follows {n}?",
            "Which number comes right after {n}?",
            "What number is one more than {n}?",
        ]
        case .countBefore: return [
            "What comes before {n}?",
            "What number comes right before {n}?",
            "What is the predecessor of {n}?",
            "What is one less than {n}?",
            "Which number is the predecessor of {n}?",
            "What is the number before {n}?",
            "Which number does {n} follow?",
            "Which number comes right before {n}?",
            "What number is one less than {n}?",
        ]
        case .countBetween: return [
            "What number is between {n} and {m}?",
            "What comes between {n} and {m}?",
            "Which number is between {m} and {n}?",
            "What number is in the middle of {n} and {m}?",
            "What number is between {m} and {n}?",
            "What comes between {m} and {n}?",
            "Which number is between {n} and {m}?",
            "Which number is in the middle of {n} and {m}?",
            "Which number comes between {n} and {m}?",
            "What number is in the middle of {m} and {n}?",
        ]
        }
    }

    /// The expressions `{X}` of equality statements: the expression, and how it maps n to its value.
    public enum Expression: Int, CaseIterable, Sendable {
        case successor, predecessor, after, before, twoMore, between

        public var text: String {
            switch self {
            case .successor: return "the successor of {n}"
            case .predecessor: return "the predecessor of {n}"
            case .after: return "the number after {n}"
            case .before: return "the number before {n}"
            case .twoMore: return "two more than {n}"
            case .between: return "the number between {n} and {k}"
            }
        }

        /// The value of the expression for `n` (for `between`, `k` = n+2 and the value is n+1).
        public func value(_ n: Int) -> Int {
            switch self {
            case .successor, .after, .between: return n + 1
            case .predecessor, .before: return n - 1
            case .twoMore: return n + 2
            }
        }
    }

    /// Indices of the phrasings a split may use.
    public static func indices(for split: Split, concept: Concept, holdout: Bool) -> [Int] {
        let count = phrasings(concept).count
        guard holdout else { return Array(0..<count) }
        let firstHeldout = count - heldoutCount
        return split.usesHeldoutPhrasings ? Array(firstHeldout..<count) : Array(0..<firstHeldout)
    }

    /// Whether phrasing `index` of `concept` is a held-out phrasing (when holdout is on).
    public static func isHeldout(_ index: Int, concept: Concept) -> Bool {
        index >= phrasings(concept).count - heldoutCount
    }

    /// Every text fragment the generator can emit (phrasings, frames, expressions).
    public static var allTexts: [String] {
        Concept.allCases.flatMap { phrasings($0) } + Expression.allCases.map(\.text)
    }
}

/// A phrasing pre-split into literal parts and slots, so rendering is a few appends.
struct CompiledTemplate: Sendable {
    enum Part: Sendable { case text(String), slot(Character) }
    let parts: [Part]

    init(_ template: String) {
        var parts: [Part] = []
        var literal = ""
        var i = template.startIndex
        while i < template.endIndex {
            let c = template[i]
            let close = template.index(i, offsetBy: 2, limitedBy: template.endIndex)
            if c == "{", let close, close < template.endIndex, template[close] == "}" {
                if !literal.isEmpty { parts.append(.text(literal)); literal = "" }
                parts.append(.slot(template[template.index(after: i)]))
                i = template.index(after: close)
            } else {
                literal.append(c)
                i = template.index(after: i)
            }
        }
        if !literal.isEmpty { parts.append(.text(literal)) }
        self.parts = parts
    }

    func render(_ value: (Character) -> String) -> String {
        var out = ""
        out.reserveCapacity(64)
        for part in parts {
            switch part {
            case .text(let s): out += s
            case .slot(let c): out += value(c)
            }
        }
        return out
    }
}
