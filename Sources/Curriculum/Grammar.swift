/// The Grade 1 phrasing grammar: per concept, frames in both operand orders, relation words and
/// their synonyms, op expressions (named before or after their number, as a phrase or a word),
/// clause orders, and optional openers and tails, each sentence with its worked solution.
///
/// Why a grammar: seven or eight sentences per concept did not teach which words bind which
/// number (Docs/RESULTS.md, Rounds 3-8); hundreds of sentences that put every relation and op word
/// next to numbers in many positions, with the program each one means, do.

/// Step-1 ops of a worked solution, in the reasoner's order (`StepOp` in Compute).
public enum ProgramOp: Int, CaseIterable, Codable, Sendable {
    case identity, successor, predecessor, add2, subtract2, between, onesDigit, tensDigit, hundredsDigit
    case add, subtract, nextTerm, placeValue, total

    /// Whether the op reads a second number (`c` of the sketch).
    public var isBinary: Bool { rawValue >= ProgramOp.add.rawValue }
}

/// Relations of a worked solution, in the reasoner's order (`Relation` in Compute).
public enum ProgramRelation: Int, CaseIterable, Codable, Sendable {
    case equal, greater, smaller, sameParity, sameTens, sameOnes, makesTen, even, odd
}

/// A worked solution over slot letters: `relation(op(a), b)`, or `op(a)` for a number answer;
/// a binary op (add, subtract) reads `c` too: `op(a, c)`.
public struct ProgramSketch: Equatable, Sendable {
    public var op: ProgramOp
    public var a: Character
    public var relation: ProgramRelation?
    public var b: Character?
    public var c: Character?

    public init(_ op: ProgramOp, _ a: Character, _ relation: ProgramRelation? = nil, _ b: Character? = nil,
                c: Character? = nil) {
        self.op = op; self.a = a; self.relation = relation; self.b = b; self.c = c
    }
}

/// One phrasing of a concept: the sentence frame, its worked solution and where it comes from.
public struct Phrasing: Sendable {
    public enum Kind: String, Sendable { case train, heldout, fixed }
    public let text: String
    public let program: ProgramSketch
    /// The construction family (frame) and the words filled into it; a held-out phrasing is a
    /// combination of a frame and words that each occur in training.
    public let frame: String
    public let words: String
    public internal(set) var kind: Kind
    /// For equality statements, the expression the sentence uses.
    public let expression: Templates.Expression?

    /// The sentence with numbers blanked ("is # greater than #"): what decides held-out status.
    public var shape: String { Grammar.shape(text) }
}

enum Grammar {
    /// Openers and tails drawn around a core sentence (30% each); they never decide held-out status.
    static let openers = ["Tell me: ", "Quick question: ", "Think carefully. ", "Here is a question: ", "Please answer: "]
    static let yesNoTails = [" Yes or no?", " Answer yes or no.", " Is that right?"]
    static let numberTails = [" Answer with a number.", " Which number is it?"]

    /// About one combination in `heldoutModulus` is held out.
    static let heldoutModulus: UInt64 = 5

    // MARK: building

    struct Builder {
        var out: [Phrasing] = []
        mutating func add(_ text: String, _ p: ProgramSketch, frame: String, words: String = "",
                          expression: Templates.Expression? = nil) {
            out.append(Phrasing(text: text, program: p, frame: frame, words: words, kind: .train, expression: expression))
        }
    }

