import XCTest
@testable import Curriculum

/// Held-out phrasings are new arrangements of known words, and training never sees them.
final class PhrasingTests: XCTestCase {
    /// The words of a text, lowercased, slots ("{a}", "{X}"…) and numbers left out.
    static func words(_ text: String) -> Set<String> {
        let noSlots = text.replacingOccurrences(of: #"\{[A-Za-z]\}"#, with: " ", options: .regularExpression)
        return Set(noSlots.lowercased().split { !$0.isLetter }.map(String.init))
    }

    /// Every word of the train phrasings, openers and tails.
    static var trainWords: Set<String> {
        var out = Set<String>()
        for concept in Concept.allCases {
            for (i, p) in Templates.phrasings(concept).enumerated() where !Templates.isHeldout(i, concept: concept) {
                out.formUnion(words(p))
            }
        }
        for t in Grammar.openers + Grammar.yesNoTails + Grammar.numberTails { out.formUnion(words(t)) }
        return out
    }

    /// No held-out phrasing (nor any phrasing-split question) has a word that no train phrasing has:
    /// an unseen word has an untrained embedding and would carry no information.
    /// One sentence, one reading: wherever two concepts (or two frames) produce the same sentence
    /// shape, their worked solutions give operand A (and B, C) the same position in the sentence.
    /// Two readings of one construction teach the pointers opposite roles (Round 17).
    func testOneShapeHasOneOperandOrder() {
        var roles: [String: (concept: Concept, text: String, order: [Int?])] = [:]
        for c in Concept.allCases {
            for p in Templates.records(c) {
                let order = CompiledTemplate(p.text).slotOrder
                let position = { (letter: Character?) -> Int? in letter.flatMap { order.firstIndex(of: $0) } }
                let key = Grammar.shape(p.text)
                let these = [position(p.program.a), position(p.program.b), position(p.program.c)]
                if let seen = roles[key] {
                    XCTAssertEqual(seen.order, these, "\(seen.concept.rawValue) \"\(seen.text)\" and \(c.rawValue) \"\(p.text)\" read one shape two ways")
                } else {
                    roles[key] = (c, p.text, these)
                }
            }
        }
    }

    func testHeldoutPhrasingsUseOnlyTrainWords() {
        let known = Self.trainWords
        XCTAssertTrue(known.isSuperset(of: ["greater", "smaller", "less", "more", "successor", "parity"]))
        for concept in Concept.allCases {
            let phrasings = Templates.phrasings(concept)
            let heldout = phrasings.indices.filter { Templates.isHeldout($0, concept: concept) }
            XCTAssertGreaterThanOrEqual(heldout.count, 2 + Templates.fixedHeldout(concept).count, concept.rawValue)
            for i in heldout {
                let unseen = Self.words(phrasings[i]).subtracting(known)
                XCTAssertTrue(unseen.isEmpty, "\(concept.rawValue): held-out phrasing \"\(phrasings[i])\" uses words no train phrasing has: \(unseen.sorted())")
            }
        }
        // The same for rendered questions of the phrasing split (frames with their expressions filled in).
        let seed = freshSeed()
        let generator = LessonGenerator(config: LessonConfig(templateHoldout: true, seed: seed))
        var rng = SplitMix64(seed: seed &+ 5)
        for q in generator.generate(split: .phrasing, count: 2600, rng: &rng) + generator.generate(split: .fixed, count: 1300, rng: &rng) {
            let unseen = Self.words(q.text).subtracting(known)
            XCTAssertTrue(unseen.isEmpty, "seed \(seed): phrasing question \"\(q.text)\" uses words no train phrasing has: \(unseen.sorted())")
        }
        // The check can fail.
        XCTAssertEqual(Self.words("Is {a} taller than {b}?").subtracting(known), ["taller"])
    }

    /// With template holdout on, the train split (and the heldout and ood splits) never render a
    /// held-out phrasing: neither by template index nor by any reading of the text by the oracle.
    func testTrainSplitNeverRendersAHeldoutPhrasing() {
        let seed = freshSeed()
        for config in [LessonConfig(templateHoldout: true, seed: seed), LessonConfig(maxNumber: 1000, templateHoldout: true, seed: seed ^ 1),
                       LessonConfig(templateHoldout: true, seed: seed ^ 2, grade: 2)] {
            let generator = LessonGenerator(config: config)
            var rng = SplitMix64(seed: seed &+ 9)
            for split in [Split.train, .heldout, .ood] {
                var used: [Concept: Set<Int>] = [:]
                for q in generator.generate(split: split, count: 2600, rng: &rng) {
                    used[q.concept, default: []].insert(q.template)
                    XCTAssertFalse(Templates.isHeldout(q.template, concept: q.concept),
                                   "seed \(seed): \(split.rawValue) question \"\(q.text)\" uses held-out phrasing \(q.template)")
                    let readings = Oracle.readings(q.text, concept: q.concept)
                    XCTAssertFalse(readings.isEmpty, q.text)
                    XCTAssertFalse(readings.contains { $0.heldoutPhrasing },
                                   "seed \(seed): \(split.rawValue) question \"\(q.text)\" reads as a held-out phrasing of \(q.concept.rawValue)")
                }
                for concept in generator.concepts {
                    XCTAssertGreaterThan(used[concept]?.count ?? 0, 8, "\(split.rawValue) \(concept.rawValue)")
                }
            }
        }
    }

    /// No held-out shape (numbers blanked) is the shape of a train phrasing of any concept, and
    /// every held-out phrasing is a new combination: its frame and its words each occur in training.
    func testHeldoutPhrasingsAreNewCombinationsOfTrainParts() {
        var trainShapes = Set<String>(), trainFrames = Set<String>(), trainWordIDs = Set<String>()
        for c in Concept.allCases {
            for r in Templates.records(c) where r.kind == .train {
                trainShapes.insert(r.shape); trainFrames.insert(r.frame); trainWordIDs.insert(r.words)
            }
        }
        var heldout = 0
        for c in Concept.allCases {
            for r in Templates.records(c) where r.kind != .train {
                XCTAssertFalse(trainShapes.contains(r.shape), "\(c.rawValue): held-out \"\(r.text)\" renders in training")
                guard r.kind == .heldout else { continue }
                heldout += 1
                XCTAssertTrue(trainFrames.contains(r.frame), "\(c.rawValue): frame \(r.frame) of \"\(r.text)\" never trains")
                XCTAssertTrue(trainWordIDs.contains(r.words), "\(c.rawValue): words \(r.words) of \"\(r.text)\" never train")
            }
        }
        XCTAssertGreaterThan(heldout, 100)
        // Hundreds of distinct train sentences overall, and the check can fail.
        XCTAssertGreaterThan(trainShapes.count, 400)
        XCTAssertTrue(trainShapes.contains(Grammar.shape("Is {a} greater than {b}?")) || !trainShapes.contains(Grammar.shape("Is {a} bigger than {b}?")))
        XCTAssertFalse(trainShapes.contains(Grammar.shape("Is {b} smaller than {a}?")), "a fixed held-out sentence trains")
    }

    /// Every phrasing carries a worked solution whose slots are slots of its text.
    func testEveryPhrasingHasAResolvableWorkedSolution() {
        for c in Concept.allCases {
            for r in Templates.records(c) {
                let order = CompiledTemplate(r.text).slotOrder
                let program = QuestionProgram(r.program, order: order)
                XCTAssertNotNil(program, "\(c.rawValue): \"\(r.text)\" names no slot \(r.program.a)")
                XCTAssertEqual(r.program.relation == nil, !c.isYesNo, r.text)
            }
        }
    }
}

final class WordBagTests: XCTestCase {
    /// The relation and STOP are read from the bag of a sentence's words (Docs/ARCHITECTURE.md,
    /// "Word reader"), so two train phrasings with the same bag must ask for the same relation
    /// (or both for a number): otherwise no reader of that kind can learn both.
    func testSameWordsSameRelation() {
        var seen: [String: (String, String)] = [:]
        var clashes: [String] = []
        for c in Concept.allCases {
            for (i, p) in Templates.records(c).enumerated() where !Templates.isHeldout(i, concept: c) {
                let bag = Tokenizer.pieces(p.text.replacingOccurrences(of: "{", with: " ").replacingOccurrences(of: "}", with: " "))
                    .compactMap(\.word).filter { $0.count > 1 }.sorted().joined(separator: " ")
                let relation = p.program.relation.map { "\($0)" } ?? "number"
                if let (other, text) = seen[bag], other != relation {
                    clashes.append("\"\(p.text)\" (\(relation)) and \"\(text)\" (\(other))")
                }
                seen[bag] = (relation, p.text)
            }
        }
        XCTAssertEqual(clashes, [], "\(clashes.count) word-bag clashes")
    }
}
