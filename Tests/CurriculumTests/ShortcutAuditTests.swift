import XCTest
@testable import Curriculum

/// No surface cue answers a relation: each simple cue rule, used as an answer, scores at most 0.8 on
/// every relation it does not define by itself, and a != b at most 0.6 on greater and smaller.
/// Operands are read back from the question text by the oracle, not taken from the generator.
final class ShortcutAuditTests: XCTestCase {
    enum Cue: String, CaseIterable {
        case differs = "a != b", distance1 = "|a-b| = 1", distance2 = "|a-b| = 2", bAbove = "b > a", bBelow = "b < a",
             near = "|a-b| < 10", alwaysYes = "always yes"
        func holds(_ a: Int, _ b: Int) -> Bool {
            switch self {
            case .differs: return a != b
            case .distance1: return abs(a - b) == 1
            case .distance2: return abs(a - b) == 2
            case .bAbove: return b > a
            case .bBelow: return b < a
            case .near: return abs(a - b) < 10
            case .alwaysYes: return true
            }
        }
    }

    /// The limit for a cue on a relation; nil where the cue is the relation itself.
    func limit(_ cue: Cue, _ concept: Concept) -> Double? {
        switch (cue, concept) {
        case (.bBelow, .greater), (.bAbove, .smaller): return nil
        case (.differs, .greater), (.differs, .smaller): return 0.6
        default: return 0.8
        }
    }

    func audit(_ config: LessonConfig, split: Split, perRelation: Int, seed: UInt64) {
        let generator = LessonGenerator(config: config)
        var rng = SplitMix64(seed: seed)
        let questions = generator.generate(split: split, count: perRelation * Concept.relations.count, concepts: Concept.relations, rng: &rng)
        for concept in Concept.relations {
            let pairs: [(Int, Int, Bool)] = questions.filter { $0.concept == concept }.map { q in
                let r = Oracle.reading(q)!
                return (r.operands[0], r.operands[1], q.answer == .yes)
            }
            XCTAssertEqual(pairs.count, perRelation)
            let yes = pairs.filter { $0.2 }.count
            XCTAssertLessThanOrEqual(abs(2 * yes - pairs.count), 1, "\(concept.rawValue): labels not balanced")
            for cue in Cue.allCases {
                guard let limit = limit(cue, concept) else { continue }
                let right = pairs.filter { cue.holds($0.0, $0.1) == $0.2 }.count
                let score = Double(right) / Double(pairs.count)
                XCTAssertLessThanOrEqual(score, limit, "seed \(seed), \(split.rawValue), max \(config.maxNumber): cue \(cue.rawValue) scores \(score) on \(concept.rawValue)")
                // The library's audit (used by --stats) agrees with this one.
                if let libraryScore = ShortcutAudit.score(ShortcutAudit.Cue(rawValue: cue.rawValue)!, concept: concept, questions: questions) {
                    XCTAssertEqual(libraryScore, score, accuracy: 1e-12)
                }
            }
        }
    }

    func testNoCueAnswersARelationOnAnySplit() {
        let seed = freshSeed()
        for split in [Split.train, .heldout, .phrasing, .ood] {
            audit(LessonConfig(seed: seed), split: split, perRelation: 4000, seed: seed &+ 1)
        }
    }

    func testNoCueAnswersARelationUpTo1000() {
        let seed = freshSeed()
        audit(LessonConfig(maxNumber: 1000, seed: seed), split: .train, perRelation: 4000, seed: seed &+ 2)
        audit(LessonConfig(maxNumber: 1000, seed: seed), split: .ood, perRelation: 4000, seed: seed &+ 3)
    }

    /// The audit can fail: the original generator's traps (greater/smaller negatives always b = a,
    /// parity/add_2 negatives always a+1) are caught.
    func testAuditCatchesTheOriginalTraps() {
        var greater: [(Int, Int, Bool)] = []
        var add2: [(Int, Int, Bool)] = []
        var rng = SplitMix64(seed: 5)
        for _ in 0..<1000 {
            let a = rng.int(in: 10...89)
            greater.append((a, a - rng.int(in: 1...9), true)); greater.append((a, a, false))
            add2.append((a, a + 2, true)); add2.append((a, a + 1, false))
        }
        func score(_ cue: Cue, _ pairs: [(Int, Int, Bool)]) -> Double {
            Double(pairs.filter { cue.holds($0.0, $0.1) == $0.2 }.count) / Double(pairs.count)
        }
        XCTAssertGreaterThan(score(.differs, greater), limit(.differs, .greater)!)
        XCTAssertGreaterThan(score(.distance2, add2), limit(.distance2, .add2)!)
    }

    /// Negatives come in many shapes (not one fixed offset).
    func testNegativesAreVaried() {
        let generator = LessonGenerator(config: LessonConfig(seed: freshSeed()))
        var rng = SplitMix64(seed: freshSeed())
        let questions = generator.generate(split: .train, count: 9000, concepts: Concept.relations, rng: &rng)
        func negatives(_ c: Concept) -> [(Int, Int)] {
            questions.filter { $0.concept == c && $0.answer == .no }.map { ($0.operands[0], $0.operands[1]) }
        }
        for c in [Concept.successor, .predecessor, .add2, .sameParity] {
            let distances = Set(negatives(c).map { $0.1 - $0.0 })
            XCTAssertGreaterThanOrEqual(distances.count, 20, "\(c.rawValue): negatives use only offsets \(distances.sorted())")
        }
        for c in [Concept.greater, .smaller] {
            let n = negatives(c)
            XCTAssertTrue(n.contains { $0.0 == $0.1 }, "\(c.rawValue): no b = a negatives")
            XCTAssertTrue(n.contains { $0.0 != $0.1 }, "\(c.rawValue): only b = a negatives")
        }
        // same_tens: near misses on the other digit (same ones digit, another tens digit) and across a boundary.
        let tens = negatives(.sameTens)
        XCTAssertGreaterThan(tens.filter { $0.0 % 10 == $0.1 % 10 }.count, tens.count / 8)
        XCTAssertGreaterThan(tens.filter { abs($0.0 - $0.1) < 10 }.count, tens.count / 3)
        // same_ones: same tens digit, another ones digit.
        let ones = negatives(.sameOnes)
        XCTAssertGreaterThan(ones.filter { $0.0 / 10 == $0.1 / 10 }.count, ones.count / 4)
        // makes_ten: ones digits summing to 9 or 11.
        let ten = negatives(.makesTen)
        XCTAssertGreaterThan(ten.filter { [9, 11].contains($0.0 % 10 + $0.1 % 10) }.count, ten.count / 4)
    }
}
