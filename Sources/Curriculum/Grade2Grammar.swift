/// The Grade 2 phrasing grammar: expressions naming a sum or a difference of `{a}` and `{c}`,
/// question frames around them, verb frames ("add {c} to {a}"), statements to check against
/// `{b}`, missing-addend questions and one-step word problems (story frames times names and
/// things). Frame and word ids start with "g2-" so they never mix with Grade 1's in deciding
/// what is held out.
extension Grammar {
    /// Noun phrases for a + c and a - c; `np`: reads after "Is {b} ..." without two numbers
    /// side by side.
    static func arithmeticExpressions(plus: Bool) -> [OpExpression] {
        plus ? [
            .init(text: "{a} plus {c}", id: "plus", np: false),
            .init(text: "{a} add {c}", id: "add", np: false),
            .init(text: "the sum of {a} and {c}", id: "sum", np: true),
            .init(text: "the total of {a} and {c}", id: "total", np: true),
            .init(text: "{c} more than {a}", id: "more", np: false),
            .init(text: "{c} added to {a}", id: "added-to", np: false),
            .init(text: "{a} and {c} added together", id: "together", np: false),
        ] : [
            .init(text: "{a} minus {c}", id: "minus", np: false),
            .init(text: "{a} take away {c}", id: "take-away", np: false),
            .init(text: "{a} subtract {c}", id: "subtract", np: false),
            .init(text: "the difference between {a} and {c}", id: "difference", np: true),
            .init(text: "{c} less than {a}", id: "less", np: false),
            .init(text: "{c} subtracted from {a}", id: "subtracted-from", np: false),
        ]
    }

    /// Question frames around an expression `%E`, answered with a number.
    static let arithmeticQuestionFrames: [(String, String)] = [
        ("What is %E?", "what-is"), ("How much is %E?", "how-much"), ("Work out %E.", "work-out"),
        ("Tell me %E.", "tell"), ("What number is %E?", "number-is"), ("Find %E.", "find"),
        ("Can you work out %E?", "can-work-out"),
    ]

    /// Verb clauses for a + c and a - c.
    static func arithmeticVerbs(plus: Bool) -> [(String, String)] {
        plus ? [("add {c} to {a}", "add-to"), ("add {a} and {c}", "add-and"), ("put {a} and {c} together", "put-together"),
                ("count on {c} from {a}", "count-on")]
            : [("take {c} away from {a}", "take-away-from"), ("subtract {c} from {a}", "subtract-from"),
               ("take away {c} from {a}", "take-away"), ("count back {c} from {a}", "count-back")]
    }

    static let arithmeticVerbFrames: [(String, String)] = [
        ("What do you get if you %V?", "get-if"), ("If you %V, what do you get?", "if-get"),
        ("What do you get when you %V?", "get-when"), ("When you %V, what number do you get?", "when-number"),
    ]

    /// Yes/no frames checking an expression `%E` against `{b}`.
    static let checkFrames: [(frame: String, id: String, np: Bool)] = [
        ("Is %E equal to {b}?", "e-equal", false), ("Is {b} equal to %E?", "b-equal", false),
        ("Does %E equal {b}?", "e-equals", false), ("Is %E the same as {b}?", "e-same", false),
        ("Is it true that %E is {b}?", "true-that", false), ("Is {b} %E?", "is-np", true),
        ("Does %E make {b}?", "e-makes", false),
    ]

    static let checkVerbFrames: [(String, String)] = [
        ("If you %V, do you get {b}?", "if-get"), ("Do you get {b} if you %V?", "get-if"),
        ("When you %V, do you get {b}?", "when-get"),
    ]

    /// "c plus what makes a": the missing addend, a - c. `%S` takes a verb of `missingVerbs`
    /// ("makes"), `%I` its plain form ("make").
    static let missingAddendFrames: [(String, String)] = [
        ("{c} plus what %S {a}?", "plus-what"), ("What number added to {c} %S {a}?", "added-to"),
        ("What must you add to {c} to %I {a}?", "must-add"), ("What do you add to {c} to %I {a}?", "add-to"),
        ("What goes with {c} to %I {a}?", "goes-with"), ("How much must you add to {c} to %I {a}?", "how-much"),
    ]
    static let missingVerbs: [(s: String, i: String)] = [("makes", "make"), ("gives", "get"), ("equals", "reach")]

    static let storyNames = ["Sam", "Mia", "Leo", "Ana", "Ben", "Zoe"]
    static let storyThings = ["apples", "stickers", "marbles", "books", "shells", "cards", "pencils"]

