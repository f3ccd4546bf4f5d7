import Curriculum
import Foundation
import Model

/// Where a run stands in its course: the level it is on, when that level began, and how each
/// finished level ended. Saved in every checkpoint, so a resumed run continues mid-level exactly.
public struct CourseProgress: Codable, Equatable, Sendable {
    /// Index of the current level; `levels.count` once every level is done (then the whole
    /// course is practised uniformly until the step budget ends).
    public var level = 0
    /// The step (0-based count of steps done) the current level began at.
    public var levelStart = 0
    public var records: [LevelRecord] = []

    enum CodingKeys: String, CodingKey { case level, levelStart = "level_start", records }
}

/// How one level ended: at which step, whether on mastery, and each concept's score at the last
/// check (the lower of held-out numbers and held-out phrasings).
public struct LevelRecord: Codable, Equatable, Sendable {
    public var level: String
    public var start: Int
    public var end: Int
    public var mastered: Bool
    public var scores: [String: Double]
}

extension Trainer {
    /// This step's questions under a course: the current level's concepts, with the level's
    /// replay share drawn from the earlier levels' concepts; every course concept once all
    /// levels are done.
    func courseQuestions(_ course: Course, count: Int) -> [Question] {
        let p = courseProgress
        guard p.level < course.levels.count else {
            return generator.generate(split: .train, count: count, concepts: course.concepts, rng: &dataRNG)
        }
        let level = course.levels[p.level]
        let earlier = Course(name: course.name, checkEvery: course.checkEvery, levels: Array(course.levels.prefix(p.level))).concepts
        let replay = earlier.isEmpty ? 0 : Int((Double(count) * level.replay).rounded())
        var questions = generator.generate(split: .train, count: count - replay, concepts: level.concepts, rng: &dataRNG)
        if replay > 0 { questions += generator.generate(split: .train, count: replay, concepts: earlier, rng: &dataRNG) }
        dataRNG.shuffle(&questions)
        return questions
    }

    /// After a step: on the level's check steps, score its concepts (EMA weights, a validation
    /// draw of held-out numbers and held-out phrasings) and end the level on mastery or at its cap.
    func advanceCourse(_ course: Course) throws {
        guard courseProgress.level < course.levels.count else { return }
        let level = course.levels[courseProgress.level]
        let done = step - courseProgress.levelStart
        let atCap = done >= level.maxSteps
        guard done % course.checkEvery == 0 || atCap || step >= options.steps else { return }
        let scores = try (masteryScorer ?? masteryScores)(level.concepts)
        let mastered = level.concepts.allSatisfy { (scores[$0.rawValue] ?? 0) >= level.mastery }
        guard mastered || atCap || step >= options.steps else { return }
        courseProgress.records.append(LevelRecord(level: level.name, start: courseProgress.levelStart, end: step,
                                                  mastered: mastered, scores: scores))
        let weakest = scores.min { $0.value < $1.value }.map { String(format: "%@ %.3f", $0.key as NSString, $0.value) } ?? ""
        log("level \(courseProgress.level + 1) \"\(level.name)\" " + (mastered ? "mastered" : "NOT mastered (step cap \(level.maxSteps))")
            + " at step \(step) after \(done) steps; weakest \(weakest)")
        courseProgress.level += 1
        courseProgress.levelStart = step
        if courseProgress.level < course.levels.count {
            log("level \(courseProgress.level + 1) \"\(course.levels[courseProgress.level].name)\" begins: \(course.levels[courseProgress.level].concepts.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// Per concept, the lower of its accuracy on held-out numbers and on held-out phrasings.
    func masteryScores(_ concepts: [Concept]) throws -> [String: Double] {
        try optimizer.swapEMA()
        defer { try? optimizer.swapEMA() }
        var evaluator = Evaluator(model: model, batcher: batcher)
        evaluator.batchSize = min(evaluator.batchSize, microBatch)
        var scores: [String: Double] = [:]
        for split in [Split.heldout, .phrasing] where generator.canGenerate(split) {
            var rng = SplitMix64(seed: options.seed ^ 0x4D41_5354_4552_5900 ^ UInt64(step))  // "MASTERY"
            let qs = generator.generate(split: split, count: options.evalPerConcept * concepts.count, concepts: concepts, rng: &rng)
            let report = SplitReport(try evaluator.score(qs))
            for (name, tally) in report.concepts { scores[name] = min(scores[name] ?? 1, tally.accuracy) }
        }
        return scores
    }
}
