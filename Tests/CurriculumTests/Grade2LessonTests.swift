import XCTest
@testable import Curriculum

/// Grade 2's lessons keep the promises Grade 1's do, and one more: no train question carries into
/// or borrows from the hundreds, and every `carry` question does.
final class Grade2LessonTests: XCTestCase {
    /// The numbers a Grade 2 question shows or computes: a, c and a ± c (and b for a check).
    func numbers(_ q: Question) -> (shown: [Int], result: Int, plus: Bool) {
        let a = q.operands[0], c = q.operands[1]
        let plus = q.concept == .add || (q.concept == .wordProblem || q.concept == .addSubCheck) && Oracle.names(plusIn: q.text)
        return (Oracle.numbers(in: q.text), plus ? a + c : a - c, plus)
    }

    func testGrade2SplitsKeepTheirPromises() {
        let seed = freshSeed()
        let generator = LessonGenerator(config: LessonConfig(seed: seed, grade: 2))
        let g2 = generator.grade2, grade1Top = generator.trainRange.upperBound
        var rng = SplitMix64(seed: seed &+ 11)
        for split in Split.allCases {
            let qs = generator.generate(split: split, count: 2800, concepts: Concept.grade2, rng: &rng)
            XCTAssertEqual(qs.count, 2800, split.rawValue)
            XCTAssertEqual(Set(qs.map(\.concept)), Set(Concept.grade2.filter { split != .carry || $0.hasCarrySplit }), split.rawValue)
            for q in qs {
                let tag = "seed \(seed): \(split.rawValue) \(q.concept.rawValue) \"\(q.text)\" (\(q.answer.string))"
                guard let reading = Oracle.reading(q) else { XCTFail("\(tag): no phrasing reads it"); continue }
                XCTAssertEqual(reading.answer, q.answer, "\(tag): the oracle disagrees")
                XCTAssertEqual(reading.programAnswer, q.answer, "\(tag): the worked solution disagrees")
                XCTAssertEqual(reading.heldoutPhrasing, split.usesHeldoutPhrasings, "\(tag): wrong kind of phrasing")
                if Concept.numberSense.contains(q.concept) {
                    // The numbers shown and the digit answered keep the split's promise.
                    XCTAssertEqual(Set(Oracle.numbers(in: q.text)), Set(q.operands), "\(tag): the text shows other numbers than the operands")
                    let drawn = q.operands + (q.answer.number.map { [$0] } ?? [])
                    switch split {
                    case .train, .phrasing, .fixed:
                        XCTAssertTrue(drawn.allSatisfy { g2.trainRange.contains($0) && !g2.isHeldout($0) }, "\(tag): a held-out or out-of-range number")
                    case .heldout:
                        XCTAssertTrue(drawn.allSatisfy { g2.trainRange.contains($0) }, tag)
                        XCTAssertTrue(drawn.contains { g2.isHeldout($0) }, "\(tag): no held-out number")
                    case .ood:
                        // Expanded form shows a four-digit number's parts (1000, 40, 7): the number is out of range.
                        let outOfRange = q.concept == .expandedForm ? [q.operands[0]] : q.operands
                        XCTAssertTrue(outOfRange.allSatisfy { g2.oodRange.contains($0) }, "\(tag): a number is not out of range")
                    case .carry:
                        XCTFail("\(tag): \(q.concept.rawValue) has no carry split")
                    }
                    continue
                }
                let shown = numbers(q).shown
                var (result, plus) = (numbers(q).result, numbers(q).plus)
                var a = q.operands[0], c = q.operands[1]
                XCTAssertEqual(Set(shown), Set(q.operands), "\(tag): the text shows other numbers than the operands")
                // 10 and 100 in "10 more than 347" are the lesson's constants, not drawn numbers.
                var constant = (c == 10 || c == 100) && a > grade1Top
                if q.concept == .skipCount {
                    // p, c, a counting by a step: the next term is a + step.
                    let step = q.operands[2] - q.operands[1]
                    XCTAssertTrue([2, 5, 10, 100].contains(abs(step)) && q.operands[1] - q.operands[0] == step, "\(tag): not a skip count")
                    (a, c, plus, result, constant) = (q.operands[2], abs(step), step > 0, q.operands[2] + step, true)
                } else if q.concept == .placeValue {
                    (a, c, plus, result, constant) = (q.operands[1], q.operands[0], true, q.answer.number ?? -1, false)
                }
                let drawn = q.concept == .skipCount ? q.operands : [a] + (constant ? [] : [c]) + q.operands.dropFirst(2)
                let crosses = q.concept == .placeValue ? false : LessonGenerator.crossesHundreds(a, c, plus: plus)
                switch split {
                case .train, .phrasing, .fixed, .carry:
                    XCTAssertTrue((drawn + [result]).allSatisfy { g2.trainRange.contains($0) && !g2.isHeldout($0) },
                                  "\(tag): a held-out or out-of-range number")
                    XCTAssertEqual(crosses, split == .carry, "\(tag): carry into the hundreds must be \(split == .carry)")
                case .heldout:
                    XCTAssertTrue((drawn + [result]).allSatisfy { g2.trainRange.contains($0) }, tag)
                    XCTAssertTrue((drawn + [result]).contains { g2.isHeldout($0) }, "\(tag): no held-out number")
                    XCTAssertFalse(crosses, "\(tag): carries into the hundreds")
                case .ood:
                    XCTAssertTrue(g2.oodRange.contains(a), "\(tag): a is not out of range")
                }
            }
        }
    }

