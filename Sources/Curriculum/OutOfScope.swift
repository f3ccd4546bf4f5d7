/// Questions outside what the model's grades teach, for measuring abstention: a model that knows what it
/// does not know answers "cannot answer" on these instead of a confident guess.
///
/// Four kinds, each built from its own word lists and random numbers (so the set is not a fixed
/// list of sentences to tune against):
/// - `otherOperation`: arithmetic the grades taught have no op for (for Grade 1: sums and differences of two numbers,
///   products, halves, "which is bigger" asking for a number);
/// - `otherGrade`: later-grade ideas (primes, square roots, rounding, fractions, money, time);
/// - `nonsense`: sentences about no number at all, or made of words the model never saw;
/// - `unsupportedNumber`: in-scope questions with numbers the ops cannot hold (more digits than
///   the model's places, negative numbers, decimals).
public enum OutOfScopeKind: String, CaseIterable, Codable, Sendable {
    case otherOperation = "other_operation"
    case otherGrade = "other_grade"
    case nonsense
    case unsupportedNumber = "unsupported_number"
}

public struct OutOfScopeQuestion: Sendable, Equatable {
    public let text: String
    public let kind: OutOfScopeKind
}

public enum OutOfScope {
    static let otherOperations = [
        "What is {a} plus {b}?", "What is {a} minus {b}?", "What is {a} times {b}?", "What is {a} divided by {b}?",
        "Is {a} plus {b} equal to {c}?", "Is {a} minus {b} equal to {c}?", "What do you get if you add {a} and {b}?",
        "Which is bigger, {a} or {b}?", "Which is smaller, {a} or {b}?", "What is half of {a}?", "What is double {a}?",
        "How much is {a} and {b} together?", "What is the sum of {a} and {b}?", "Take {b} away from {a}. What is left?",
        "What is {a} more than {b}?", "Which number is three more than {a}?", "What is ten less than {a}?",
        "Is {a} three more than {b}?", "How many numbers are between {a} and {b}?", "Count back five from {a}.",
    ]
    /// The operations still outside Grade 2 (which teaches sums and differences of two numbers).
    static let otherOperationsAfterGrade2 = [
        "What is {a} times {b}?", "What is {a} divided by {b}?", "Which is bigger, {a} or {b}?", "Which is smaller, {a} or {b}?",
        "What is half of {a}?", "What is double {a}?", "Which number is three more than {a}?", "What is ten less than {a}?",
        "Is {a} three more than {b}?", "How many numbers are between {a} and {b}?", "Count back five from {a}.",
        "What is {a} times {b} plus {c}?", "Is {a} twice {b}?",
    ]
    static let otherGrades = [
        "Is {a} a prime number?", "What is the square root of {a}?", "Round {a} to the nearest ten.",
        "What is {a} percent of {b}?", "Is {a} a multiple of {b}?", "What is one third of {a}?",
        "How many minutes are in {a} hours?", "If a pen costs {a} cents, how much do {b} pens cost?",
        "What is {a} squared?", "Is {a} divisible by {b}?", "What is the remainder when {a} is divided by {b}?",
        "How many sides does a shape with {a} corners have?", "What time is it {a} minutes after noon?",
        "Solve x plus {a} equals {b}.", "What is the area of a square with side {a}?",
    ]
    static let nonsenseSentences = [
        "banana", "The cat sat on the mat.", "Is the sky blue?", "What is your name?", "Hello there!",
        "Which colour is the sun?", "Tell me a story about a dragon.", "How are you today?",
        "Is it raining?", "Why do birds sing?", "What is the capital of France?", "Yes or no?",
        "Is this greater?", "Which number?", "What comes next?", "Are they the same?",
    ]
    static let madeUpWords = ["zorp", "blick", "frumble", "quax", "snerd", "plonk", "wuzzle", "grimp", "vosh", "trindle"]

    /// `count` questions, the kinds in turn.
    public static func generate(count: Int, generator: LessonGenerator, places: Int = 4, rng: inout SplitMix64) -> [OutOfScopeQuestion] {
        (0..<count).map { i in
            let kind = OutOfScopeKind.allCases[i % OutOfScopeKind.allCases.count]
            return OutOfScopeQuestion(text: text(kind, generator: generator, places: places, rng: &rng), kind: kind)
        }
    }

    static func text(_ kind: OutOfScopeKind, generator: LessonGenerator, places: Int, rng: inout SplitMix64) -> String {
        func fill(_ frame: String) -> String {
            let a = rng.int(in: 2...99), b = rng.int(in: 2...99), c = rng.int(in: 2...99)
            return frame.replacingOccurrences(of: "{a}", with: String(a)).replacingOccurrences(of: "{b}", with: String(b))
                .replacingOccurrences(of: "{c}", with: String(c))
        }
        switch kind {
        case .otherOperation: return fill(rng.pick(generator.config.grade >= 2 ? otherOperationsAfterGrade2 : otherOperations))
        case .otherGrade: return fill(rng.pick(otherGrades))
        case .nonsense:
            if rng.int(in: 0...1) == 0 { return rng.pick(nonsenseSentences) }
            // A question shaped like Grade 1 whose words carrying the meaning are made up.
            let w1 = rng.pick(madeUpWords), w2 = rng.pick(madeUpWords)
            let shapes = ["Does {a} \(w1) the \(w2) of {b}?", "Is {a} \(w1) \(w2) than {b}?", "What is the \(w1) of {a}?",
                          "Which \(w1) \(w2) {a}?", "Are {a} and {b} \(w1)?"]
            return fill(rng.pick(shapes))
        case .unsupportedNumber:
            // An in-scope question with one number replaced by one the ops cannot hold.
            let q = generator.generate(split: .train, count: 1, rng: &rng)[0]
            let numbers = q.text.split(whereSeparator: { !$0.isNumber }).map(String.init)
            guard !numbers.isEmpty else { return q.text }
            let target = rng.pick(numbers)
            let replacement: String
            switch rng.int(in: 0...2) {
            case 0:
                let digits = rng.int(in: (places + 1)...(places + 3))
                replacement = String(rng.int(in: 1...9)) + (1..<digits).map { _ in String(rng.int(in: 0...9)) }.joined()
            case 1: replacement = "-" + target
            default: replacement = target + "." + String(rng.int(in: 1...9))
            }
            return replaceNumber(target, with: replacement, in: q.text)
        }
    }

    /// Replaces the first whole-number occurrence of `number` (not part of a longer digit run).
    static func replaceNumber(_ number: String, with replacement: String, in text: String) -> String {
        let chars = Array(text), target = Array(number)
        var i = 0
        while i + target.count <= chars.count {
            let before = i == 0 ? nil : chars[i - 1], after = i + target.count < chars.count ? chars[i + target.count] : nil
            if Array(chars[i..<(i + target.count)]) == target, !(before?.isNumber ?? false), !(after?.isNumber ?? false) {
                return String(chars[..<i]) + replacement + String(chars[(i + target.count)...])
            }
            i += 1
        }
        return text
    }
}
