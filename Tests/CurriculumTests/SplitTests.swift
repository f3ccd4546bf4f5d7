import XCTest
@testable import Curriculum

final class SplitTests: XCTestCase {
    /// The train split never contains a held-out number (in the text or as the answer) nor a
    /// held-out phrasing; the other splits hold what they promise.
    func testSplitsKeepTheirPromises() {
        let seed = freshSeed()
        for config in [LessonConfig(seed: seed), LessonConfig(maxNumber: 1000, seed: seed), LessonConfig(heldoutFraction: 0.5, seed: seed)] {
            let generator = LessonGenerator(config: config)
            let held = Set(generator.heldoutNumbers)
            let train = config.resolvedTrainRange, ood = config.resolvedOODRange
            XCTAssertEqual(held.count, Int((Double(train.count) * config.heldoutFraction).rounded()))
            XCTAssertTrue(held.allSatisfy { train.contains($0) })
            var rng = SplitMix64(seed: seed &+ 7)
            for split in Split.allCases {
                for q in generator.generate(split: split, count: 3000, rng: &rng) {
                    let numbers = Oracle.allNumbers(q)
                    let reading = Oracle.reading(q)
                    XCTAssertNotNil(reading, q.text)
                    switch split {
                    case .train, .phrasing, .fixed:
                        XCTAssertTrue(numbers.allSatisfy { train.contains($0) && !held.contains($0) },
                                      "seed \(seed): \(split.rawValue) question \"\(q.text)\" (\(q.answer.string)) uses a held-out or out-of-range number")
                        XCTAssertEqual(reading?.heldoutPhrasing, split != .train, "seed \(seed): \(split.rawValue) question \"\(q.text)\" has the wrong kind of phrasing")
                    case .heldout:
                        XCTAssertTrue(numbers.allSatisfy { train.contains($0) }, q.text)
                        XCTAssertTrue(numbers.contains { held.contains($0) }, "seed \(seed): heldout question \"\(q.text)\" has no held-out number")
                        XCTAssertEqual(reading?.heldoutPhrasing, false, q.text)
                    case .ood:
                        XCTAssertTrue(numbers.allSatisfy { ood.contains($0) }, "seed \(seed): ood question \"\(q.text)\" (\(q.answer.string)) leaves \(ood)")
                        XCTAssertEqual(reading?.heldoutPhrasing, false, q.text)
                    case .carry:
                        XCTFail("Grade 1 has no carry split: \(q.text)")
                    }
                }
            }
        }
    }

    /// Equality statements never make the model compute a held-out number in training.
    func testTrainEqualityNeverComputesAHeldOutNumber() {
        let generator = LessonGenerator(config: LessonConfig(seed: freshSeed()))
        var rng = SplitMix64(seed: freshSeed())
        for q in generator.generate(split: .train, count: 2000, concepts: [.equality], rng: &rng) {
            let n = q.operands[0]
            let text = q.text.lowercased()
            let value = text.contains("two less") || text.contains("minus two") ? n - 2
                : text.contains("two more") || text.contains("plus two") ? n + 2
                : text.contains("predecessor") || text.contains("before") || text.contains("less") || text.contains("minus") ? n - 1
                : n + 1
            XCTAssertFalse(generator.isHeldout(value), q.text)
        }
    }

    func testHeldoutNumbersAreAFunctionOfTheSeed() {
        let seed = freshSeed()
        let a = LessonGenerator(config: LessonConfig(seed: seed)).heldoutNumbers
        XCTAssertEqual(a, LessonGenerator(config: LessonConfig(seed: seed)).heldoutNumbers)
        XCTAssertNotEqual(a, LessonGenerator(config: LessonConfig(seed: seed &+ 1)).heldoutNumbers)
        XCTAssertEqual(a.count, 20)
    }

    func testTemplateHoldoutOffUsesEveryPhrasingInTraining() {
        let generator = LessonGenerator(config: LessonConfig(templateHoldout: false, seed: 3))
        var rng = SplitMix64(seed: 4)
        let used = Set(generator.generate(split: .train, count: 2000, concepts: [.successor], rng: &rng).map(\.template))
        XCTAssertEqual(used.count, Templates.phrasings(.successor).count)
    }

    func testDefaultsAndValidation() throws {
        let config = LessonConfig()
        XCTAssertEqual(config.resolvedTrainRange, 0...99)
        XCTAssertEqual(config.resolvedOODRange, 100...199)
        XCTAssertEqual(LessonConfig(maxNumber: 1000).resolvedOODRange, 1000...1999)
        XCTAssertEqual(LessonConfig(trainRange: 0...49).resolvedOODRange, 50...99)
        XCTAssertNoThrow(try config.validate())
        XCTAssertThrowsError(try LessonConfig(trainRange: 0...50, oodRange: 40...90).validate()) { error in
            XCTAssertTrue("\(error)".contains("overlaps"), "\(error)")
        }
        XCTAssertThrowsError(try LessonConfig(trainRange: 0...5).validate())
        XCTAssertThrowsError(try LessonConfig(heldoutFraction: 1.5).validate())
        XCTAssertThrowsError(try LessonGenerator(validating: LessonConfig(oodRange: 50...150)))
        XCTAssertEqual(LessonConfig.parseRange("10-20"), 10...20)
        XCTAssertEqual(LessonConfig.parseRange("10...20"), 10...20)
        XCTAssertNil(LessonConfig.parseRange("20-10"))
        XCTAssertNil(LessonConfig.parseRange("ten-20"))
        let data = try JSONEncoder().encode(LessonConfig(trainRange: 5...60, seed: 9))
        XCTAssertEqual(try JSONDecoder().decode(LessonConfig.self, from: data), LessonConfig(trainRange: 5...60, seed: 9))
    }
}
