import Foundation

/// A concept of Grade 1 or Grade 2 (`grade`). The raw value is the name used in question files
/// and reports.
public enum Concept: String, CaseIterable, Codable, Sendable, Comparable {
    case sameParity = "same_parity"
    case successor
    case predecessor
    case add2 = "add_2"
    case sameTens = "same_tens"
    case sameOnes = "same_ones"
    case makesTen = "makes_ten"
    case greater
    case smaller
    case equality
    case countAfter = "count_after"
    case countBefore = "count_before"
    case countBetween = "count_between"
    // Grade 2: two-number arithmetic with regrouping.
    case add
    case subtract
    case addSubCheck = "add_sub_check"
    case missingAddend = "missing_addend"
    case wordProblem = "word_problem"
    case skipCount = "skip_count"
    case placeValue = "place_value"
    // Grade 2: place value and number sense to 1000.
    case placeDigit = "place_digit"
    case compare
    case oddEven = "odd_even"
    case expandedForm = "expanded_form"

    /// The grade that teaches the concept.
    public var grade: Int { Concept.grade2.contains(self) ? 2 : 1 }

    /// The Grade 2 concepts: sums and differences of two numbers (with carry and borrow), checks of
    /// such statements, missing addends, one-step word problems, skip counting, the value of a
    /// digit, the digit in a named place, comparing numbers to 1000, odd and even to 1000, and
    /// expanded form.
    public static let grade2: [Concept] = [.add, .subtract, .addSubCheck, .missingAddend, .wordProblem, .skipCount, .placeValue,
                                           .placeDigit, .compare, .oddEven, .expandedForm]

    /// Every concept taught up to and including `grade`, in `allCases` order.
    public static func upTo(grade: Int) -> [Concept] { allCases.filter { $0.grade <= grade } }

    /// Whether the concept has a `carry` split: questions whose carry or borrow crosses into the
    /// hundreds, which no train question does.
    public var hasCarrySplit: Bool { Concept.arithmetic.contains(self) }

    /// Grade 2's number sense to 1000: the digit in a place, comparing, odd and even.
    public static let numberSense: [Concept] = [.placeDigit, .compare, .oddEven, .expandedForm]

    /// The concepts that add or subtract two numbers (and so can carry or borrow).
    public static let arithmetic: [Concept] = [.add, .subtract, .addSubCheck, .missingAddend, .wordProblem, .skipCount]

    /// The two-number arithmetic concepts whose answer is a number.
    public static let arithmeticNumber: [Concept] = [.add, .subtract, .missingAddend, .wordProblem, .skipCount, .placeValue, .placeDigit]

    /// The nine yes/no relations on a pair (a, b).
    public static let relations: [Concept] = [
        .sameParity, .successor, .predecessor, .add2, .sameTens, .sameOnes, .makesTen, .greater, .smaller,
    ]

    /// The counting concepts, whose answer is a number.
    public static let counting: [Concept] = [.countAfter, .countBefore, .countBetween]

    /// Whether the answer is yes/no (relations, equality, add_sub_check) rather than a number.
    public var isYesNo: Bool { !Concept.counting.contains(self) && !Concept.arithmeticNumber.contains(self) }

    /// Whether this is one of the nine pair relations.
    public var isRelation: Bool { Concept.relations.contains(self) }

