import Foundation

/// JSONL question files: one object per line,
/// `{"question": "...", "answer": "yes"|"no"|"<number>", "concept": "<name>", "operands": [a, b], "split": "..."}`.
///
/// Reading: `question`, `answer` and `concept` are required; `operands` (default `[]`), `split`
/// (default `heldout`: a hand-written question is unseen data) and `template` (default -1) are
/// optional; other keys are ignored; blank lines are skipped. Any malformed line stops the read with
/// one line of error: `questions.jsonl:17: missing key "answer" (expected "yes", "no" or a whole number)`.
/// Unknown words are not an error here: `Tokenizer.unknownWords(in:)` reports them.
public enum QuestionFile {
    /// The split given to a question whose line has no "split".
    public static let defaultSplit: Split = .heldout

    /// Reads a question file.
    public static func read(_ url: URL) throws -> [Question] { try readNumbered(url).map(\.question) }

    /// Reads a question file, each question with its 1-based line number.
    public static func readNumbered(_ url: URL) throws -> [(line: Int, question: Question)] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw QuestionFileError(file: url.lastPathComponent, line: 0, message: "cannot read the file (\(error.localizedDescription))")
        }
        return try parseNumbered(data: data, name: url.lastPathComponent)
    }

    /// Parses the bytes of a question file (UTF-8 checked first).
    public static func parseNumbered(data: Data, name: String) throws -> [(line: Int, question: Question)] {
        guard let text = String(data: data, encoding: .utf8) else {
            throw QuestionFileError(file: name, line: 0, message: "not UTF-8 text (expected JSON lines)")
        }
        return try parseNumbered(text, name: name)
    }

    /// Parses the text of a question file; `name` is used in error messages.
    public static func parse(_ text: String, name: String = "questions.jsonl") throws -> [Question] {
        try parseNumbered(text, name: name).map(\.question)
    }

    /// Parses the text of a question file, each question with its 1-based line number.
    public static func parseNumbered(_ text: String, name: String = "questions.jsonl") throws -> [(line: Int, question: Question)] {
        var questions: [(line: Int, question: Question)] = []
        var lineNumber = 0
        let decoder = JSONDecoder()
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            func fail(_ message: String) -> QuestionFileError {
                QuestionFileError(file: name, line: lineNumber, message: message)
            }
            let value: JSONValue
            do { value = try decoder.decode(JSONValue.self, from: Data(line.utf8)) } catch {
                throw fail("invalid JSON (expected one JSON object per line)")
            }
            guard case .object(let object) = value else {
                throw fail("not a JSON object (expected {\"question\": ..., \"answer\": ..., \"concept\": ...})")
            }

            guard let questionValue = object["question"] else { throw fail("missing key \"question\" (expected the question text)") }
            guard case .string(let questionText) = questionValue else {
                throw fail("\"question\" is \(questionValue.kind) (expected a string)")
            }
            if questionText.trimmingCharacters(in: .whitespaces).isEmpty { throw fail("\"question\" is empty (expected the question text)") }

            guard let answerValue = object["answer"] else { throw fail("missing key \"answer\" (expected \"yes\", \"no\" or a whole number)") }
            let answer: Answer
            switch answerValue {
            case .string(let s):
                guard let a = Answer(string: s) else { throw fail("answer \"\(s)\" is not an answer (expected \"yes\", \"no\" or a whole number)") }
                answer = a
            case .int(let n): answer = .number(n)
            default: throw fail("\"answer\" is \(answerValue.kind) (expected \"yes\", \"no\" or a whole number)")
            }

            let names = Concept.allCases.map(\.rawValue).joined(separator: ", ")
            guard let conceptValue = object["concept"] else { throw fail("missing key \"concept\" (expected one of \(names))") }
            guard case .string(let conceptName) = conceptValue else { throw fail("\"concept\" is \(conceptValue.kind) (expected one of \(names))") }
            guard let concept = Concept(rawValue: conceptName) else { throw fail("unknown concept \"\(conceptName)\" (expected one of \(names))") }
            if concept.isYesNo != answer.isYesNo {
                throw fail("answer \"\(answer.string)\" does not fit concept \"\(concept.rawValue)\" (expected \(concept.isYesNo ? "\"yes\" or \"no\"" : "a whole number"))")
            }

            var operands: [Int] = []
            if let operandsValue = object["operands"] {
                guard case .array(let items) = operandsValue else { throw fail("\"operands\" is \(operandsValue.kind) (expected an array of whole numbers)") }
                for item in items {
                    guard case .int(let n) = item else { throw fail("\"operands\" holds \(item.kind) (expected an array of whole numbers)") }
                    operands.append(n)
                }
            }

            var split = defaultSplit
            if let splitValue = object["split"] {
                let expected = Split.allCases.map(\.rawValue).joined(separator: ", ")
                guard case .string(let s) = splitValue else { throw fail("\"split\" is \(splitValue.kind) (expected one of \(expected))") }
                guard let sp = Split(rawValue: s) else { throw fail("unknown split \"\(s)\" (expected one of \(expected))") }
                split = sp
            }

            var template = -1
            if let templateValue = object["template"] {
                guard case .int(let t) = templateValue else { throw fail("\"template\" is \(templateValue.kind) (expected a whole number)") }
                template = t
            }
            questions.append((lineNumber, Question(text: questionText, answer: answer, concept: concept, operands: operands, split: split, template: template)))
        }
        return questions
    }

    /// The JSONL line of a question (keys in the documented order, no trailing newline).
    public static func jsonLine(_ q: Question) -> String {
        var s = "{\"question\": "
        appendJSONString(q.text, to: &s)
        s += ", \"answer\": \"\(q.answer.string)\", \"concept\": \"\(q.concept.rawValue)\", \"operands\": ["
        s += q.operands.map(String.init).joined(separator: ", ")
        s += "], \"split\": \"\(q.split.rawValue)\"}"
        return s
    }

    /// The text of a question file.
    public static func text(_ questions: [Question]) -> String {
        var out = ""
        for q in questions { out += jsonLine(q); out += "\n" }
        return out
    }

    /// Writes a question file atomically (temporary file, then rename).
    public static func write(_ questions: [Question], to url: URL) throws {
        do {
            try Data(text(questions).utf8).write(to: url, options: .atomic)
        } catch {
            throw QuestionFileError(file: url.path, line: 0, message: "cannot write the file (\(error.localizedDescription))")
        }
    }

    static func appendJSONString(_ text: String, to s: inout String) {
        s += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": s += "\\\""
            case "\\": s += "\\\\"
            case "\n": s += "\\n"
            case "\r": s += "\\r"
            case "\t": s += "\\t"
            default:
                if scalar.value < 0x20 {
                    s += String(format: "\\u%04x", scalar.value)
                } else {
                    s.unicodeScalars.append(scalar)
                }
            }
        }
        s += "\""
    }
}

