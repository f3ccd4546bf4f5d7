import Foundation

/// What numbers and phrasings lessons use. Saved in checkpoints (Codable), so an eval run can rebuild
/// exactly the held-out number set its model was trained without.
///
/// Defaults (with `maxNumber` = 100):
/// - train range `0...maxNumber-1` (0...99). A seeded `heldoutFraction` (20%) of it is held out:
///   those numbers never appear in a train or phrasing question (not in the text, not as the answer,
///   not as the value an equality statement computes).
/// - ood range: the block of the same size right above the train range (100...199).
/// - `templateHoldout` on: the last two phrasings of each concept are kept for the `phrasing` split.
public struct LessonConfig: Codable, Sendable, Equatable {
    /// Numbers of the default train range are `0..<maxNumber`.
    public var maxNumber: Int
    /// Fraction of the train range held out (rounded to the nearest whole number of numbers).
    public var heldoutFraction: Double
    /// Explicit train range; nil means `0...maxNumber-1`.
    public var trainRange: ClosedRange<Int>?
    /// Explicit out-of-range interval; nil means the block of the train range's size right above it.
    public var oodRange: ClosedRange<Int>?
    /// Keep the last `Templates.heldoutCount` phrasings of each concept out of training.
    public var templateHoldout: Bool
    /// Determines the held-out number set (and nothing else: question sampling takes its own RNG).
    public var seed: UInt64
    /// The highest grade taught: 1 (Grade 1's concepts) or 2 (Grade 1's and Grade 2's).
    public var grade: Int = 1

    /// The grades there are lessons for.
    public static let grades = 1...2

    /// Largest number a range may reach.
    public static let numberLimit = 1_000_000
    /// Smallest size of the train and ood ranges (every concept needs yes and no cases in them).
    public static let minimumRangeSize = 20

    public init(maxNumber: Int = 100, heldoutFraction: Double = 0.2, trainRange: ClosedRange<Int>? = nil,
                oodRange: ClosedRange<Int>? = nil, templateHoldout: Bool = true, seed: UInt64 = 0, grade: Int = 1) {
        self.maxNumber = maxNumber
        self.heldoutFraction = heldoutFraction
        self.trainRange = trainRange
        self.oodRange = oodRange
        self.templateHoldout = templateHoldout
        self.seed = seed
        self.grade = grade
    }

    /// The train range in force.
    public var resolvedTrainRange: ClosedRange<Int> { trainRange ?? 0...max(0, maxNumber - 1) }

    /// The ood range in force.
    public var resolvedOODRange: ClosedRange<Int> {
        if let oodRange { return oodRange }
        let train = resolvedTrainRange
        return (train.upperBound + 1)...(train.upperBound + train.count)
    }

    /// Checks the configuration; the error text is one line naming the setting and what is expected.
    public func validate() throws {
        if trainRange == nil && maxNumber < LessonConfig.minimumRangeSize {
            throw LessonConfigError("--max_number \(maxNumber) is too small (expected at least \(LessonConfig.minimumRangeSize))")
        }
        if !LessonConfig.grades.contains(grade) {
            throw LessonConfigError("--grade \(grade) has no lessons (expected 1 or 2)")
        }
        if maxNumber > LessonConfig.numberLimit {
            throw LessonConfigError("--max_number \(maxNumber) is too large (expected at most \(LessonConfig.numberLimit))")
        }
        if !(heldoutFraction >= 0 && heldoutFraction < 1) {
            throw LessonConfigError("held-out fraction \(heldoutFraction) is out of range (expected 0 <= f < 1)")
        }
        let train = resolvedTrainRange, ood = resolvedOODRange
        for (name, range) in [("--train_range", train), ("--ood_range", ood)] {
            if range.lowerBound < 0 || range.upperBound > LessonConfig.numberLimit {
                throw LessonConfigError("\(name) \(range.lowerBound)-\(range.upperBound) is outside 0-\(LessonConfig.numberLimit)")
            }
            if range.count < LessonConfig.minimumRangeSize {
                throw LessonConfigError("\(name) \(range.lowerBound)-\(range.upperBound) has \(range.count) numbers (expected at least \(LessonConfig.minimumRangeSize))")
            }
        }
        if train.overlaps(ood) {
            throw LessonConfigError("--ood_range \(ood.lowerBound)-\(ood.upperBound) overlaps --train_range \(train.lowerBound)-\(train.upperBound) (expected disjoint ranges)")
        }
        let held = Int((Double(train.count) * heldoutFraction).rounded())
        if train.count - held < LessonConfig.minimumRangeSize {
            throw LessonConfigError("holding out \(held) of the \(train.count) train numbers leaves fewer than \(LessonConfig.minimumRangeSize) to train on")
        }
    }

    /// Parses "A-B" (or "A...B", "A..B") into a closed range; nil if malformed or A > B.
    public static func parseRange(_ text: String) -> ClosedRange<Int>? {
        let s = text.trimmingCharacters(in: .whitespaces)
        for separator in ["...", "..", "-", ":"] {
            let parts = s.components(separatedBy: separator)
            if parts.count == 2, let a = Int(parts[0].trimmingCharacters(in: .whitespaces)),
               let b = Int(parts[1].trimmingCharacters(in: .whitespaces)), a <= b {
                return a...b
            }
        }
        return nil
    }
}

/// A configuration problem, described in one line.
public struct LessonConfigError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension LessonConfigError: LocalizedError {
    public var errorDescription: String? { message }
}
