/// The phrasings of every Grade 1 concept, built from a grammar (`Grammar`).
///
/// A phrasing is a sentence frame with number slots and its worked solution (`ProgramSketch`):
/// which relation and op the sentence names and which number each one governs. Slots: `{a}`, `{b}`
/// for the pair relations (in the order of the concept's definition, whatever order the sentence
/// names them in); `{n}`, `{m}` for counting; equality statements `{n}` (the number inside the
/// expression), `{k}` (the second number of a "between" expression) and `{m}` (the number it is
/// compared with).
///
/// Each concept's list is ordered: train phrasings, then the systematic held-out phrasings (new
/// combinations of a frame and its words, every part of which training shows), then the fixed
/// held-out sentences kept from earlier rounds (so figures compare with them). Which combination is
/// held out depends only on the sentence's shape (numbers blanked), so a sentence is held out in
/// every concept that can say it. The tests check that no held-out shape renders in training and
/// that every held-out word occurs in training.
public enum Templates {
    /// Phrasings per concept: train, then systematic held-out, then fixed held-out.
    public static func phrasings(_ concept: Concept) -> [String] { table[concept.index].map(\.text) }

    /// The full phrasing records (text, worked solution, part ids, kind).
    public static func records(_ concept: Concept) -> [Phrasing] { table[concept.index] }

    /// The fixed held-out sentences of earlier rounds (two per concept), kept as their own split.
    public static func fixedHeldout(_ concept: Concept) -> [String] { Grammar.fixedHeldout(concept) }

    /// The equality expressions (the `{X}` of "Is {X} equal to {m}?"), with the op they name.
    public enum Expression: Int, CaseIterable, Sendable {
        case successor, predecessor, after, before, twoMore, between
        case plusOne, oneMore, minusOne, oneLess, plusTwo, nextAfter, justBefore, twoLess

        public var text: String {
            switch self {
            case .successor: return "the successor of {n}"
            case .predecessor: return "the predecessor of {n}"
            case .after: return "the number after {n}"
            case .before: return "the number before {n}"
            case .twoMore: return "two more than {n}"
            case .between: return "the number between {n} and {k}"
            case .plusOne: return "{n} plus one"
            case .oneMore: return "one more than {n}"
            case .minusOne: return "{n} minus one"
            case .oneLess: return "one less than {n}"
            case .plusTwo: return "{n} plus two"
            case .nextAfter: return "the next number after {n}"
            case .justBefore: return "the number just before {n}"
            case .twoLess: return "two less than {n}"
            }
        }

        /// The op the expression applies to `{n}`.
        public var op: ProgramOp {
            switch self {
            case .successor, .after, .plusOne, .oneMore, .nextAfter: return .successor
            case .predecessor, .before, .minusOne, .oneLess, .justBefore: return .predecessor
            case .twoMore, .plusTwo: return .add2
            case .twoLess: return .subtract2
            case .between: return .between
            }
        }

        /// The value of the expression for `n` (for `between`, `k` = n+2 and the value is n+1).
        public func value(_ n: Int) -> Int {
            switch op {
            case .successor, .between: return n + 1
            case .predecessor: return n - 1
            case .add2: return n + 2
            case .subtract2: return n - 2
            case .identity, .onesDigit, .tensDigit, .hundredsDigit, .add, .subtract, .nextTerm, .placeValue, .total: return n
            }
        }
    }

    /// Indices of the phrasings a split may use. Without holdout every split uses all of them.
    public static func indices(for split: Split, concept: Concept, holdout: Bool) -> [Int] {
        let list = table[concept.index]
        guard holdout else { return Array(list.indices) }
        let kind: Phrasing.Kind
        switch split {
        case .phrasing: kind = .heldout
        case .fixed: kind = .fixed
        default: kind = .train
        }
        return list.indices.filter { list[$0].kind == kind }
    }

    /// Whether phrasing `index` of `concept` is held out (systematic or fixed).
    public static func isHeldout(_ index: Int, concept: Concept) -> Bool {
        table[concept.index][index].kind != .train
    }

    /// Every text fragment the generator can emit (phrasings, openers, tails).
    public static var allTexts: [String] { texts(upTo: 2) }

    /// Every text fragment of the concepts taught up to `grade`.
    public static func texts(upTo grade: Int) -> [String] {
        Concept.upTo(grade: grade).flatMap { phrasings($0) } + Grammar.openers + Grammar.yesNoTails + Grammar.numberTails
    }

    static let table: [[Phrasing]] = Grammar.build()
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

    /// The slot letters in the order the sentence names them.
    var slotOrder: [Character] {
        parts.compactMap { if case .slot(let c) = $0 { return c } else { return nil } }
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