    /// No surface cue answers the number-sense lessons: comparisons ask about the first-named
    /// number being larger as often as not, and a third of them about numbers sharing their
    /// hundreds digit; the digit asked is the first digit written less than half the time; parity
    /// questions are yes as often for even numbers as for odd ones.
    func testNumberSenseHasNoSurfaceCue() {
        let seed = freshSeed()
        let generator = LessonGenerator(config: LessonConfig(seed: seed, grade: 2))
        var rng = SplitMix64(seed: seed &+ 5)
        let qs = generator.generate(split: .train, count: 6000, concepts: Concept.numberSense, rng: &rng)
        func share(_ c: Concept, _ p: (Question) -> Bool) -> Double {
            let of = qs.filter { $0.concept == c }
            return Double(of.filter(p).count) / Double(of.count)
        }
        let firstLarger = share(.compare) { q in
            let n = Oracle.numbers(in: q.text)
            return (n[0] > n[1]) == (q.answer == .yes)
        }
        XCTAssertTrue((0.35...0.65).contains(firstLarger), "seed \(seed): 'the first number is larger' answers \(firstLarger) of comparisons")
        let sameHundreds = share(.compare) { $0.operands[0] / 100 == $0.operands[1] / 100 }
        XCTAssertGreaterThan(sameHundreds, 0.3, "seed \(seed): comparisons of numbers with the same hundreds digit")
        XCTAssertTrue(qs.filter { $0.concept == .compare && $0.operands[0] == $0.operands[1] }.allSatisfy { $0.answer == .no })
        let firstDigit = share(.placeDigit) { q in String(q.operands[0]).first?.wholeNumberValue == q.answer.number }
        XCTAssertLessThan(firstDigit, 0.5, "seed \(seed): the digit asked is the first one written")
        // (A train question never computes a held-out number: where 0 is one, no digit answered is 0.)
        let zeroes = share(.placeDigit) { $0.answer == .number(0) }
        if !generator.grade2.isHeldout(0) { XCTAssertGreaterThan(zeroes, 0.05, "seed \(seed): places above the number's top digit") }
        let evenYes = share(.oddEven) { ($0.operands[0] % 2 == 0) == ($0.answer == .yes) }
        XCTAssertTrue((0.4...0.6).contains(evenYes), "seed \(seed): 'even means yes' answers \(evenYes) of parity questions")
        let evenWordYes = share(.oddEven) { $0.text.contains("even") == ($0.answer == .yes) }
        XCTAssertTrue((0.4...0.6).contains(evenWordYes), "seed \(seed): 'the word even means yes' answers \(evenWordYes) of parity questions")
        XCTAssertEqual(Set(qs.filter { $0.concept == .placeDigit }.compactMap { $0.program?.op }), [.onesDigit, .tensDigit, .hundredsDigit])
        // Expanded form: parts that show the number's own digits are "yes" about as often as parts
        // that do not (regrouped parts are right, a swapped or misplaced digit is wrong).
        func ownDigits(_ q: Question) -> Bool {
            q.operands.dropFirst().map { String(String($0).first!) }.sorted() == String(q.operands[0]).map(String.init).sorted()
        }
        let expanded = qs.filter { $0.concept == .expandedForm }
        for own in [true, false] {
            let group = expanded.filter { ownDigits($0) == own }
            let yes = Double(group.filter { $0.answer == .yes }.count) / Double(max(1, group.count))
            XCTAssertTrue((0.3...0.7).contains(yes), "seed \(seed): expanded form with\(own ? "" : "out") the number's digits is yes in \(yes)")
        }
    }

    /// `learner lessons --phrasings` names every op and relation a worked solution can use.
    func testPhrasingListNamesEveryOpAndRelation() {
        let ops = ProgramOp.allCases.map { PhrasingList.describe(ProgramSketch($0, "a")) }
        XCTAssertEqual(Set(ops).count, ProgramOp.allCases.count, "\(ops)")
        let relations = ProgramRelation.allCases.map { PhrasingList.describe(ProgramSketch(.successor, "a", $0, "b")) }
        XCTAssertEqual(Set(relations).count, ProgramRelation.allCases.count, "\(relations)")
        XCTAssertEqual(PhrasingList.describe(ProgramSketch(.hundredsDigit, "a", .even)), "even(hundreds_digit({a}))")
    }

