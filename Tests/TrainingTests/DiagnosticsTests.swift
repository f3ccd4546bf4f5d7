import Compute
import Curriculum
import Foundation
import XCTest
@testable import Training

final class DiagnosticsTests: XCTestCase {
    func q(_ concept: Concept, _ operands: [Int], split: Split = .heldout) -> Question {
        Question(text: "", answer: .yes, concept: concept, operands: operands, split: split, template: -1)
    }

    func testCategoriesOfNumbers() {
        XCTAssertTrue(Diagnostics.categories(q(.countAfter, [39])).contains("tens_boundary"))
        XCTAssertFalse(Diagnostics.categories(q(.countAfter, [38])).contains("tens_boundary"))
        XCTAssertTrue(Diagnostics.categories(q(.countBefore, [100], split: .ood)).contains("hundreds_boundary"))
        XCTAssertTrue(Diagnostics.categories(q(.countBefore, [100], split: .ood)).contains("out_of_range"))
        XCTAssertTrue(Diagnostics.categories(q(.greater, [5, 6])).contains("close"))
        XCTAssertTrue(Diagnostics.categories(q(.greater, [5, 25])).contains("far"))
        XCTAssertTrue(Diagnostics.categories(q(.sameParity, [7, 7])).contains("equal_operands"))
        XCTAssertTrue(Diagnostics.categories(q(.greater, [19, 20])).contains("tens_boundary"))
        XCTAssertTrue(Diagnostics.categories(q(.greater, [19, 4])).contains("zeros_nines"))
        XCTAssertFalse(Diagnostics.categories(q(.greater, [13, 4])).contains("zeros_nines"))
    }

    /// Grade 2 questions land in their column-method categories.
    func testCategoriesOfSumsAndDifferences() {
        func arith(_ concept: Concept, _ o: [Int], _ op: ProgramOp) -> [String] {
            var question = q(concept, o)
            question.program = QuestionProgram(a: 0, op: op, c: 1)
            return Diagnostics.categories(question)
        }
        XCTAssertTrue(arith(.add, [47, 38], .add).contains("regroup_ones"))
        XCTAssertTrue(arith(.add, [41, 38], .add).contains("no_regroup_ones"))
        XCTAssertTrue(arith(.add, [67, 48], .add).contains("regroup_hundreds"))
        XCTAssertFalse(arith(.add, [47, 38], .add).contains("regroup_hundreds"))
        XCTAssertTrue(arith(.subtract, [52, 17], .subtract).contains("regroup_ones"))
        XCTAssertTrue(arith(.wordProblem, [305, 10], .subtract).contains("regroup_hundreds"))
        XCTAssertTrue(arith(.wordProblem, [305, 10], .subtract).contains("tens_hundreds_step"))
        XCTAssertTrue(arith(.missingAddend, [15, 7], .subtract).contains("subtracts"))
        XCTAssertFalse(Diagnostics.isTrainable("regroup_hundreds"), "no train question crosses the hundreds")
    }

    /// Grade 2's numbers to 1000 land in their categories: the place asked, comparisons of hard
    /// pairs, the parity asked.
    func testCategoriesOfNumberSense() {
        func with(_ concept: Concept, _ o: [Int], _ op: ProgramOp, _ relation: ProgramRelation? = nil) -> [String] {
            var question = q(concept, o)
            question.program = QuestionProgram(a: 0, op: op, relation: relation, b: relation == nil ? nil : 1)
            return Diagnostics.categories(question)
        }
        XCTAssertTrue(with(.placeDigit, [347], .tensDigit).contains("tens_asked"))
        XCTAssertTrue(with(.placeDigit, [47], .hundredsDigit).contains("above_top_digit"))
        XCTAssertFalse(with(.placeDigit, [347], .hundredsDigit).contains("above_top_digit"))
        XCTAssertTrue(with(.placeDigit, [303], .onesDigit).contains("repeated_digits"))
        XCTAssertTrue(with(.compare, [347, 374], .identity, .greater).contains("same_hundreds"))
        XCTAssertTrue(with(.compare, [347, 734], .identity, .greater).contains("same_digits_reordered"))
        XCTAssertFalse(with(.compare, [347, 734], .identity, .greater).contains("same_hundreds"))
        XCTAssertTrue(with(.compare, [93, 120], .identity, .greater).contains("different_lengths"))
        XCTAssertTrue(with(.compare, [93, 93], .identity, .greater).contains("equal_operands"))
        let parity = with(.oddEven, [348], .identity, .odd)
        XCTAssertTrue(parity.contains("even_number") && parity.contains("asks_odd") && !parity.contains("below_100"), "\(parity)")
        XCTAssertTrue(with(.oddEven, [7], .identity, .even).contains("below_100"))
    }

    /// Generated questions land in their phrasing categories: a frame, an operand order and
    /// number-first or expression-first, and held-out phrasings only on the phrasing split.
    func testGeneratedQuestionsHavePhrasingCategories() {
        let generator = LessonGenerator(config: LessonConfig(seed: 2))
        let qs = Diagnostics.questions(generator: generator, concepts: Concept.allCases, perConcept: 20, seed: UInt64.random(in: 0...1000))
        for q in qs {
            let c = Diagnostics.categories(q)
            XCTAssertEqual(c.filter { $0.hasPrefix("frame:") }.count, 1, q.text)
            XCTAssertEqual(c.filter { $0 == "a_first" || $0 == "a_second" }.count, 1, q.text)
            XCTAssertEqual(c.filter { $0 == "number_first" || $0 == "expression_first" }.count, 1, q.text)
            XCTAssertEqual(c.contains("heldout_phrasing"), q.split == .phrasing, q.text)
            XCTAssertEqual(c.contains("out_of_range"), q.split == .ood, q.text)
        }
    }

    /// The focus loop picks the weak trainable cells, and its share of each batch goes to them.
    func testFocusMovesPracticeTowardAWeakCell() throws {
        let cells = [Diagnostics.Cell(concept: "greater", category: "out_of_range", correct: 10, total: 100),
                     Diagnostics.Cell(concept: "greater", category: "close", correct: 50, total: 100),
                     Diagnostics.Cell(concept: "smaller", category: "far", correct: 99, total: 100)]
        let picked = Diagnostics.focusCells(cells, bar: 0.98)
        XCTAssertEqual(picked.map(\.category), ["close"], "out_of_range cannot be practised; far is above the bar")

        let dir = try makeTempDir()
        var o = TrainingTests.tinyOptions(seed: 9, dir: dir.path)
        o.course = Course(name: "t", checkEvery: 2, levels: [.init(name: "cmp", concepts: [.greater, .smaller, .sameTens],
                                                                   mastery: 0.9, maxSteps: 10, replay: 0)], focus: 0.25)
        let t = try Trainer(options: o, backend: CPUBackend(threads: 1))
        func closeGreater(_ qs: [Question]) -> Int {
            qs.filter { $0.concept == .greater && Diagnostics.categories($0).contains("close") }.count
        }
        let before = closeGreater(t.courseQuestions(o.course!, count: 400))
        t.courseProgress.focus = [FocusCell(concept: .greater, category: "close")]
        let focused = t.courseQuestions(o.course!, count: 400)
        XCTAssertEqual(focused.count, 400)
        XCTAssertGreaterThanOrEqual(closeGreater(focused), before + 90, "100 focused questions should be close greater pairs (before: \(before))")
        XCTAssertTrue(focused.allSatisfy { $0.split == .train }, "focus never practises held-out questions")
    }
}
