import XCTest
@testable import Curriculum

/// Question files are checked by the generator's oracle: a line whose answer its concept and
/// operands contradict is reported with its line number and left out.
final class AnswerCheckTests: XCTestCase {
    /// The oracle agrees with every generated question it can check, on every split.
    func testOracleAgreesWithTheGenerator() {
        let generator = LessonGenerator(config: LessonConfig(seed: UInt64.random(in: 0...1000)))
        var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
        var checked = 0
        for split in Split.allCases where generator.canGenerate(split) {
            for q in generator.generate(split: split, count: 1300, rng: &rng) {
                guard let expected = q.expectedAnswer else {
                    XCTAssertEqual(q.concept, .equality, "only equality is left unchecked: \(q.text)")
                    continue
                }
                checked += 1
                XCTAssertEqual(expected, q.answer, "\(q.concept.rawValue)\(q.operands): \(q.text)")
            }
        }
        XCTAssertGreaterThan(checked, 4000)
    }

    func testMislabeledLineIsReportedAndLeftOut() throws {
        let text = """
        {"question": "Is 3 greater than 2?", "answer": "yes", "concept": "greater", "operands": [3, 2]}

        {"question": "Is 3 greater than 2?", "answer": "no", "concept": "greater", "operands": [3, 2]}
        {"question": "What comes after 9?", "answer": "11", "concept": "count_after", "operands": [9]}
        {"question": "Is 5 the same as the number after 4?", "answer": "yes", "concept": "equality", "operands": [4, 5]}
        """
        let lines = try QuestionFile.parseNumbered(text, name: "q.jsonl")
        XCTAssertEqual(lines.map(\.line), [1, 3, 4, 5])
        let (kept, messages) = QuestionFile.checkAnswers(lines, file: "q.jsonl")
        XCTAssertEqual(kept.count, 2)
        XCTAssertEqual(messages, [
            "q.jsonl:3: the answer \"no\" disagrees with greater(3, 2) = yes; left out of the score (--trust_answers scores it)",
            "q.jsonl:4: the answer \"11\" disagrees with count_after(9) = 10; left out of the score (--trust_answers scores it)",
        ])
    }
}