    /// What the concept means, in the terms used by files and reports.
    public var definition: String {
        switch self {
        case .sameParity: return "same_parity(a,b): a and b both even or both odd"
        case .successor: return "successor(a,b): b = a+1"
        case .predecessor: return "predecessor(a,b): b = a-1"
        case .add2: return "add_2(a,b): b = a+2"
        case .sameTens: return "same_tens(a,b): the tens digits of a and b are equal"
        case .sameOnes: return "same_ones(a,b): the ones digits of a and b are equal"
        case .makesTen: return "makes_ten(a,b): ones(a) + ones(b) = 10"
        case .greater: return "greater(a,b): a > b"
        case .smaller: return "smaller(a,b): a < b"
        case .equality: return "equality: a statement \"f(n) = m\" with f one of successor, predecessor, after, before, two more than, between"
        case .countAfter: return "count_after(n) = n+1"
        case .countBefore: return "count_before(n) = n-1"
        case .countBetween: return "count_between(n,m) = the number between n and m (m = n+2)"
        case .add: return "add(a,c) = a+c"
        case .subtract: return "subtract(a,c) = a-c (a >= c)"
        case .addSubCheck: return "add_sub_check: a statement \"a + c = b\" or \"a - c = b\""
        case .missingAddend: return "missing_addend(c,a) = the number that added to c makes a (a-c)"
        case .wordProblem: return "word_problem: a one-step story whose answer is a+c or a-c"
        case .skipCount: return "skip_count(p,c,a) = the term after p, c, a counting by a constant step (2a-c)"
        case .placeValue: return "place_value(d,a) = the value of the digit d in a (the 4 in 347 is 40)"
        case .placeDigit: return "place_digit(a) = the digit of a in the place the sentence names: ones, tens or hundreds (the tens digit of 347 is 4)"
        case .compare: return "compare(a,b): a > b, for numbers to 1000 (asked with greater or smaller words)"
        case .oddEven: return "odd_even(a): a is even, or a is odd, as the sentence asks (numbers to 1000)"
        case .expandedForm: return "expanded_form: a statement \"n = x + y + z\" about a number and three parts (347 = 300 + 40 + 7, or regrouped: 200 + 140 + 7)"
        }
    }

    /// The truth of a pair relation (nil for concepts that are not pair relations).
    public func holds(_ a: Int, _ b: Int) -> Bool? {
        switch self {
        case .sameParity: return (a & 1) == (b & 1)
        case .successor: return b == a + 1
        case .predecessor: return b == a - 1
        case .add2: return b == a + 2
        case .sameTens: return (a / 10) % 10 == (b / 10) % 10
        case .sameOnes: return a % 10 == b % 10
        case .makesTen: return a % 10 + b % 10 == 10
        case .greater, .compare: return a > b
        case .smaller: return a < b
        default: return nil
        }
    }

    /// Position in `allCases`.
    public var index: Int { Concept.indices[self]! }
    private static let indices: [Concept: Int] = Dictionary(uniqueKeysWithValues: allCases.enumerated().map { ($1, $0) })

    public static func < (lhs: Concept, rhs: Concept) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Which part of the data a question belongs to.
///
/// - `train`: train numbers, train phrasings.
/// - `heldout`: at least one held-out number (never in train), all numbers in the train range, train phrasings.
/// - `phrasing`: train numbers, held-out phrasings.
/// - `ood`: every number in the out-of-range interval (`--ood_range`), train phrasings.
/// - `fixed`: train numbers, the fixed held-out sentences of earlier rounds (`Templates.fixedHeldout`).
/// - `carry`: Grade 2 arithmetic only: train numbers and phrasings, but a carry into (or a borrow
///   from) the hundreds, which no train question has.
public enum Split: String, CaseIterable, Codable, Sendable {
    case train, heldout, phrasing, ood, fixed, carry

    /// Whether questions of this split use held-out phrasings (systematic or fixed).
    public var usesHeldoutPhrasings: Bool { self == .phrasing || self == .fixed }
}

/// A question's worked solution over its numbers in the order the sentence names them (0 = the
/// first number): `relation(op(number a), number b)`, or `op(number a)` for a number answer; a
/// binary op (add, subtract) also reads number c: `op(number a, number c)`.
public struct QuestionProgram: Equatable, Sendable {
    public var a: Int
    public var op: ProgramOp
    public var relation: ProgramRelation?
    public var b: Int?
    public var c: Int?

    public init(a: Int, op: ProgramOp, relation: ProgramRelation? = nil, b: Int? = nil, c: Int? = nil) {
        self.a = a; self.op = op; self.relation = relation; self.b = b; self.c = c
    }

