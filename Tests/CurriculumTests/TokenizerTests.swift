import XCTest
@testable import Curriculum

final class TokenizerTests: XCTestCase {
    let tokenizer = Tokenizer.build()

    func testDigitsPlacesAndNumberIndex() {
        let e = tokenizer.encode("Is 105 greater than 7?", maxLength: 12)
        let v = tokenizer.vocabulary
        // [CLS] is 1 0 5 greater than 7
        XCTAssertEqual(e.length, 8)
        XCTAssertEqual(e.tokens, [Vocabulary.clsID, v.id("is")!, 4, 3, 8, v.id("greater")!, v.id("than")!, 10, 0, 0, 0, 0])
        XCTAssertEqual(e.places, [0, 0, 3, 2, 1, 0, 0, 1, 0, 0, 0, 0])
        XCTAssertEqual(e.numberIndex, [0, 0, 1, 1, 1, 0, 0, 2, 0, 0, 0, 0])
        XCTAssertEqual(e.unknownWords, [])
        XCTAssertFalse(e.truncated)
        XCTAssertEqual(tokenizer.decode(e), "[CLS] is 105 greater than 7")
    }

    func testSpecialIdsAndDigits() {
        let v = tokenizer.vocabulary
        XCTAssertEqual(v.words[0], "[PAD]"); XCTAssertEqual(v.words[1], "[UNK]"); XCTAssertEqual(v.words[2], "[CLS]")
        for d in 0...9 { XCTAssertEqual(v.id(String(d)), Vocabulary.digitID(d)) }
        XCTAssertEqual(Vocabulary.padID, 0)
    }

    func testLowercaseAndPunctuation() {
        let a = tokenizer.encode("IS 12 ,BIGGER than 3?!", maxLength: 10)
        let b = tokenizer.encode("is 12 bigger than 3", maxLength: 10)
        XCTAssertEqual(a, b)
    }

    func testUnknownWordsAreCountedNotFatal() {
        let e = tokenizer.encode("Is 4 gigantic measured to zebra 3?", maxLength: 16)
        XCTAssertEqual(e.unknownWords, ["gigantic", "measured", "zebra"])
        XCTAssertEqual(e.tokens.filter { $0 == Vocabulary.unkID }.count, 3)
        XCTAssertEqual(e.length, 8)
    }

    func testTruncationAndStrictEncoding() {
        let text = "Is 12345 the successor of 67890?"
        let e = tokenizer.encode(text, maxLength: 6)
        XCTAssertTrue(e.truncated)
        XCTAssertEqual(e.length, 6)
        XCTAssertThrowsError(try tokenizer.encodeChecked(text, maxLength: 6)) { error in
            XCTAssertEqual(error as? TokenizerError, .tooLong(tokens: 15, maxLength: 6))
        }
        XCTAssertNoThrow(try tokenizer.encodeChecked(text, maxLength: 15))
    }

    /// Every generated question of every split encodes with no unknown word and within maxQuestionTokens.
    func testGeneratedQuestionsNeedNoUNKAndFit() {
        for config in [LessonConfig(seed: freshSeed()), LessonConfig(maxNumber: 1000, seed: freshSeed())] {
            let generator = LessonGenerator(config: config)
            let maxLength = generator.maxQuestionTokens
            var rng = SplitMix64(seed: freshSeed())
            var longest = 0
            for split in Split.allCases {
                for q in generator.generate(split: split, count: 1300, rng: &rng) {
                    let e = tokenizer.encode(q.text, maxLength: maxLength)
                    XCTAssertEqual(e.unknownWords, [], q.text)
                    XCTAssertFalse(e.truncated, q.text)
                    longest = max(longest, e.length)
                    // Digit tokens spell the numbers of the text, in order.
                    var numbers: [Int] = []
                    for i in 0..<e.length where e.numberIndex[i] > 0 {
                        let k = Int(e.numberIndex[i])
                        if numbers.count < k { numbers.append(0) }
                        numbers[k - 1] = numbers[k - 1] * 10 + Int(e.tokens[i] - Vocabulary.firstDigitID)
                    }
                    XCTAssertEqual(numbers, Oracle.numbers(in: q.text), q.text)
                }
            }
            XCTAssertLessThanOrEqual(longest, maxLength)
        }
    }

    func testVocabularyRoundTripsAndRejectsCorruption() throws {
        let data = try JSONEncoder().encode(tokenizer.vocabulary)
        let back = try JSONDecoder().decode(Vocabulary.self, from: data)
        XCTAssertEqual(back, tokenizer.vocabulary)
        XCTAssertEqual(back.id("successor"), tokenizer.vocabulary.id("successor"))
        XCTAssertThrowsError(try JSONDecoder().decode(Vocabulary.self, from: Data(#"{"words": ["a", "b"]}"#.utf8)))
        // Held-out phrasings' words are in the vocabulary too.
        XCTAssertNotNil(tokenizer.vocabulary.id("parity"))
        XCTAssertNotNil(tokenizer.vocabulary.id("lower"))
        for (vocabulary, grade) in [(tokenizer.vocabulary, 1), (Vocabulary.grade2, 2)] {
            for concept in Concept.upTo(grade: grade) {
                for p in Templates.phrasings(concept) {
                    for w in Tokenizer.pieces(p).compactMap(\.word) { XCTAssertNotNil(vocabulary.id(w), "\(w) of \"\(p)\"") }
                }
            }
        }
        XCTAssertLessThan(tokenizer.vocabulary.count, Vocabulary.grade2.count, "Grade 2 adds words")
    }
}

final class TokenizerSplitTests: XCTestCase {
    /// The ASCII fast path splits exactly like the general one.
    func testASCIIFastPathMatchesGeneralPath() {
        for text in ["Is 105 greater than 7?", "IS 12 ,BIGGER than 3?!", "a1b22c", "  ", "", "x-y_z:9.", "Which number sits between 8 and 10 when counting?"] {
            XCTAssertEqual(Tokenizer.asciiPieces(text), Tokenizer.generalPieces(text), text)
        }
        XCTAssertEqual(Tokenizer.pieces("Ist 5 größer?"), [.word("ist"), .number("5"), .word("größer")])
    }
}
