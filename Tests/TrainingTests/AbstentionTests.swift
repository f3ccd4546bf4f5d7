import Compute
import Curriculum
import Foundation
@testable import Model
import XCTest
@testable import Training

/// The abstention policy: each rule fires on the question it is for and on nothing in scope.
final class AbstentionTests: XCTestCase {
    let policy = AbstentionPolicy(places: 4)
    let tokenizer = Tokenizer.build()

    func textRule(_ text: String) -> Abstention.Rule? {
        policy.check(text: text, encoded: tokenizer.encode(text, maxLength: 48))?.rule
    }

    /// A prediction whose program reads `slotA` (and `slotB` for yes/no) with `op`.
    func prediction(number: Bool, slotA: Int, slotB: Int = 0, op: StepOp, operandA: Int?, confidence: Float = 1) -> Prediction {
        let t = ReasoningTrace(operandA: operandA, operandB: nil, slotA: slotA, slotB: slotB, unary: op, relation: .equal,
                               pStop: 1, codes: [])
        return Prediction(isNumber: number, yes: true, pYes: 0.9, number: 0, trace: t, programConfidence: confidence)
    }

    func programRule(_ text: String, _ p: Prediction) -> Abstention.Rule? {
        policy.check(text: text, encoded: tokenizer.encode(text, maxLength: 48), prediction: p)?.rule
    }

    /// total reads every number from A through C; a number outside that run is unread.
    func testTotalReadsItsRun() {
        func total(_ slotA: Int, _ slotC: Int, slotB: Int) -> Prediction {
            let t = ReasoningTrace(operandA: 300, operandB: 347, slotA: slotA, slotB: slotB, unary: .total, relation: .equal,
                                   pStop: 0, codes: [], operandC: 7, slotC: slotC)
            return Prediction(isNumber: false, yes: true, pYes: 0.9, number: 0, trace: t, programConfidence: 1)
        }
        let grade2 = AbstentionPolicy(places: 4, grade: 2), text = "Is 347 equal to 300 plus 40 plus 7?"
        func rule(_ p: Prediction) -> Abstention.Rule? { grade2.check(text: text, encoded: tokenizer.encode(text, maxLength: 48), prediction: p)?.rule }
        XCTAssertNil(rule(total(1, 3, slotB: 0)))
        XCTAssertEqual(rule(total(2, 3, slotB: 0)), .unreadNumber)
        XCTAssertEqual(programRule(text, total(1, 3, slotB: 0)), .tooManyNumbers, "a Grade 1 policy: three numbers at most")
    }

    /// next_term reads the terms before C that keep the step; a number off the sequence is unread.
    func testSequenceReadsItsEarlierTerms() {
        func next(_ slotA: Int, _ slotC: Int, _ a: Int, _ c: Int) -> Prediction {
            let t = ReasoningTrace(operandA: a, operandB: nil, slotA: slotA, slotB: 0, unary: .nextTerm, relation: .equal,
                                   pStop: 1, codes: [], operandC: c, slotC: slotC)
            return Prediction(isNumber: true, yes: false, pYes: 0, number: 2 * a - c, trace: t, programConfidence: 1)
        }
        XCTAssertNil(programRule("What comes next: 15, 20, 25?", next(2, 1, 25, 20)))
        XCTAssertEqual(programRule("What comes next: 16, 20, 25?", next(2, 1, 25, 20)), .unreadNumber)
        // A two-number op on one number read twice.
        XCTAssertEqual(programRule("What is ten less than 27?", next(0, 0, 27, 27)), .numberReadTwice)
    }

    /// A relation never takes B from a number step 1 reads (even and odd read no B).
    func testRelationDoesNotReuseANumber() {
        func relation(_ op: StepOp, _ rel: Relation, a: Int, b: Int, c: Int) -> Prediction {
            let t = ReasoningTrace(operandA: 811, operandB: 181, slotA: a, slotB: b, unary: op, relation: rel,
                                   pStop: 0, codes: [], operandC: 181, slotC: c)
            return Prediction(isNumber: false, yes: true, pYes: 0.9, number: 0, trace: t, programConfidence: 1)
        }
        XCTAssertEqual(programRule("Is 181 less than 811?", relation(.subtract, .smaller, a: 1, b: 0, c: 0)), .numberReadTwice, "B = C")
        XCTAssertEqual(programRule("Is 181 less than 811?", relation(.subtract, .greater, a: 1, b: 0, c: 0)), .numberReadTwice)
        XCTAssertEqual(programRule("Is 181 less than 811?", relation(.subtract, .greater, a: 1, b: 1, c: 0)), .numberReadTwice, "B = A")
        XCTAssertEqual(programRule("Is 181 less than 811?", relation(.identity, .smaller, a: 0, b: 0, c: 0)), .numberReadTwice, "B = A")
        XCTAssertNil(programRule("Is 181 less than 811?", relation(.identity, .smaller, a: 0, b: 1, c: 0)))
        XCTAssertNil(programRule("Is 181 odd?", relation(.identity, .odd, a: 0, b: 0, c: 0)), "odd reads no B")
    }