    /// Resolves a sketch's slot letters against the order `order` in which the sentence names them.
    public init?(_ sketch: ProgramSketch, order: [Character]) {
        guard let a = order.firstIndex(of: sketch.a) else { return nil }
        var b: Int? = nil, c: Int? = nil
        if let letter = sketch.b {
            guard let i = order.firstIndex(of: letter) else { return nil }
            b = i
        }
        if let letter = sketch.c {
            guard let i = order.firstIndex(of: letter) else { return nil }
            c = i
        }
        self.init(a: a, op: sketch.op, relation: sketch.relation, b: b, c: c)
    }
}

/// The answer to a question: yes, no, or a number.
public enum Answer: Equatable, Hashable, Codable, Sendable, CustomStringConvertible {
    case yes, no
    case number(Int)

    /// Parses "yes", "no" (any case, surrounding spaces ignored) or a decimal integer.
    public init?(string: String) {
        let s = string.trimmingCharacters(in: .whitespaces)
        switch s.lowercased() {
        case "yes": self = .yes
        case "no": self = .no
        default:
            let digits = s.hasPrefix("-") ? s.dropFirst() : Substring(s)
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(s) else { return nil }
            self = .number(n)
        }
    }

    public init(_ truth: Bool) { self = truth ? .yes : .no }

    /// "yes", "no" or the number in decimal.
    public var string: String {
        switch self {
        case .yes: return "yes"
        case .no: return "no"
        case .number(let n): return String(n)
        }
    }

    public var description: String { string }

    public var isYesNo: Bool {
        if case .number = self { return false }
        return true
    }

    public var number: Int? {
        if case .number(let n) = self { return n }
        return nil
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let n = try? container.decode(Int.self) {
            self = .number(n)
            return
        }
        let s = try container.decode(String.self)
        guard let answer = Answer(string: s) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "answer \"\(s)\" is not yes, no or an integer")
        }
        self = answer
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(string)
    }
}

/// One generated (or read) question with its answer.
///
/// Encoded as the JSONL line format of question files:
/// `{"question": "...", "answer": "yes"|"no"|"<number>", "concept": "<name>", "operands": [a, b], "split": "..."}`.
/// `template` is the index of the phrasing in `Templates` (-1 when unknown, e.g. read from a file).
public struct Question: Codable, Sendable, Equatable {
    public var text: String
    public var answer: Answer
    public var concept: Concept
    public var operands: [Int]
    public var split: Split
    public var template: Int
    /// The worked solution: what a teacher would write under the question (nil when unknown,
    /// e.g. read from a file). Not written to question files.
    public var program: QuestionProgram? = nil

    public init(text: String, answer: Answer, concept: Concept, operands: [Int], split: Split, template: Int,
                program: QuestionProgram? = nil) {
        self.text = text
        self.answer = answer
        self.concept = concept
        self.operands = operands
        self.split = split
        self.template = template
        self.program = program
    }

    enum CodingKeys: String, CodingKey {
        case text = "question", answer, concept, operands, split, template
    }

    /// Equal as question-file lines: the worked solution is derived from the phrasing and not
    /// written to files, so a question read back equals the one written.
    public static func == (lhs: Question, rhs: Question) -> Bool {
        lhs.text == rhs.text && lhs.answer == rhs.answer && lhs.concept == rhs.concept
            && lhs.operands == rhs.operands && lhs.split == rhs.split && lhs.template == rhs.template
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        text = try c.decode(String.self, forKey: .text)
        answer = try c.decode(Answer.self, forKey: .answer)
        concept = try c.decode(Concept.self, forKey: .concept)
        operands = try c.decodeIfPresent([Int].self, forKey: .operands) ?? []
        split = try c.decodeIfPresent(Split.self, forKey: .split) ?? QuestionFile.defaultSplit
        template = try c.decodeIfPresent(Int.self, forKey: .template) ?? -1
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(text, forKey: .text)
        try c.encode(answer, forKey: .answer)
        try c.encode(concept, forKey: .concept)
        try c.encode(operands, forKey: .operands)
        try c.encode(split, forKey: .split)
    }
}