    static func build() -> [[Phrasing]] {
        var table = Concept.allCases.map { phrasings(for: $0) }
        // Fixed held-out shapes never render in training or in the systematic split.
        var fixedShapes = Set<String>()
        for c in Concept.allCases { for f in fixed(c) { fixedShapes.insert(f.shape) } }
        for i in table.indices {
            var seen = Set<String>()
            table[i] = table[i].filter { !fixedShapes.contains($0.shape) && seen.insert($0.text).inserted }
        }
        // Held out by shape, so a sentence two concepts can say is held out in both; every concept
        // gets at least two held-out combinations (its lowest hashes when the modulus picks fewer).
        var heldout = Set<String>()
        for list in table {
            let hashed = list.map { ($0.shape, stableHash($0.shape)) }
            heldout.formUnion(hashed.filter { $0.1 % heldoutModulus == 0 }.map(\.0))
        }
        // A held-out sentence is a new combination of a frame and words that each train: a frame
        // or a wording held out everywhere gets its lowest-hash sentence back into training.
        for key in [\Phrasing.frame, \Phrasing.words] {
            let all = table.joined()
            let trained = Set(all.filter { !heldout.contains($0.shape) }.map { $0[keyPath: key] })
            let starved = Dictionary(grouping: all.filter { !trained.contains($0[keyPath: key]) }, by: { $0[keyPath: key] })
            for (_, group) in starved {
                if let back = group.min(by: { stableHash($0.shape) < stableHash($1.shape) }) { heldout.remove(back.shape) }
            }
        }
        // Every concept holds out at least two sentences: its lowest-hash ones whose frame and
        // words keep another sentence in training.
        for list in table where list.filter({ heldout.contains($0.shape) }).count < 2 {
            for p in list.sorted(by: { stableHash($0.shape) < stableHash($1.shape) }) {
                if list.filter({ heldout.contains($0.shape) }).count >= 2 { break }
                let trained = table.joined().filter { !heldout.contains($0.shape) && $0.shape != p.shape }
                if trained.contains(where: { $0.frame == p.frame }) && trained.contains(where: { $0.words == p.words }) {
                    heldout.insert(p.shape)
                }
            }
        }
        // A held-out sentence may only recombine words training shows (an unseen word tells a
        // model nothing); the few that would not are trained on instead. "Training" is that of a
        // model taught up to the sentence's grade: a Grade 1 model never sees Grade 2's words, so
        // Grade 2 leaves Grade 1's split exactly as it was.
        while true {
            var unseen: [Phrasing] = []
            for grade in LessonConfig.grades {
                var trainWords = Set<String>()
                for (i, list) in table.enumerated() where Concept.allCases[i].grade <= grade {
                    for p in list where !heldout.contains(p.shape) { trainWords.formUnion(words(p.text)) }
                }
                for (i, list) in table.enumerated() where Concept.allCases[i].grade == grade {
                    unseen += list.filter { heldout.contains($0.shape) && !words($0.text).isSubset(of: trainWords) }
                }
            }
            if unseen.isEmpty { break }
            for p in unseen { heldout.remove(p.shape) }
        }
        for i in table.indices {
            for j in table[i].indices where heldout.contains(table[i][j].shape) { table[i][j].kind = .heldout }
            let train = table[i].filter { $0.kind == .train }, held = table[i].filter { $0.kind == .heldout }
            table[i] = train + held + fixed(Concept.allCases[i])
        }
        return table
    }

    static func words(_ text: String) -> Set<String> {
        Set(Tokenizer.pieces(text.replacingOccurrences(of: "{", with: " ").replacingOccurrences(of: "}", with: " "))
            .compactMap(\.word).filter { $0.count > 1 })
    }

    /// Lowercased words with every slot as "#".
    static func shape(_ text: String) -> String {
        var out = "", inSlot = false
        for ch in text.lowercased() {
            if ch == "{" { inSlot = true; out += " # "; continue }
            if ch == "}" { inSlot = false; continue }
            if inSlot { continue }
            out.append(ch.isLetter || ch.isNumber ? ch : " ")
        }
        return out.split(separator: " ").joined(separator: " ")
    }

