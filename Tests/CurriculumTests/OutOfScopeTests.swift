import XCTest
@testable import Curriculum

final class OutOfScopeTests: XCTestCase {
    /// Every kind is generated, the set depends only on the seed, and no out-of-scope question is
    /// a Grade 1 sentence (its text with numbers blanked is no phrasing's shape).
    func testKindsSeedAndNoOverlapWithGrade1() { check(grade: 1) }
    func testKindsSeedAndNoOverlapWithGrade2() { check(grade: 2) }

    func check(grade: Int) {
        let generator = LessonGenerator(config: LessonConfig(seed: 3, grade: grade))
        let seed = UInt64.random(in: 0...UInt64.max)
        var r1 = SplitMix64(seed: seed), r2 = SplitMix64(seed: seed)
        let a = OutOfScope.generate(count: 400, generator: generator, rng: &r1)
        let b = OutOfScope.generate(count: 400, generator: generator, rng: &r2)
        XCTAssertEqual(a, b)
        XCTAssertEqual(Set(a.map(\.kind)), Set(OutOfScopeKind.allCases))
        XCTAssertGreaterThan(Set(a.map(\.text)).count, 200, "the set should not be a handful of sentences")
        var shapes = Set<String>()
        for c in generator.concepts { for p in Templates.records(c) { shapes.insert(Grammar.shape(p.text)) } }
        for q in a where q.kind != .unsupportedNumber {
            let blanked = Grammar.shape(q.text.replacingOccurrences(of: "[0-9]+", with: "{x}", options: .regularExpression))
            XCTAssertFalse(shapes.contains(blanked), q.text)
        }
        // Unsupported numbers: a number longer than the places, a sign, or a decimal point.
        for q in a where q.kind == .unsupportedNumber {
            let long = q.text.split(whereSeparator: { !$0.isNumber }).contains { $0.count > 4 }
            XCTAssertTrue(long || q.text.contains("-") || q.text.range(of: "[0-9]\\.[0-9]", options: .regularExpression) != nil, q.text)
        }
    }
}