    func testTextRules() {
        XCTAssertEqual(textRule("banana"), .unknownWords)
        XCTAssertEqual(textRule("Is the parity the same?"), .noNumber)
        XCTAssertEqual(textRule("Is 12345 greater than 2?"), .tooManyDigits)
        XCTAssertEqual(textRule("Is -4 smaller than 2?"), .negativeNumber)
        XCTAssertEqual(textRule("Is 3.5 greater than 2?"), .decimalNumber)
        XCTAssertEqual(textRule("Is 3 greater than 2 and 5 and 7?"), .tooManyNumbers)
        XCTAssertEqual(textRule("What is 6 times 2?"), .unknownWords)
        XCTAssertEqual(textRule("Is 12 " + String(repeating: "the ", count: 60) + "greater than 3?"), .tooLong)
        // Function words and courtesies may be unknown; a negation or a number word may not.
        XCTAssertNil(textRule("Could you kindly tell me whether 7 is greater than 5?"))
        XCTAssertEqual(textRule("Is 7 never greater than 5?"), .unknownWords)
        XCTAssertEqual(textRule("Is 7 five more than 2?"), .unknownWords)
        // Hyphens between words and a full stop after a number are not signs or decimals.
        XCTAssertNil(textRule("Is 7 greater than 5. Yes or no?"))
    }

    /// Every generated in-scope question passes the text rules (they must not cost in-scope answers).
    func testGeneratedQuestionsPassTheTextRules() {
        let generator = LessonGenerator(config: LessonConfig(seed: UInt64.random(in: 0...1000)))
        var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
        for split in Split.allCases where generator.canGenerate(split) {
            for q in generator.generate(split: split, count: 400, rng: &rng) {
                XCTAssertNil(textRule(q.text), "\(split): \(q.text)")
            }
        }
    }

    func testProgramRules() {
        // Every number read: answered.
        XCTAssertNil(programRule("Is 7 greater than 5?", prediction(number: false, slotA: 0, slotB: 1, op: .identity, operandA: 7)))
        XCTAssertNil(programRule("What comes after 41?", prediction(number: true, slotA: 0, op: .successor, operandA: 41)))
        // A number no step reads.
        XCTAssertEqual(programRule("What is 3 plus 4?", prediction(number: true, slotA: 0, op: .successor, operandA: 3)), .unreadNumber)
        // "between" reads the number two away from its operand, and only that one.
        XCTAssertNil(programRule("Which number is between 5 and 7?", prediction(number: true, slotA: 0, op: .between, operandA: 5)))
        XCTAssertEqual(programRule("Which number is between 5 and 9?", prediction(number: true, slotA: 0, op: .between, operandA: 5)), .unreadNumber)
        XCTAssertNil(programRule("Is 6 the number between 5 and 7?", prediction(number: false, slotA: 1, slotB: 0, op: .between, operandA: 5)))
        // An answer the places cannot write, a number answer with no step, an unsure program.
        XCTAssertEqual(programRule("What comes after 9999?", prediction(number: true, slotA: 0, op: .successor, operandA: 9999)), .answerOutOfRange)
        XCTAssertEqual(programRule("What comes before 0?", prediction(number: true, slotA: 0, op: .predecessor, operandA: 0)), .answerOutOfRange)
        XCTAssertEqual(programRule("What is 12?", prediction(number: true, slotA: 0, op: .identity, operandA: 12)), .noStep)
        XCTAssertEqual(programRule("Is 7 greater than 5?", prediction(number: false, slotA: 0, slotB: 1, op: .identity, operandA: 7, confidence: 0.2)), .unsureProgram)
        XCTAssertNil(programRule("Is 7 greater than 5?", prediction(number: false, slotA: 0, slotB: 1, op: .identity, operandA: 7, confidence: 0.45)), "two equivalent programs split their mass")
        // With an unknown function word the program must be surer.
        XCTAssertEqual(programRule("Is 7 greater than 5, friend?", prediction(number: false, slotA: 0, slotB: 1, op: .identity, operandA: 7, confidence: 0.7)), .unsureProgram)
        XCTAssertNil(programRule("Is 7 greater than 5, friend?", prediction(number: false, slotA: 0, slotB: 1, op: .identity, operandA: 7, confidence: 0.95)))
        // The line names the rule's cause.
        let a = policy.check(text: "Is 12345 greater than 2?", encoded: tokenizer.encode("Is 12345 greater than 2?", maxLength: 48))
        XCTAssertEqual(a?.line, "cannot answer: 12345 has 5 digits; I read whole numbers up to 9999")
    }

    /// `learner eval` with a policy: abstentions counted per split, and the out-of-scope block
    /// scored question by question (a tiny untrained-ish model: the rules, not its skill, decide).
    func testEvalReportCountsAbstentions() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("abstain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try Trainer(options: TrainingTests.tinyOptions(seed: 11, dir: dir.path), backend: CPUBackend(threads: 1))
        var evaluator = Evaluator(model: t.model, batcher: t.batcher)
        evaluator.policy = AbstentionPolicy(places: t.model.config.places)
        let report = try evaluator.report(generator: t.generator, perConcept: 3, seed: 2, splits: [.heldout])
        let oos = try XCTUnwrap(report.outOfScope)
        XCTAssertEqual(oos.total, 3 * OutOfScopeKind.allCases.count)
        XCTAssertEqual(oos.kinds.values.reduce(0) { $0 + $1.correct }, oos.abstained)
        XCTAssertEqual(oos.rules.values.reduce(0, +), oos.abstained)
        let split = try XCTUnwrap(report.splits["heldout"])
        XCTAssertEqual(split.abstentionRules.values.reduce(0, +), split.abstained)
        let obj = try JSONSerialization.jsonObject(with: Data(try report.json().utf8)) as! [String: Any]
        XCTAssertNotNil((obj["out_of_scope"] as? [String: Any])?["rate"] as? Double)
        XCTAssertTrue(report.text().contains("out_of_scope"))
        // Without a policy nothing abstains and there is no out-of-scope block.
        let plain = try Evaluator(model: t.model, batcher: t.batcher).report(generator: t.generator, perConcept: 3, seed: 2, splits: [.heldout])
        XCTAssertNil(plain.outOfScope)
        XCTAssertEqual(plain.splits["heldout"]?.abstained, 0)
    }
}