    /// FNV-1a: stable across runs and machines (Swift's Hasher is seeded per process).
    static func stableHash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h ^= UInt64(b); h = h &* 0x100_0000_01b3 }
        return h
    }

    // MARK: the fixed held-out sentences of earlier rounds

    static func fixedHeldout(_ concept: Concept) -> [String] { fixed(concept).map(\.text) }

    static func fixed(_ concept: Concept) -> [Phrasing] {
        func f(_ t: String, _ p: ProgramSketch, _ e: Templates.Expression? = nil) -> Phrasing {
            Phrasing(text: t, program: p, frame: "fixed", words: "", kind: .fixed, expression: e)
        }
        switch concept {
        case .sameParity: return [f("Is the parity of {a} the same as the parity of {b}?", .init(.identity, "a", .sameParity, "b")),
                                  f("Are {b} and {a} both odd or both even?", .init(.identity, "b", .sameParity, "a"))]
        case .successor: return [f("Does {a} come right before {b}?", .init(.predecessor, "b", .equal, "a")),
                                 f("Is {b} the number right after {a}?", .init(.successor, "a", .equal, "b"))]
        case .predecessor: return [f("Does {a} come right after {b}?", .init(.successor, "b", .equal, "a")),
                                   f("Is {b} the number right before {a}?", .init(.predecessor, "a", .equal, "b"))]
        case .add2: return [f("Is {b} equal to {a} plus two?", .init(.add2, "a", .equal, "b")),
                            f("Is {a} two less than {b}?", .init(.subtract2, "b", .equal, "a"))]
        case .sameTens: return [f("Are the tens digits of {a} and {b} the same?", .init(.identity, "a", .sameTens, "b")),
                                f("Does {a} have the same tens digit as {b}?", .init(.identity, "a", .sameTens, "b"))]
        case .sameOnes: return [f("Are the ones digits of {a} and {b} the same?", .init(.identity, "a", .sameOnes, "b")),
                                f("Does {b} end in the same digit as {a}?", .init(.identity, "b", .sameOnes, "a"))]
        case .makesTen: return [f("If you add the ones digits of {a} and {b}, do you get ten?", .init(.identity, "a", .makesTen, "b")),
                                f("Do the ones digits of {b} and {a} together make ten?", .init(.identity, "b", .makesTen, "a"))]
        case .greater: return [f("Is {b} smaller than {a}?", .init(.identity, "a", .greater, "b")),
                               f("Is {b} lower than {a}?", .init(.identity, "a", .greater, "b"))]
        case .smaller: return [f("Is {b} bigger than {a}?", .init(.identity, "a", .smaller, "b")),
                               f("Is {b} more than {a}?", .init(.identity, "a", .smaller, "b"))]
        case .equality:
            let old: [Templates.Expression] = [.successor, .predecessor, .after, .before, .twoMore, .between]
            return ["Is {m} the same as {X}?", "Does {m} equal {X}?"].flatMap { frame in
                old.map { e in f(frame.replacingOccurrences(of: "{X}", with: e.text), .init(e.op, "n", .equal, "m"), e) }
            }
        case .countAfter: return [f("Which number comes right after {n}?", .init(.successor, "n")),
                                  f("What number is one more than {n}?", .init(.successor, "n"))]
        case .countBefore: return [f("Which number comes right before {n}?", .init(.predecessor, "n")),
                                   f("What number is one less than {n}?", .init(.predecessor, "n"))]
        case .countBetween: return [f("Which number comes between {n} and {m}?", .init(.between, "n")),
                                    f("What number is in the middle of {m} and {n}?", .init(.between, "m"))]
        case .add, .subtract, .addSubCheck, .missingAddend, .wordProblem, .skipCount, .placeValue, .placeDigit, .compare, .oddEven,
             .expandedForm:
            return grade2Fixed(concept).map { f($0.0, $0.1) }
        }
    }

    // MARK: the grammar per concept

    /// Noun phrases and arithmetic expressions naming an op on `{x}`, with an id per wording.
    /// `np`: can follow "Is {y} ..." ("Is 7 one more than 6?"); otherwise only inside "equal to".
    struct OpExpression { let text: String; let id: String; let np: Bool }

    static func expressions(_ op: ProgramOp) -> [OpExpression] {
        switch op {
        case .successor: return [
            .init(text: "one more than {x}", id: "more", np: true),
            .init(text: "the successor of {x}", id: "successor", np: true),
            .init(text: "the number right after {x}", id: "right-after", np: true),
            .init(text: "the number just after {x}", id: "just-after", np: true),
            .init(text: "the next number after {x}", id: "next", np: true),
            .init(text: "the number that comes right after {x}", id: "comes-after", np: true),
            .init(text: "{x} plus one", id: "plus", np: false),
            .init(text: "one plus {x}", id: "plus-first", np: false),
        ]
        case .predecessor: return [
            .init(text: "one less than {x}", id: "less", np: true),
            .init(text: "the predecessor of {x}", id: "predecessor", np: true),
            .init(text: "the number right before {x}", id: "right-before", np: true),
            .init(text: "the number just before {x}", id: "just-before", np: true),
            .init(text: "the number that comes right before {x}", id: "comes-before", np: true),
            .init(text: "{x} minus one", id: "minus", np: false),
            .init(text: "{x} take away one", id: "take-away", np: false),
        ]
        case .add2: return [
            .init(text: "two more than {x}", id: "more", np: true),
            .init(text: "the number two after {x}", id: "two-after", np: true),
            .init(text: "two steps after {x}", id: "steps-after", np: true),
            .init(text: "{x} plus two", id: "plus", np: false),
            .init(text: "two plus {x}", id: "plus-first", np: false),
        ]
        case .subtract2: return [
            .init(text: "two less than {x}", id: "less", np: true),
            .init(text: "the number two before {x}", id: "two-before", np: true),
            .init(text: "two steps before {x}", id: "steps-before", np: true),
            .init(text: "{x} minus two", id: "minus", np: false),
            .init(text: "{x} take away two", id: "take-away", np: false),
        ]
        case .identity, .between, .onesDigit, .tensDigit, .hundredsDigit, .add, .subtract, .nextTerm, .placeValue, .total: return []
        }
    }

    /// Frames comparing `{y}` with an op expression `%E` of `{x}`; `np` marks frames that need a
    /// noun phrase.
    static let equalityFrames: [(frame: String, id: String, np: Bool)] = [
        ("Is {y} %E?", "is-np", true),
        ("Is it true that {y} is %E?", "true-that", true),
        ("Would you say {y} is %E?", "would-say", true),
        ("Is {y} exactly %E?", "exactly", true),
        ("Is {y} equal to %E?", "y-equal", false),
        ("Is %E equal to {y}?", "e-equal", false),
        ("Does %E equal {y}?", "e-equals", false),
        ("Does {y} equal %E?", "y-equals", false),
        ("Is %E the same as {y}?", "e-same", false),
        ("Is {y} the same as %E?", "y-same", false),
        ("Is %E the same number as {y}?", "e-same-number", false),
    ]

    /// Verb and clause frames per op: `{x}` is the number the op applies to, `{y}` the result.
    static func opFrames(_ op: ProgramOp) -> [(text: String, id: String)] {
        func clauses(_ verb: String, _ size: String) -> [(String, String)] {
            let v = verb.replacingOccurrences(of: "SIZE", with: size)
            return [("If you \(v), do you get {y}?", "if-get"), ("Do you get {y} if you \(v)?", "get-if"),
                    ("When you \(v), do you get {y}?", "when-get"), ("Do you get {y} when you \(v)?", "get-when")]
        }
        switch op {
        case .successor: return [
            ("Does {y} come right after {x}?", "come-after"), ("Does {y} come just after {x}?", "come-just-after"),
            ("Does {y} follow {x} when counting?", "follow"), ("Is {x} followed by {y} when counting?", "followed-by"),
            ("When counting, does {y} come right after {x}?", "counting-after"),
            ("Does {x} come right before {y}?", "x-before"),
        ] + clauses("add SIZE to {x}", "one").map { ($0.0, "add-" + $0.1) }
            + clauses("count on SIZE from {x}", "one").map { ($0.0, "count-on-" + $0.1) }
        case .predecessor: return [
            ("Does {y} come right before {x}?", "come-before"), ("Does {y} come just before {x}?", "come-just-before"),
            // "Does {x} follow {y}" and "Is {y} followed by {x}" are not here: the predecessor concept
            // says them with successor's frames (successor(y) = x), as the successor concept does,
            // so one sentence has one worked solution in every concept (Round 17: the two readings
            // gave the same sentence opposite operand roles).
            ("When counting, does {y} come right before {x}?", "counting-before"),
            ("Does {x} come right after {y}?", "x-after"),
        ] + clauses("take SIZE away from {x}", "one").map { ($0.0, "take-" + $0.1) }
            + clauses("count back SIZE from {x}", "one").map { ($0.0, "count-back-" + $0.1) }
        case .add2: return [
            ("Does {y} come two steps after {x}?", "steps-after"), ("Is {y} two after {x} when counting?", "two-after-counting"),
            ("When counting, does {y} come two steps after {x}?", "counting-steps-after"),
            ("Does {x} come two steps before {y}?", "x-steps-before"),
        ] + clauses("add SIZE to {x}", "two").map { ($0.0, "add-" + $0.1) }
            + clauses("count on SIZE from {x}", "two").map { ($0.0, "count-on-" + $0.1) }
        case .subtract2: return [
            ("Does {y} come two steps before {x}?", "steps-before"), ("Is {y} two before {x} when counting?", "two-before-counting"),
            ("When counting, does {y} come two steps before {x}?", "counting-steps-before"),
            ("Does {x} come two steps after {y}?", "x-steps-after"),
        ] + clauses("take SIZE away from {x}", "two").map { ($0.0, "take-" + $0.1) }
            + clauses("count back SIZE from {x}", "two").map { ($0.0, "count-back-" + $0.1) }
        case .identity, .between, .onesDigit, .tensDigit, .hundredsDigit, .add, .subtract, .nextTerm, .placeValue, .total: return []
        }
    }

    /// Yes/no sentences saying `{y} = op({x})`, with x and y given as slot letters.
    private static func opStatements(_ op: ProgramOp, x: Character, y: Character, into b: inout Builder) {
        func fill(_ t: String) -> String {
            t.replacingOccurrences(of: "{x}", with: "{\(x)}").replacingOccurrences(of: "{y}", with: "{\(y)}")
        }
        let program = ProgramSketch(op, x, .equal, y)
        for e in expressions(op) {
            for f in equalityFrames where e.np || !f.np {
                b.add(fill(f.frame.replacingOccurrences(of: "%E", with: e.text)), program,
                      frame: "op-\(f.id)", words: "\(op)-\(e.id)")
            }
        }
        // Verb frames share their ids across ops ("come-after" of successor is "come two steps
        // after" of add_2 only in spirit), so their words are the op.
        for f in opFrames(op) { b.add(fill(f.text), program, frame: "verb-\(f.id)", words: "\(op)") }
    }

    static let greaterWords = ["greater", "bigger", "larger", "more", "higher"]
    static let smallerWords = ["less", "smaller", "lower"]
    /// Comparison words that read as "a ___ number" (not "a more number").
    static let adjectiveWords: Set<String> = ["greater", "bigger", "larger", "higher", "smaller", "lower"]

    static let comparisonFrames: [(text: String, id: String, adjective: Bool)] = [
        ("Is {x} %W than {y}?", "than", false),
        ("Is {x} %W than {y} or not?", "than-or-not", false),
        ("Is it true that {x} is %W than {y}?", "true-that", false),
        ("Would you say {x} is %W than {y}?", "would-say", false),
        ("Is the number {x} %W than the number {y}?", "the-number", false),
        ("Compared with {y}, is {x} %W?", "compared-with", false),
        ("Compared to {y}, is {x} %W?", "compared-to", false),
        ("Is {x} %W when compared with {y}?", "when-compared", false),
        ("Is {x} a %W number than {y}?", "a-number", true),
        ("Does {x} have a %W value than {y}?", "value", true),
    ]

    /// Parity frames; `%K` is filled from the frame's word list.
    static let parityFrames: [(text: String, id: String, words: [String])] = [
        ("Do {x} and {y} have %K?", "have", ["the same parity", "equal parity", "matching parity"]),
        ("Do {x} and {y} share %K?", "share", ["the same parity", "equal parity", "matching parity"]),
        ("Is the parity of {x} %K the parity of {y}?", "parity-of", ["the same as", "equal to"]),
        ("Are {x} and {y} %K?", "are", ["both even or both odd", "both odd or both even", "either both even or both odd",
                                        "the same kind of number, even or odd"]),
        ("Is {x} %K exactly when {y} is %K?", "exactly-when", ["odd", "even"]),
        ("Is {x} %K just like {y}?", "just-like", ["even or odd", "odd or even"]),
        ("Does {x} have %K as {y}?", "x-has", ["the same parity"]),
    ]

    /// Digit frames; `%P` is the place word ("tens" or "ones").
    static let digitFrames: [(String, String)] = [
        ("Do {x} and {y} have the same %P digit?", "have-same"),
        ("Do {x} and {y} share the same %P digit?", "share-same"),
        ("Do {x} and {y} have equal %P digits?", "equal-digits"),
        ("Do {x} and {y} have matching %P digits?", "matching"),
        ("Does {x} have the same %P digit as {y}?", "x-has-same"),
        ("Is the %P digit of {x} the same as the %P digit of {y}?", "digit-of-same"),
        ("Is the %P digit of {x} equal to the %P digit of {y}?", "digit-of-equal"),
        ("Is the %P digit the same in {x} and {y}?", "same-in"),
        ("Are the %P digits of {x} and {y} the same?", "digits-same"),
        ("Do the %P digits of {x} and {y} match?", "digits-match"),
        ("Is the digit in the %P place of {x} the same as in {y}?", "place"),
    ]

    static let makesTenFrames: [(String, String)] = [
        ("Do the ones digits of {x} and {y} %M ten?", "digits-make"),
        ("Do the ones digits of {x} and {y} %M ten together?", "digits-make-together"),
        ("Is the ones digit of {x} plus the ones digit of {y} equal to ten?", "plus-equal"),
        ("Is ten the sum of the ones digits of {x} and {y}?", "ten-sum"),
        ("Is the sum of the ones digits of {x} and {y} ten?", "sum-ten"),
        ("If you add the ones digits of {x} and {y}, do you get ten?", "if-add"),
        ("Do you get ten if you add the ones digits of {x} and {y}?", "get-if-add"),
        ("When you add the ones digits of {x} and {y}, do you get ten?", "when-add"),
    ]
    static let makeWords = ["make", "add up to", "sum to", "come to"]

    static func phrasings(for concept: Concept) -> [Phrasing] {
        var b = Builder()
        func pairs(_ body: (Character, Character, String) -> Void) { body("a", "b", "ab"); body("b", "a", "ba") }
        func fill(_ t: String, _ x: Character, _ y: Character) -> String {
            t.replacingOccurrences(of: "{x}", with: "{\(x)}").replacingOccurrences(of: "{y}", with: "{\(y)}")
        }
        switch concept {
        case .sameParity:
            pairs { x, y, _ in for f in parityFrames {
                for w in f.words {
                    b.add(fill(f.text.replacingOccurrences(of: "%K", with: w), x, y), .init(.identity, x, .sameParity, y),
                          frame: "parity-\(f.id)", words: w)
                }
            } }
        case .sameTens, .sameOnes:
            let place = concept == .sameTens ? "tens" : "ones"
            let rel: ProgramRelation = concept == .sameTens ? .sameTens : .sameOnes
            pairs { x, y, _ in
                for (t, id) in digitFrames {
                    b.add(fill(t.replacingOccurrences(of: "%P", with: place), x, y), .init(.identity, x, rel, y),
                          frame: "digit-\(id)", words: place)
                }
                if concept == .sameOnes {
                    b.add(fill("Do {x} and {y} end in the same digit?", x, y), .init(.identity, x, rel, y), frame: "end-in", words: "end")
                    b.add(fill("Does {x} end in the same digit as {y}?", x, y), .init(.identity, x, rel, y), frame: "x-ends-in", words: "end")
                    b.add(fill("Do {x} and {y} end with the same digit?", x, y), .init(.identity, x, rel, y), frame: "end-in", words: "end-with")
                }
            }
        case .makesTen:
            pairs { x, y, _ in for (t, id) in makesTenFrames {
                let words = t.contains(" %M ") ? makeWords : [""]
                for w in words {
                    b.add(fill(t.replacingOccurrences(of: " %M ", with: " \(w) "), x, y), .init(.identity, x, .makesTen, y),
                          frame: "ten-\(id)", words: w)
                }
            } }
        case .greater, .smaller, .compare:
            // a > b (greater) reads "a is greater than b" or "b is less than a". Grade 2's compare
            // says what greater says, of numbers to 1000: the same sentences, so the same ones are
            // held out.
            let (big, small): (Character, Character) = concept == .smaller ? ("b", "a") : ("a", "b")
            // The worked solution takes the number after "than" (or "compared with") as operand A,
            // as every sum and difference does ("{c} more than {a}" adds to a): "Is {x} more than
            // {y}?" is smaller(y, x). One reading of "than" across concepts, so the comparison and
            // the arithmetic do not teach the pointers opposite roles for the same construction.
            for (words, rel, x, y) in [(greaterWords, ProgramRelation.greater, big, small), (smallerWords, .smaller, small, big)] {
                let flipped: ProgramRelation = rel == .greater ? .smaller : .greater
                for w in words {
                    for f in comparisonFrames where !f.adjective || adjectiveWords.contains(w) {
                        b.add(fill(f.text.replacingOccurrences(of: "%W", with: w), x, y), .init(.identity, y, flipped, x),
                              frame: "cmp-\(f.id)", words: w)
                    }
                }
            }
        case .successor:
            opStatements(.successor, x: "a", y: "b", into: &b)
            opStatements(.predecessor, x: "b", y: "a", into: &b)
        case .predecessor:
            opStatements(.predecessor, x: "a", y: "b", into: &b)
            opStatements(.successor, x: "b", y: "a", into: &b)
        case .add2:
            opStatements(.add2, x: "a", y: "b", into: &b)
            opStatements(.subtract2, x: "b", y: "a", into: &b)
        case .equality:
            // "f(n) = m" in every comparison frame, for every expression.
            for e in Templates.Expression.allCases {
                let text = e.text.replacingOccurrences(of: "{n}", with: "{x}")
                for f in equalityFrames where !f.np || e != .plusOne && e != .minusOne && e != .plusTwo {
                    let t = f.frame.replacingOccurrences(of: "%E", with: text)
                        .replacingOccurrences(of: "{x}", with: "{n}").replacingOccurrences(of: "{y}", with: "{m}")
                    b.add(t, .init(e.op, "n", .equal, "m"), frame: "op-\(f.id)", words: "\(e)", expression: e)
                }
            }
        case .countAfter, .countBefore:
            let op: ProgramOp = concept == .countAfter ? .successor : .predecessor
            let dir = concept == .countAfter ? "after" : "before"
            let p = ProgramSketch(op, "n")
            for (t, id) in [("What comes \(dir) {n}?", "comes"), ("What comes right \(dir) {n}?", "comes-right"),
                            ("What number comes right \(dir) {n}?", "number-comes"),
                            ("Which number comes just \(dir) {n}?", "which-comes-just"),
                            ("What number is right \(dir) {n}?", "number-is-right"),
                            ("When counting, what number comes right \(dir) {n}?", "counting")] {
                b.add(t, p, frame: "count-\(id)", words: dir)
            }
            if op == .successor {
                b.add("Which number follows {n}?", p, frame: "count-follows", words: "follows")
                b.add("What number follows {n}?", p, frame: "count-follows", words: "follows-what")
                b.add("What number does {n} come before?", p, frame: "count-comes-n", words: "before")
            } else {
                b.add("Which number does {n} follow?", p, frame: "count-n-follows", words: "follow")
                b.add("What number does {n} follow?", p, frame: "count-n-follows", words: "follow-what")
                b.add("What number does {n} come after?", p, frame: "count-comes-n", words: "after")
            }
            let verb = op == .successor ? "add one to {n}" : "take one away from {n}"
            for (t, id) in [("What do you get if you \(verb)?", "get-if"), ("If you \(verb), what do you get?", "if-get"),
                            ("What do you get when you \(verb)?", "get-when"),
                            ("When you \(verb), what number do you get?", "when-number")] {
                b.add(t, p, frame: "count-\(id)", words: verb)
            }
            for e in expressions(op) {
                let x = e.text.replacingOccurrences(of: "{x}", with: "{n}")
                var frames = [("What is %X?", "what-is"), ("Tell me %X.", "tell"), ("Name %X.", "name")]
                if e.np { frames += [("Which number is %X?", "which-is"), ("What number is %X?", "number-is")] }
                for (t, id) in frames { b.add(t.replacingOccurrences(of: "%X", with: x), p, frame: "count-\(id)", words: "\(op)-\(e.id)") }
            }
        case .countBetween:
            // Who asks ("What number is ...") times where it sits ("between {x} and {y}").
            let askers = [("What number is", "number-is"), ("Which number is", "which-is"), ("What comes", "comes"),
                          ("What number lies", "lies"), ("Which number sits", "sits"), ("What is the number", "what-is"),
                          ("When counting, what number comes", "counting")]
            let places = ["between {x} and {y}", "in the middle of {x} and {y}", "halfway between {x} and {y}"]
            let commands = [("Tell me the number", "tell"), ("Name the number that comes", "name")]
            pairs { x, y, _ in
                let xs = x == "a" ? "n" : "m", ys = x == "a" ? "m" : "n"
                func add(_ t: String, _ id: String, _ place: String) {
                    let text = t.replacingOccurrences(of: "{x}", with: "{\(xs)}").replacingOccurrences(of: "{y}", with: "{\(ys)}")
                    b.add(text, .init(.between, Character(xs)), frame: "between-\(id)", words: place)
                }
                for (asker, id) in askers { for place in places { add("\(asker) \(place)?", id, place) } }
                for (command, id) in commands { for place in places { add("\(command) \(place).", id, place) } }
            }
        case .add, .subtract, .addSubCheck, .missingAddend, .wordProblem, .skipCount, .placeValue, .placeDigit, .oddEven,
             .expandedForm:
            grade2Phrasings(for: concept, into: &b)
        }
        return b.out
    }
}
