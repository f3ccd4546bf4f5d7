import XCTest
@testable import Curriculum

final class QuestionFileTests: XCTestCase {
    func testRoundTrip() throws { try roundTrip(grade: 1, split: .ood) }

    /// Grade 2 questions (carry split included) write, read back, and pass the oracle check.
    func testGrade2RoundTrip() throws {
        try roundTrip(grade: 2, split: .carry)
        let generator = LessonGenerator(config: LessonConfig(seed: 5, grade: 2))
        var rng = SplitMix64(seed: freshSeed())
        let qs = generator.generate(split: .heldout, count: 400, concepts: Concept.grade2, rng: &rng)
        let (kept, messages) = QuestionFile.checkAnswers(qs.enumerated().map { ($0.offset + 1, $0.element) }, file: "g2.jsonl")
        XCTAssertEqual(kept.count, qs.count, messages.joined(separator: "; "))
        var wrong = qs.filter { $0.concept == .add }
        wrong[0].answer = .number((wrong[0].answer.number ?? 0) + 10)
        XCTAssertEqual(QuestionFile.checkAnswers(wrong.enumerated().map { ($0.offset + 1, $0.element) }, file: "g2.jsonl").kept.count,
                       wrong.count - 1, "a wrong sum is caught")
    }

    func roundTrip(grade: Int, split: Split) throws {
        let generator = LessonGenerator(config: LessonConfig(seed: 5, grade: grade))
        var rng = SplitMix64(seed: freshSeed())
        var questions = generator.generate(split: split, count: 200, rng: &rng)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("curriculum-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        try QuestionFile.write(questions, to: url)
        let back = try QuestionFile.read(url)
        for i in questions.indices { questions[i].template = -1 }  // files do not carry phrasing ids
        XCTAssertEqual(back, questions)
        // Lines are in the documented key order.
        let firstLine = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")[0]
        XCTAssertTrue(firstLine.hasPrefix("{\"question\": \""), String(firstLine))
        XCTAssertTrue(firstLine.contains("\"split\": \"\(split.rawValue)\"}"))
        // JSONDecoder reads the same lines.
        let decoded = try JSONDecoder().decode(Question.self, from: Data(firstLine.utf8))
        XCTAssertEqual(decoded, questions[0])
    }

    func testEscapingAndOptionalKeys() throws {
        let q = Question(text: "Is \"5\" \\ big?\n", answer: .yes, concept: .greater, operands: [5, 1], split: .train, template: -1)
        XCTAssertEqual(try QuestionFile.parse(QuestionFile.text([q])), [q])
        let minimal = try QuestionFile.parse(#"{"question": "What comes after 9?", "answer": 10, "concept": "count_after"}"# + "\r\n\n")
        XCTAssertEqual(minimal.count, 1)
        XCTAssertEqual(minimal[0].answer, .number(10))
        XCTAssertEqual(minimal[0].split, QuestionFile.defaultSplit)
        XCTAssertEqual(minimal[0].operands, [])
    }

    func expectError(_ text: String, line: Int, contains fragment: String, file: StaticString = #filePath, lineNo: UInt = #line) {
        XCTAssertThrowsError(try QuestionFile.parse(text, name: "questions.jsonl"), file: file, line: lineNo) { error in
            guard let e = error as? QuestionFileError else { return XCTFail("\(error)", file: file, line: lineNo) }
            XCTAssertEqual(e.line, line, e.description, file: file, line: lineNo)
            XCTAssertTrue(e.description.hasPrefix("questions.jsonl:\(line): "), e.description, file: file, line: lineNo)
            XCTAssertTrue(e.description.contains(fragment), e.description, file: file, line: lineNo)
            XCTAssertFalse(e.description.contains("\n"), file: file, line: lineNo)
        }
    }

    func testMalformedLinesNameTheLineAndTheProblem() {
        let good = #"{"question": "Is 3 greater than 2?", "answer": "yes", "concept": "greater", "operands": [3, 2], "split": "train"}"#
        let lines = { (bad: String) in [good, "", good, bad, good].joined(separator: "\n") }
        expectError(lines(#"{"question": "Is 3 greater than 2?", "concept": "greater"}"#), line: 4, contains: #"missing key "answer""#)
        expectError(lines(#"{"answer": "yes", "concept": "greater"}"#), line: 4, contains: #"missing key "question""#)
        expectError(lines(#"{"question": "Is 3 greater than 2?", "answer": "yes"}"#), line: 4, contains: #"missing key "concept""#)
        expectError(lines(#"{"question": "Is 3 greater than 2?", "answer": "maybe", "concept": "greater"}"#), line: 4, contains: #"answer "maybe" is not an answer"#)
        expectError(lines(#"{"question": "Is 3 greater than 2?", "answer": "yes", "concept": "biggest"}"#), line: 4, contains: #"unknown concept "biggest""#)
        expectError(lines(#"{"question": "Is 3 greater than 2?", "answer": "7", "concept": "greater"}"#), line: 4, contains: "does not fit")
        expectError(lines(#"{"question": 12, "answer": "yes", "concept": "greater"}"#), line: 4, contains: "expected a string")
        expectError(lines(#"{"question": "Is 3 greater than 2?", "answer": "yes", "concept": "greater", "operands": "3,2"}"#), line: 4, contains: "operands")
        expectError(lines(#"{"question": "Is 3 greater than 2?", "answer": "yes", "concept": "greater", "split": "test"}"#), line: 4, contains: #"unknown split "test""#)
        expectError(lines(#"{"question": "Is 3 greater"#), line: 4, contains: "invalid JSON")
        expectError(lines(#"["Is 3 greater than 2?", "yes"]"#), line: 4, contains: "not a JSON object")
        expectError(good + "\n" + #"{"question": "", "answer": "yes", "concept": "greater"}"#, line: 2, contains: "empty")
    }

    func testReadReportsFileName() {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        try? Data("{\"question\": \"x\"}\n".utf8).write(to: url)
        XCTAssertThrowsError(try QuestionFile.read(url)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(url.lastPathComponent):1: missing key \"answer\""), "\(error)")
        }
    }

    func testUnknownWordsAreReportedNotFatal() throws {
        let questions = try QuestionFile.parse(#"{"question": "Is 30 humongous beside 2?", "answer": "yes", "concept": "greater"}"#)
        let unknown = Tokenizer.build().unknownWords(in: questions)
        XCTAssertEqual(unknown["humongous"], 1)
        XCTAssertEqual(unknown["beside"], 1)
        XCTAssertNil(unknown["is"])
    }
}