extension QuestionFile {
    /// Splits read lines into those whose answer agrees with the oracle (or that it cannot check)
    /// and one message per line that disagrees: `file:line: the answer "no" disagrees with
    /// greater(3, 2) = yes; left out of the score (--trust_answers scores it)`.
    public static func checkAnswers(_ lines: [(line: Int, question: Question)], file: String) -> (kept: [Question], disagreements: [String]) {
        var kept: [Question] = [], messages: [String] = []
        for (line, q) in lines {
            if let expected = q.expectedAnswer, expected != q.answer {
                let call = "\(q.concept.rawValue)(\(q.operands.map(String.init).joined(separator: ", ")))"
                messages.append("\(file):\(line): the answer \"\(q.answer.string)\" disagrees with \(call) = \(expected.string); left out of the score (--trust_answers scores it)")
            } else {
                kept.append(q)
            }
        }
        return (kept, messages)
    }
}

extension Question {
    /// The answer the concept and operands say this question must have (the generator's oracle),
    /// or nil where they do not decide it: equality statements, word problems and add_sub_check
    /// statements (the answer depends on the words the sentence uses) and questions without the
    /// operands their concept needs.
    public var expectedAnswer: Answer? {
        let o = operands
        switch concept {
        case .countAfter: return o.count >= 1 ? .number(o[0] + 1) : nil
        case .countBefore: return o.count >= 1 ? .number(o[0] - 1) : nil
        case .countBetween: return o.count == 2 && abs(o[0] - o[1]) == 2 ? .number((o[0] + o[1]) / 2) : nil
        case .equality: return nil
        case .add: return o.count == 2 ? .number(o[0] + o[1]) : nil
        case .subtract, .missingAddend: return o.count == 2 && o[0] >= o[1] ? .number(o[0] - o[1]) : nil
        // Whether the story or statement adds or subtracts is in its words, not its operands.
        case .wordProblem, .addSubCheck: return nil
        // Which place, or whether odd or even is asked, is in the words too.
        case .placeDigit, .oddEven: return nil
        case .expandedForm: return o.count == 4 ? Answer(o[1] + o[2] + o[3] == o[0]) : nil
        case .skipCount: return o.count == 3 && o[1] - o[0] == o[2] - o[1] && 2 * o[2] - o[1] >= 0 ? .number(2 * o[2] - o[1]) : nil
        case .placeValue:
            guard o.count == 2, (1...9).contains(o[0]), o[1] >= 0 else { return nil }
            let digits = String(o[1]).compactMap { $0.wholeNumberValue }
            guard let i = digits.firstIndex(of: o[0]) else { return nil }
            return .number(o[0] * Int(pow(10.0, Double(digits.count - 1 - i))))
        default:
            guard o.count == 2, let truth = concept.holds(o[0], o[1]) else { return nil }
            return truth ? .yes : .no
        }
    }
}

/// A problem with a question file, in one line: `file:line: what is wrong (what is expected)`.
public struct QuestionFileError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    /// 1-based line number; 0 for problems with the file as a whole.
    public let line: Int
    public let message: String

    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}

extension QuestionFileError: LocalizedError {
    public var errorDescription: String? { description }
}

/// Any JSON value, for reading lines with precise errors.
enum JSONValue: Decodable {
    case null, bool(Bool), int(Int), double(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