    /// The held-out numbers of Grade 2 include Grade 1's, so a Grade 2 question never shows a
    /// number Grade 1 holds out.
    func testGrade2HoldsOutWhatGrade1HoldsOut() {
        let generator = LessonGenerator(config: LessonConfig(seed: freshSeed(), grade: 2))
        XCTAssertTrue(generator.heldoutNumbers.allSatisfy { generator.grade2.isHeldout($0) })
        XCTAssertEqual(generator.grade2.trainRange, 0...999)
        XCTAssertEqual(generator.grade2.oodRange, 1000...1999)
        XCTAssertEqual(generator.grade2.heldoutNumbers.count, 20 + 180)
    }

    /// A Grade 1 configuration never draws Grade 2 and has no carry split; a Grade 2 one draws both grades.
    func testGradeChoosesTheConcepts() {
        var rng = SplitMix64(seed: freshSeed())
        let one = LessonGenerator(config: LessonConfig(seed: 1))
        XCTAssertFalse(one.canGenerate(.carry))
        XCTAssertTrue(one.generate(split: .train, count: 2000, rng: &rng).allSatisfy { $0.concept.grade == 1 })
        let two = LessonGenerator(config: LessonConfig(seed: 1, grade: 2))
        let qs = two.generate(split: .train, count: 2000, rng: &rng)
        XCTAssertEqual(Set(qs.map(\.concept)), Set(Concept.allCases))
        XCTAssertTrue(two.generate(split: .carry, count: 100, rng: &rng).allSatisfy { $0.concept.grade == 2 })
        XCTAssertThrowsError(try LessonConfig(grade: 3).validate())
    }

    /// A Grade 1 model does not know the words of Grade 2's stories; the fixed sentences use
    /// only words training shows.
    func testVocabularies() {
        XCTAssertNil(Vocabulary.grade1.id("apples"))
        XCTAssertNotNil(Vocabulary.grade2.id("apples"))
        var trainWords = Set<String>()
        for c in Concept.allCases {
            for (i, p) in Templates.phrasings(c).enumerated() where !Templates.isHeldout(i, concept: c) { trainWords.formUnion(Grammar.words(p)) }
        }
        for c in Concept.grade2 {
            for s in Templates.fixedHeldout(c) {
                XCTAssertTrue(Grammar.words(s).isSubset(of: trainWords), "\(s): \(Grammar.words(s).subtracting(trainWords))")
            }
        }
    }

    /// Question files with Grade 2 answers are checked by the oracle.
    func testExpectedAnswers() {
        func q(_ c: Concept, _ o: [Int], _ a: Answer) -> Question {
            Question(text: "x", answer: a, concept: c, operands: o, split: .train, template: -1)
        }
        XCTAssertEqual(q(.add, [47, 38], .number(0)).expectedAnswer, .number(85))
        XCTAssertEqual(q(.subtract, [52, 17], .number(0)).expectedAnswer, .number(35))
        XCTAssertEqual(q(.missingAddend, [15, 7], .number(0)).expectedAnswer, .number(8))
        XCTAssertEqual(q(.skipCount, [15, 20, 25], .number(0)).expectedAnswer, .number(30))
        XCTAssertEqual(q(.skipCount, [50, 40, 30], .number(0)).expectedAnswer, .number(20))
        XCTAssertEqual(q(.placeValue, [4, 347], .number(0)).expectedAnswer, .number(40))
        XCTAssertEqual(q(.compare, [347, 374], .yes).expectedAnswer, .no)
        XCTAssertEqual(q(.compare, [740, 374], .no).expectedAnswer, .yes)
        // Which place, and whether odd or even is asked, is in the words: no key from operands.
        XCTAssertNil(q(.placeDigit, [347], .number(4)).expectedAnswer)
        XCTAssertNil(q(.oddEven, [347], .yes).expectedAnswer)
        XCTAssertEqual(q(.placeValue, [3, 347], .number(0)).expectedAnswer, .number(300))
        XCTAssertNil(q(.wordProblem, [15, 7], .number(0)).expectedAnswer)
    }

    /// The no-regrouping answer, the most common wrong answer a check offers.
    func testWithoutRegrouping() {
        XCTAssertEqual(LessonGenerator.withoutRegrouping(47, 38, plus: true), 75)
        XCTAssertEqual(LessonGenerator.withoutRegrouping(52, 17, plus: false), 45)
        XCTAssertTrue(LessonGenerator.crossesHundreds(95, 7, plus: true))
        XCTAssertFalse(LessonGenerator.crossesHundreds(45, 37, plus: true))
        XCTAssertTrue(LessonGenerator.crossesHundreds(305, 10, plus: false))
        XCTAssertFalse(LessonGenerator.crossesHundreds(315, 10, plus: false))
    }
}