    /// One-step stories: `{N}` a name, `{T}` a thing; whether the answer adds or subtracts.
    static let stories: [(text: String, id: String, plus: Bool)] = [
        ("{N} has {a} {T} and gets {c} more. How many {T} does {N} have now?", "gets-more", true),
        ("{N} had {a} {T}. Then {N} found {c} more. How many {T} does {N} have now?", "found", true),
        ("There are {a} {T} in a box. {N} puts in {c} more. How many {T} are in the box now?", "box-puts-in", true),
        ("{N} has {a} {T}. A friend gives {N} {c} more. How many {T} does {N} have?", "friend-gives", true),
        ("{N} collected {a} {T} on Monday and {c} on Tuesday. How many {T} did {N} collect in all?", "days", true),
        ("{N} has {a} {T} and gives away {c}. How many {T} does {N} have left?", "gives-away", false),
        ("{N} had {a} {T}. Then {N} lost {c}. How many {T} does {N} have now?", "lost", false),
        ("There are {a} {T} in a box. {N} takes out {c}. How many {T} are in the box now?", "box-takes-out", false),
        ("{N} has {a} {T} and uses {c} of them. How many {T} are left?", "uses", false),
        ("{N} had {a} {T} and sold {c}. How many {T} are left?", "sold", false),
    ]

    /// Skip counting: `{p}, {c}, {a}` are three terms; the answer is the next.
    static let sequenceFrames: [(String, String)] = [
        ("What comes next: {p}, {c}, {a}?", "comes-next"), ("{p}, {c}, {a}, what comes next?", "terms-first"),
        ("What is the next number in the pattern {p}, {c}, {a}?", "pattern"),
        ("Which number comes next in {p}, {c}, {a}?", "which-next"), ("Continue the pattern: {p}, {c}, {a}.", "continue"),
        ("Skip count: {p}, {c}, {a}. What comes next?", "skip-count"),
        ("Counting on: {p}, {c}, {a}. What number is next?", "counting-on"),
        ("What number follows {p}, {c}, {a}?", "follows"), ("What is the next number after {p}, {c}, {a}?", "next-after"),
        ("Tell me the next number: {p}, {c}, {a}.", "tell-next"), ("Look at {p}, {c}, {a}. What comes next?", "look"),
        ("Find the next number: {p}, {c}, {a}.", "find-next"), ("The pattern is {p}, {c}, {a}. What is next?", "pattern-is"),
        ("What is the next term after {p}, {c}, {a}?", "next-term"),
    ]

    /// The value of a digit: `{c}` is the digit, `{a}` the number.
    static let placeValueFrames: [(String, String)] = [
        ("What is the value of the {c} in {a}?", "value-of"), ("What is the {c} in {a} worth?", "worth"),
        ("How much is the {c} in {a} worth?", "how-much-worth"), ("What value does the {c} have in {a}?", "value-does"),
        ("In {a}, what is the value of the {c}?", "in-first"), ("What is the value of the digit {c} in {a}?", "digit"),
        ("In the number {a}, what is the {c} worth?", "in-number"), ("Tell me the value of the {c} in {a}.", "tell"),
        ("What is the {c} worth in {a}?", "worth-in"), ("How much is the {c} in {a}?", "how-much"),
        ("What does the {c} in {a} stand for?", "stand-for"), ("In {a}, how much is the {c} worth?", "in-how-much"),
        ("Tell me what the {c} in {a} is worth.", "tell-worth"), ("What is the {c} in the number {a} worth?", "in-the-number-worth"),
        ("Find the value of the {c} in {a}.", "find"), ("The {c} in {a} is worth how much?", "is-worth-how-much"),
    ]

    /// The digit in a named place: `%P` is ones, tens or hundreds, `{a}` the number.
    static let placeDigitFrames: [(String, String)] = [
        ("What is the %P digit of {a}?", "digit-of"), ("What is the %P digit in {a}?", "digit-in"),
        ("Which digit is in the %P place of {a}?", "which-in-place"), ("What digit is in the %P place in {a}?", "what-in-place"),
        ("In {a}, what is the %P digit?", "in-first"), ("In the number {a}, which digit is in the %P place?", "in-number"),
        ("Tell me the %P digit of {a}.", "tell"), ("Name the %P digit of {a}.", "name"), ("Find the %P digit of {a}.", "find"),
        ("What is the digit in the %P place of {a}?", "digit-in-place"), ("Look at {a}. What is its %P digit?", "look"),
        ("What number is in the %P place of {a}?", "number-in-place"), ("The number {a} has what %P digit?", "has-what"),
        ("Which digit of {a} is in the %P place?", "which-of"), ("What does {a} have in the %P place?", "have-in"),
    ]
    static let placeWords: [(word: String, op: ProgramOp)] = [("ones", .onesDigit), ("tens", .tensDigit), ("hundreds", .hundredsDigit)]

