import XCTest
@testable import Curriculum

final class OracleTests: XCTestCase {
    /// Every answer (and every operand list) agrees with the independent oracle, for every split,
    /// for the default config and for numbers up to 1000, on a fresh seed.
    func testEveryAnswerAgreesWithTheOracle() {
        let seed = freshSeed()
        for config in [LessonConfig(seed: seed), LessonConfig(maxNumber: 1000, seed: seed ^ 1),
                       LessonConfig(trainRange: 30...80, oodRange: 200...260, templateHoldout: true, seed: seed ^ 2),
                       LessonConfig(seed: seed ^ 3, grade: 2)] {
            let generator = LessonGenerator(config: config)
            for split in Split.allCases where generator.canGenerate(split) {
                var rng = SplitMix64(seed: seed).derived(UInt64(Split.allCases.firstIndex(of: split)!))
                let questions = generator.generate(split: split, count: 2600, rng: &rng)
                XCTAssertEqual(questions.count, 2600)
                var failures = 0
                for q in questions {
                    let readings = Oracle.readings(q.text, concept: q.concept)
                    guard let reading = Oracle.reading(q) else {
                        failures += 1
                        if failures < 5 { XCTFail("seed \(seed): oracle cannot read \(q.concept.rawValue) question \"\(q.text)\"") }
                        continue
                    }
                    XCTAssertEqual(Set(readings.map(\.answer.string)).count, 1, "seed \(seed): \"\(q.text)\" reads to different answers")
                    if reading.programAnswer != q.answer {
                        failures += 1
                        if failures < 5 {
                            XCTFail("seed \(seed): \"\(q.text)\" (\(q.concept.rawValue)): its worked solution gives \(reading.programAnswer?.string ?? "no value"), the answer is \(q.answer.string)")
                        }
                    }
                    XCTAssertEqual(q.program.map { _ in true }, true, "\(q.text) has no worked solution")
                    if reading.answer != q.answer || reading.operands != q.operands {
                        failures += 1
                        if failures < 5 {
                            XCTFail("seed \(seed): \"\(q.text)\" (\(q.concept.rawValue)) generator says \(q.answer.string) \(q.operands), oracle says \(reading.answer.string) \(reading.operands)")
                        }
                    }
                    XCTAssertEqual(q.split, split)
                }
                XCTAssertEqual(failures, 0, "seed \(seed), split \(split.rawValue): \(failures) disagreements")
            }
        }
    }

    /// The oracle itself can tell right from wrong (so the test above can fail).
    func testOracleCatchesWrongAnswers() {
        let wrong = Question(text: "Is 5 the successor of 4?", answer: .no, concept: .successor, operands: [4, 5], split: .train, template: 0)
        XCTAssertEqual(Oracle.readings(wrong.text, concept: .successor).first?.answer, .yes)
        XCTAssertNotEqual(Oracle.readings(wrong.text, concept: .successor).first?.answer, wrong.answer)
        XCTAssertEqual(Oracle.readings("Is 37 greater than 41?", concept: .greater).first?.answer, .no)
        XCTAssertEqual(Oracle.readings("Is 37 less than 41?", concept: .greater).first?.answer, .yes)
        XCTAssertEqual(Oracle.readings("Is the successor of 93 equal to 94?", concept: .equality).first?.answer, .yes)
        XCTAssertEqual(Oracle.readings("Is 93 equal to the number between 90 and 92?", concept: .equality).first?.answer, .no)
        XCTAssertEqual(Oracle.readings("What number is in the middle of 87 and 85?", concept: .countBetween).first?.answer, .number(86))
        // Phrasings that differ only in the order of the numbers are told apart.
        XCTAssertEqual(Oracle.readings("What number is in the middle of 87 and 85?", concept: .countBetween).map(\.heldoutPhrasing), [true])
        XCTAssertEqual(Oracle.readings("Is 41 lower than 37?", concept: .greater).first?.answer, .no)
        XCTAssertEqual(Oracle.readings("Is 37 lower than 41?", concept: .greater).first?.answer, .yes)
        XCTAssertEqual(Oracle.readings("Is 12 two less than 14?", concept: .add2).first?.answer, .yes)
        XCTAssertEqual(Oracle.readings("Is 8 the same as the number before 9?", concept: .equality).first?.answer, .yes)
        // "5 is the successor of 4" also says predecessor(5, 4): 4 = 5 - 1.
        XCTAssertEqual(Oracle.readings("Is 5 the successor of 4?", concept: .predecessor).first?.answer, .yes)
        XCTAssertTrue(Oracle.readings("Is 5 the cousin of 4?", concept: .successor).isEmpty)
        // A wrong worked solution is caught: the program of "Is {b} the successor of {a}?" run on
        // the wrong operand gives the wrong answer.
        XCTAssertEqual(Oracle.apply(.successor, 5, others: []), 6)
        XCTAssertEqual(Oracle.readings("Is 5 the successor of 4?", concept: .successor).first?.programAnswer, .yes)
        XCTAssertEqual(Oracle.readings("Tell me: Is 6 the successor of 4? Yes or no?", concept: .successor).first?.programAnswer, .no)
    }

    /// Every phrasing of the generator is one the oracle knows, with the same held-out marking.
    func testOracleKnowsEveryPhrasing() {
        for concept in Concept.allCases {
            XCTAssertGreaterThanOrEqual(Templates.indices(for: .train, concept: concept, holdout: true).count, 12,
                                        "\(concept.rawValue) needs at least twelve train phrasings")
            XCTAssertGreaterThanOrEqual(Templates.indices(for: .phrasing, concept: concept, holdout: true).count, 2, concept.rawValue)
            XCTAssertEqual(Templates.indices(for: .fixed, concept: concept, holdout: true).count, Templates.fixedHeldout(concept).count)
        }
        let generator = LessonGenerator(config: LessonConfig(seed: 11))
        var rng = SplitMix64(seed: 12)
        for concept in Concept.allCases {
            for split in [Split.train, .phrasing, .fixed] {
                for _ in 0..<200 {
                    let q = generator.question(concept: concept, split: split, rng: &rng)
                    let reading = Oracle.readings(q.text, concept: concept).first
                    XCTAssertNotNil(reading, q.text)
                    XCTAssertEqual(reading?.heldoutPhrasing, split != .train, q.text)
                    XCTAssertEqual(Templates.isHeldout(q.template, concept: concept), split != .train)
                }
            }
        }
    }
}
