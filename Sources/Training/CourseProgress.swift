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
    /// The diagnosis run at each level's end, and the cells the focus loop chose from it.
    public var diagnoses: [DiagnosisRecord] = []
    /// The cells the next batches practise (from the last diagnosis; empty with the focus loop off).
    public var focus: [FocusCell] = []
    /// Every mastery check: the step, the level and its concepts' scores (for the dashboard).
    public var checks: [MasteryCheck] = []

    enum CodingKeys: String, CodingKey { case level, levelStart = "level_start", records, diagnoses, focus, checks }
}

public struct MasteryCheck: Codable, Equatable, Sendable {
    public var step: Int
    public var level: Int
    public var scores: [String: Double]
}

public struct FocusCell: Codable, Equatable, Sendable {
    public var concept: Concept
    public var category: String
}

public struct DiagnosisRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var afterLevel: String
    public var cells: [Diagnostics.Cell]
    public var focus: [FocusCell]
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
    /// replay share drawn from the earlier levels' concepts and its preview share from the later
    /// levels'; every course concept once all levels are done.
    func courseQuestions(_ course: Course, count: Int) -> [Question] {
        let p = courseProgress
        guard p.level < course.levels.count else {
            let focused = focusQuestions(course, count: count)
            var questions = generator.generate(split: .train, count: count - focused.count, concepts: course.concepts, rng: &dataRNG)
            questions += focused
            dataRNG.shuffle(&questions)
            return questions
        }
        let level = course.levels[p.level]
        let earlier = Course(name: course.name, checkEvery: course.checkEvery, levels: Array(course.levels.prefix(p.level))).concepts
        let focused = focusQuestions(course, count: count)
        let rest = count - focused.count
        let later = Course(name: course.name, checkEvery: course.checkEvery, levels: Array(course.levels.dropFirst(p.level + 1))).concepts
        let replay = earlier.isEmpty ? 0 : Int((Double(rest) * level.replay).rounded())
        let preview = later.isEmpty ? 0 : Int((Double(rest) * level.preview).rounded())
        var questions = generator.generate(split: .train, count: rest - replay - preview, concepts: level.concepts, rng: &dataRNG)
        if replay > 0 { questions += generator.generate(split: .train, count: replay, concepts: earlier, rng: &dataRNG) }
        if preview > 0 { questions += generator.generate(split: .train, count: preview, concepts: later, rng: &dataRNG) }
        questions += focused
        dataRNG.shuffle(&questions)
        return questions
    }

    /// The focus loop's share of a batch: train questions from the focused cells in turn (drawn
    /// until one falls in its cell, at most 64 draws; never held-out numbers or phrasings).
    func focusQuestions(_ course: Course, count: Int) -> [Question] {
        let cells = courseProgress.focus
        guard course.focus > 0, !cells.isEmpty else { return [] }
        let n = Int((Double(count) * course.focus).rounded())
        return (0..<n).map { i in
            let cell = cells[i % cells.count]
            var q = generator.question(concept: cell.concept, split: .train, rng: &dataRNG)
            for _ in 0..<63 where !Diagnostics.categories(q).contains(cell.category) {
                q = generator.question(concept: cell.concept, split: .train, rng: &dataRNG)
            }
            return q
        }
    }

    /// The diagnosis at a level's end, over every concept taught so far; with the focus loop on,
    /// its weakest trainable cells under the level's bar become the next batches' focus.
    func diagnose(_ course: Course, afterLevel index: Int) throws {
        let taught = Course(name: course.name, checkEvery: course.checkEvery, levels: Array(course.levels.prefix(index + 1))).concepts
        try optimizer.swapEMA()
        defer { try? optimizer.swapEMA() }
        var evaluator = Evaluator(model: model, batcher: batcher)
        evaluator.batchSize = min(evaluator.batchSize, microBatch)
        let qs = Diagnostics.questions(generator: generator, concepts: taught, perConcept: options.evalPerConcept,
                                       seed: options.seed ^ UInt64(step))
        let cells = Diagnostics.cells(try evaluator.score(qs))
        let bar = course.levels[index].mastery
        let focus = course.focus > 0
            ? Diagnostics.focusCells(cells, bar: bar).compactMap { c in Concept(rawValue: c.concept).map { FocusCell(concept: $0, category: c.category) } }
            : []
        courseProgress.diagnoses.append(DiagnosisRecord(step: step, afterLevel: course.levels[index].name, cells: cells, focus: focus))
        courseProgress.focus = focus
        let weakest = cells.prefix(3).map { String(format: "%@ %@ %.3f", $0.concept as NSString, $0.category as NSString, $0.accuracy) }
        log("diagnosis after level \(index + 1): weakest " + weakest.joined(separator: ", ")
            + (course.focus > 0 ? (focus.isEmpty ? "; nothing under the bar to focus on" : "; focusing on " + focus.map { "\($0.concept.rawValue) \($0.category)" }.joined(separator: ", ")) : ""))
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
        courseProgress.checks.append(MasteryCheck(step: step, level: courseProgress.level, scores: scores))
        guard mastered || atCap || step >= options.steps else { return }
        courseProgress.records.append(LevelRecord(level: level.name, start: courseProgress.levelStart, end: step,
                                                  mastered: mastered, scores: scores))
        let weakest = scores.min { $0.value < $1.value }.map { String(format: "%@ %.3f", $0.key as NSString, $0.value) } ?? ""
        let why = atCap ? "step cap \(level.maxSteps)" : "the run's \(options.steps) steps ran out"
        log("level \(courseProgress.level + 1) \"\(level.name)\" " + (mastered ? "mastered" : "NOT mastered (\(why))")
            + " at step \(step) after \(done) steps; weakest \(weakest)")
        try diagnose(course, afterLevel: courseProgress.level)
        courseProgress.level += 1
        courseProgress.levelStart = step
        if courseProgress.level < course.levels.count && step < options.steps {
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