    /// Odd and even: `%K` is the parity word, `{a}` the number.
    static let oddEvenFrames: [(String, String)] = [
        ("Is {a} %K?", "is"), ("Is {a} an %K number?", "an-number"), ("Is the number {a} %K?", "the-number"),
        ("Is it true that {a} is %K?", "true-that"), ("Would you say {a} is %K?", "would-say"), ("Is {a} %K or not?", "or-not"),
        ("Do you think {a} is %K?", "think"), ("Tell me if {a} is %K.", "tell-if"), ("Is {a} a number that is %K?", "number-that"),
        ("Can you say that {a} is %K?", "can-say"), ("Is the number {a} an %K one?", "an-one"),
    ]

    /// Expanded form: `%S` names the sum of three parts `{a}`, `{m}`, `{c}`; `{b}` is the number.
    static let expandedSums: [(String, String)] = [
        ("{a} plus {m} plus {c}", "plus"), ("the sum of {a}, {m} and {c}", "sum-of"),
        ("{a}, {m} and {c} added together", "added-together"), ("the total of {a}, {m} and {c}", "total-of"),
    ]
    static let expandedFrames: [(String, String)] = [
        ("Is {b} equal to %S?", "b-equal"), ("Is %S equal to {b}?", "s-equal"), ("Does %S equal {b}?", "s-equals"),
        ("Is {b} the same as %S?", "b-same"), ("Is %S the same as {b}?", "s-same"), ("Is it true that {b} is %S?", "true-that"),
        ("Does %S make {b}?", "s-makes"), ("Can you write {b} as %S?", "write-as"), ("Does {b} equal %S?", "b-equals"),
        ("Is %S another way to write {b}?", "another-way"), ("Is {b} written as %S in expanded form?", "expanded"),
    ]

    static func grade2Phrasings(for concept: Concept, into b: inout Builder) {
        switch concept {
        case .expandedForm:
            let p = ProgramSketch(.total, "a", .equal, "b", c: "c")
            for (f, id) in expandedFrames {
                for (e, eid) in expandedSums {
                    b.add(f.replacingOccurrences(of: "%S", with: e), p, frame: "g2-expanded-\(id)", words: "g2-expanded-\(eid)")
                }
            }
        case .placeDigit:
            for (f, id) in placeDigitFrames {
                for w in placeWords {
                    b.add(f.replacingOccurrences(of: "%P", with: w.word), ProgramSketch(w.op, "a"), frame: "g2-digit-\(id)",
                          words: "g2-digit-\(w.word)")
                }
            }
        case .oddEven:
            for (f, id) in oddEvenFrames {
                for (w, rel) in [("even", ProgramRelation.even), ("odd", .odd)] {
                    b.add(f.replacingOccurrences(of: "%K", with: w), ProgramSketch(.identity, "a", rel), frame: "g2-parity-\(id)",
                          words: "g2-parity-\(w)")
                }
            }
        case .skipCount:
            let p = ProgramSketch(.nextTerm, "a", c: "c")
            for (f, id) in sequenceFrames {
                for (tail, wid) in [("", "plain"), (" Count by the same step.", "same-step"), (" Keep the same step.", "keep-step")]
                    where tail.isEmpty || !f.hasSuffix(".") {
                    b.add(f + tail, p, frame: "g2-sequence-\(id)", words: "g2-sequence-\(wid)")
                }
            }
        case .placeValue:
            let p = ProgramSketch(.placeValue, "a", c: "c")
            for (f, id) in placeValueFrames {
                for (digit, wid) in [("{c}", "digit"), ("digit {c}", "digit-word")] where !(f.contains("digit {c}") && wid == "digit-word") {
                    b.add(f.replacingOccurrences(of: "{c}", with: digit), p, frame: "g2-place-\(id)", words: "g2-place-\(wid)")
                }
            }
        case .add, .subtract:
            let plus = concept == .add
            let p = ProgramSketch(plus ? .add : .subtract, "a", c: "c")
            for e in arithmeticExpressions(plus: plus) {
                for (f, id) in arithmeticQuestionFrames {
                    b.add(f.replacingOccurrences(of: "%E", with: e.text), p, frame: "g2-ask-\(id)", words: "g2-\(concept)-\(e.id)")
                }
            }
            for (v, vid) in arithmeticVerbs(plus: plus) {
                for (f, id) in arithmeticVerbFrames {
                    b.add(f.replacingOccurrences(of: "%V", with: v), p, frame: "g2-verb-\(id)", words: "g2-\(concept)-\(vid)")
                }
            }
        case .addSubCheck:
            for plus in [true, false] {
                let p = ProgramSketch(plus ? .add : .subtract, "a", .equal, "b", c: "c")
                for e in arithmeticExpressions(plus: plus) {
                    // "Is it true that 13 more than 24 is 37?" has the words of Grade 1's "Is it true
                    // that 37 is more than 24?": a word-bag reader cannot tell equal from greater.
                    for f in checkFrames where (e.np || !f.np) && !(f.id == "true-that" && (e.id == "more" || e.id == "less")) {
                        b.add(f.frame.replacingOccurrences(of: "%E", with: e.text), p, frame: "g2-check-\(f.id)",
                              words: "g2-\(plus ? "add" : "subtract")-\(e.id)")
                    }
                }
                for (v, vid) in arithmeticVerbs(plus: plus) {
                    for (f, id) in checkVerbFrames {
                        b.add(f.replacingOccurrences(of: "%V", with: v), p, frame: "g2-check-verb-\(id)",
                              words: "g2-\(plus ? "add" : "subtract")-\(vid)")
                    }
                }
            }
        case .missingAddend:
            let p = ProgramSketch(.subtract, "a", c: "c")
            for (f, id) in missingAddendFrames {
                for v in missingVerbs {
                    b.add(f.replacingOccurrences(of: "%S", with: v.s).replacingOccurrences(of: "%I", with: v.i), p,
                          frame: "g2-missing-\(id)", words: "g2-missing-\(f.contains("%S") ? v.s : v.i)")
                }
            }
            b.add("How many more than {c} is {a}?", p, frame: "g2-missing-how-many-more", words: "g2-missing-more")
            b.add("How many more is {a} than {c}?", p, frame: "g2-missing-how-many-more", words: "g2-missing-more-is")
        case .wordProblem:
            for s in stories {
                let p = ProgramSketch(s.plus ? .add : .subtract, "a", c: "c")
                for name in storyNames {
                    for thing in storyThings {
                        b.add(s.text.replacingOccurrences(of: "{N}", with: name).replacingOccurrences(of: "{T}", with: thing), p,
                              frame: "g2-story-\(s.id)", words: "g2-story")
                    }
                }
            }
        default:
            break
        }
    }

    /// Two hand-written sentences per Grade 2 concept in constructions the grammar does not have
    /// (every word of them occurs in training; a test checks it).
    static func grade2Fixed(_ concept: Concept) -> [(String, ProgramSketch)] {
        let add = ProgramSketch(.add, "a", c: "c"), sub = ProgramSketch(.subtract, "a", c: "c")
        switch concept {
        case .add: return [("What number do you get when {a} and {c} are added together?", add),
                           ("How much do {a} and {c} make together?", add)]
        case .subtract: return [("How much is left if you take {c} away from {a}?", sub),
                                ("What number do you get when you take {c} away from {a}?", sub)]
        case .addSubCheck: return [("Do {a} and {c} added together make {b}?", .init(.add, "a", .equal, "b", c: "c")),
                                   ("If you take {c} away from {a}, is {b} left?", .init(.subtract, "a", .equal, "b", c: "c"))]
        case .missingAddend: return [("What number do you add to {c} to get {a}?", sub),
                                     ("{c} plus what number makes {a}?", sub)]
        case .skipCount: return [("What number comes next when you count {p}, {c}, {a}?", .init(.nextTerm, "a", c: "c")),
                                 ("If you count {p}, {c}, {a}, what is the next number?", .init(.nextTerm, "a", c: "c"))]
        case .placeValue: return [("How much is the digit {c} worth in {a}?", .init(.placeValue, "a", c: "c")),
                                  ("What is {c} worth in the number {a}?", .init(.placeValue, "a", c: "c"))]
        case .placeDigit: return [("Which digit sits in the tens place of {a}?", .init(.tensDigit, "a")),
                                  ("Look at {a}. Which digit is in its hundreds place?", .init(.hundredsDigit, "a"))]
        case .compare: return [("When counting, does {a} come after {b}?", .init(.identity, "b", .smaller, "a")),
                               ("Is {b} lower than {a}?", .init(.identity, "a", .greater, "b"))]
        case .expandedForm: return [("If you add {a}, {m} and {c}, do you get {b}?", .init(.total, "a", .equal, "b", c: "c")),
                                    ("Do {a}, {m} and {c} add up to {b}?", .init(.total, "a", .equal, "b", c: "c"))]
        case .oddEven: return [("Is {a} an even number or not?", .init(.identity, "a", .even)),
                               ("Is it true that the number {a} is odd?", .init(.identity, "a", .odd))]
        case .wordProblem: return [("Mia has {a} shells. Sam gives Mia {c} more. How many shells does Mia have now?", add),
                                   ("{a} books are in a box. Ben takes out {c} of them. How many books are in the box now?", sub)]
        default: return []
        }
    }
}
