import Compute
import Curriculum
import Foundation
import Model

public struct Tally: Codable, Equatable, Sendable {
    public var correct = 0
    public var total = 0
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }
    mutating func add(_ ok: Bool) { total += 1; if ok { correct += 1 } }
}

/// One question, what the model said, and whether it was right.
public struct ScoredQuestion: Sendable {
    public var question: Question
    public var prediction: Prediction
    /// Set when the evaluator's abstention policy says "cannot answer" (the answer is still scored).
    public var abstention: Abstention? = nil
    public var correct: Bool { prediction.answer == question.answer }
}

extension ScoredQuestion {
    /// Names of the question's operands in the order of its concept's definition (Docs/LESSONS.md).
    var operandNames: [String] {
        switch question.concept {
        case .equality: return question.operands.count == 3 ? ["n", "n+2", "m"] : ["n", "m"]
        case .countAfter, .countBefore, .countBetween: return ["n", "m"]
        default: return ["a", "b"]
        }
    }

    /// The program run, with each operand named by its role, e.g. "equal(subtract_2(b), a)";
    /// "?" where the pointer sat on a number that is not an operand.
    public var programWithRoles: String {
        let t = prediction.trace
        func role(_ value: Int?) -> String {
            guard let value, let i = question.operands.firstIndex(of: value), i < operandNames.count else { return "?" }
            return operandNames[i]
        }
        let a = t.unary.isBinary ? "\(t.unary.name)(\(role(t.operandA)), \(role(t.operandC)))" : "\(t.unary.name)(\(role(t.operandA)))"
        return prediction.isNumber ? a : "\(t.relation.name)(\(a), \(role(t.operandB)))"
    }

    /// One JSON object: the question, the expected and the given answer, and the program the
    /// model ran (op, relation, which numbers A and B are), for reading failures one by one.
    public func jsonLine() throws -> String {
        struct Line: Encodable {
            var question: String, answer: String, predicted: String, correct: Bool, concept: String
            var split: String, template: Int, operands: [Int], program: String
            var op: String, relation: String?, a: Int?, b: Int?, c: Int?, slot_a: Int, slot_b: Int?, slot_c: Int?, p_yes: Float?
            var program_confidence: Float, abstained: String?
        }
        let t = prediction.trace
        let step = t.unary.isBinary ? "\(t.unary.name)(A, C)" : "\(t.unary.name)(A)"
        let program = prediction.isNumber ? step : "\(t.relation.name)(\(step), B)"
        let line = Line(question: question.text, answer: question.answer.description, predicted: prediction.answer.description,
                        correct: correct, concept: question.concept.rawValue, split: question.split.rawValue,
                        template: question.template, operands: question.operands, program: program, op: t.unary.name,
                        relation: prediction.isNumber ? nil : t.relation.name, a: t.operandA,
                        b: prediction.isNumber ? nil : t.operandB, c: t.unary.isBinary ? t.operandC : nil, slot_a: t.slotA + 1,
                        slot_b: prediction.isNumber ? nil : t.slotB + 1, slot_c: t.unary.isBinary ? t.slotC + 1 : nil, p_yes: prediction.isNumber ? nil : prediction.pYes,
                        program_confidence: prediction.programConfidence, abstained: abstention?.reason)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(line), as: UTF8.self)
    }
}

/// One phrasing's score and the program the model ran most often on it.
public struct PhrasingTally: Codable, Equatable, Sendable {
    public var concept: String
    public var phrasing: String
    public var correct: Int
    public var total: Int
    /// The most common `ScoredQuestion.programWithRoles`, and on how many questions it ran.
    public var program: String
    public var programCount: Int
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

    enum CodingKeys: String, CodingKey {
        case concept, phrasing, correct, total, program, programCount = "program_count"
    }

    /// Per generated phrasing (concept and template index; equality also per expression), weakest first.
    static func tallies(_ scored: [ScoredQuestion]) -> [PhrasingTally] {
        var groups: [String: (concept: Concept, phrasing: String, tally: Tally, programs: [String: Int])] = [:]
        for s in scored {
            let q = s.question, texts = Templates.phrasings(q.concept)
            guard texts.indices.contains(q.template) else { continue }
            var phrasing = texts[q.template]
            // An equality frame is listed once per expression: each needs its own op.
            if q.concept == .equality, let n = q.operands.first, let e = Templates.Expression.allCases.first(where: {
                q.text.contains($0.text.replacingOccurrences(of: "{n}", with: String(n))
                    .replacingOccurrences(of: "{k}", with: String(n + 2)))
            }) {
                phrasing = phrasing.replacingOccurrences(of: "{X}", with: e.text)
            }
            let key = "\(q.concept.rawValue)#\(phrasing)"
            var g = groups[key] ?? (q.concept, phrasing, Tally(), [:])
            g.tally.add(s.correct)
            g.programs[s.programWithRoles, default: 0] += 1
            groups[key] = g
        }
        return groups.values.map { g in
            let top = g.programs.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!
            return PhrasingTally(concept: g.concept.rawValue, phrasing: g.phrasing,
                                 correct: g.tally.correct, total: g.tally.total, program: top.key, programCount: top.value)
        }.sorted { ($0.accuracy, $0.concept, $0.phrasing) < ($1.accuracy, $1.concept, $1.phrasing) }
    }
}

/// The original project's report for one set of questions.
public struct SplitReport: Codable, Sendable {
    public var overall: Double
    public var correct: Int
    public var total: Int
    public var concepts: [String: Tally]
    /// Yes/no accuracy when answering yes iff p(yes) >= threshold, for 0.4, 0.5, 0.6.
    public var thresholds: [String: Double]
    public var bestThreshold: Double
    public var bestThresholdAccuracy: Double
    /// greater/smaller questions with |a - b| <= 1, and the rest.
    public var close: Tally
    public var far: Tally
    public var samples: [String]
    /// Generated questions only: every phrasing's score and the program run most, weakest first.
    public var phrasings: [PhrasingTally]?
    /// Questions the abstention policy would not answer (counted in the accuracy all the same, so
    /// the figures compare with earlier rounds), and how many each rule took.
    public var abstained: Int = 0
    public var abstentionRules: [String: Int] = [:]

    enum CodingKeys: String, CodingKey {
        case overall, correct, total, concepts, thresholds, bestThreshold = "best_threshold"
        case bestThresholdAccuracy = "best_threshold_accuracy", close, far, samples, phrasings
        case abstained, abstentionRules = "abstention_rules"
    }

    /// `byPhrasing`: the questions come from the generator, so their template indices name phrasings.
    public init(_ scored: [ScoredQuestion], samples sampleCount: Int = 6, byPhrasing: Bool = false) {
        phrasings = byPhrasing ? PhrasingTally.tallies(scored) : nil
        var concepts: [String: Tally] = [:]
        var all = Tally(), close = Tally(), far = Tally()
        for s in scored {
            if let a = s.abstention { abstained += 1; abstentionRules[a.rule.rawValue, default: 0] += 1 }
            concepts[s.question.concept.rawValue, default: Tally()].add(s.correct)
            all.add(s.correct)
            if s.question.concept == .greater || s.question.concept == .smaller, s.question.operands.count == 2 {
                let d = abs(s.question.operands[0] - s.question.operands[1])
                if d <= 1 { close.add(s.correct) } else { far.add(s.correct) }
            }
        }
        let yesNo = scored.filter { $0.question.answer.isYesNo }
        func accuracy(at t: Double) -> Double {
            guard !yesNo.isEmpty else { return 0 }
            let ok = yesNo.filter { s in
                !s.prediction.isNumber && ((Double(s.prediction.pYes) >= t) == (s.question.answer == .yes))
            }.count
            return Double(ok) / Double(yesNo.count)
        }
        var thresholds: [String: Double] = [:]
        for t in [0.4, 0.5, 0.6] { thresholds[String(format: "%.1f", t)] = accuracy(at: t) }
        var best = (0.5, accuracy(at: 0.5))
        for i in 0...30 {
            let t = 0.35 + Double(i) * 0.01
            let a = accuracy(at: t)
            if a > best.1 { best = (t, a) }
        }
        overall = all.accuracy
        correct = all.correct
        total = all.total
        self.concepts = concepts
        self.thresholds = thresholds
        bestThreshold = best.0
        bestThresholdAccuracy = best.1
        self.close = close
        self.far = far
        // Samples: the first few of each kind, wrong answers first so they are seen.
        let ordered = scored.filter { !$0.correct } + scored.filter { $0.correct }
        samples = ordered.prefix(sampleCount).map { s in
            "\(s.question.text) -> \(s.prediction.answer.string) (expected \(s.question.answer.string))\(s.correct ? "" : "  WRONG")"
        }
    }
}

/// Eval of every split: the per-split reports, and totals over all of them.
/// How the abstention policy did on questions outside Grade 1 (`OutOfScope`): each should get
/// "cannot answer".
public struct OutOfScopeReport: Codable, Sendable {
    public var total = 0
    public var abstained = 0
    public var rate: Double { total == 0 ? 0 : Double(abstained) / Double(total) }
    /// Per kind: `correct` counts abstentions.
    public var kinds: [String: Tally] = [:]
    public var rules: [String: Int] = [:]
    /// Questions answered anyway, with the answer given (the first few).
    public var answered: [String] = []

    enum CodingKeys: String, CodingKey { case total, abstained, rate, kinds, rules, answered }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        total = try c.decode(Int.self, forKey: .total); abstained = try c.decode(Int.self, forKey: .abstained)
        kinds = try c.decode([String: Tally].self, forKey: .kinds); rules = try c.decode([String: Int].self, forKey: .rules)
        answered = try c.decode([String].self, forKey: .answered)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(total, forKey: .total); try c.encode(abstained, forKey: .abstained); try c.encode(rate, forKey: .rate)
        try c.encode(kinds, forKey: .kinds); try c.encode(rules, forKey: .rules); try c.encode(answered, forKey: .answered)
    }

    mutating func add(_ q: OutOfScopeQuestion, _ abstention: Abstention?, answer: String?) {
        total += 1
        kinds[q.kind.rawValue, default: Tally()].add(abstention != nil)
        if let abstention {
            abstained += 1
            rules[abstention.rule.rawValue, default: 0] += 1
        } else if answered.count < 12 {
            answered.append("\(q.text) -> \(answer ?? "?")")
        }
    }

    func text() -> String {
        var out = "== out_of_scope: questions outside Grade 1 (each should get \"cannot answer\") ==\n"
        out += String(format: "abstained %.4f (%d/%d)\n", rate, abstained, total)
        for kind in OutOfScopeKind.allCases.map(\.rawValue) {
            guard let t = kinds[kind] else { continue }
            out += "  " + kind.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "%6d/%-6d  %.4f\n", t.correct, t.total, t.accuracy)
        }
        out += "by rule: " + rules.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        if !answered.isEmpty {
            out += "answered anyway:\n" + answered.map { "  " + $0 }.joined(separator: "\n") + "\n"
        }
        return out + "\n"
    }
}

public struct EvalReport: Codable, Sendable {
    public var overall: Double
    public var concepts: [String: Tally]
    public var splits: [String: SplitReport]
    /// Set when the eval ran with an abstention policy.
    public var outOfScope: OutOfScopeReport?
    /// `learner eval --diagnose`: the diagnostic cells, weakest first.
    public var diagnostics: [Diagnostics.Cell]?

    enum CodingKeys: String, CodingKey { case overall, concepts, splits, outOfScope = "out_of_scope", diagnostics }

    /// Mean accuracy over the held-out splits present in the report (`best` is chosen on held-out numbers alone).
    public var heldoutScore: Double {
        let keys = ["heldout", "phrasing"].filter { splits[$0] != nil }
        guard !keys.isEmpty else { return overall }
        return keys.map { splits[$0]!.overall }.reduce(0, +) / Double(keys.count)
    }

    public init(splits: [String: SplitReport]) {
        self.splits = splits
        var concepts: [String: Tally] = [:]
        var all = Tally()
        for r in splits.values {
            for (k, v) in r.concepts {
                concepts[k, default: Tally()].correct += v.correct
                concepts[k, default: Tally()].total += v.total
            }
            all.correct += r.correct
            all.total += r.total
        }
        self.concepts = concepts
        overall = all.accuracy
    }

    public func json() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try enc.encode(self), as: UTF8.self)
    }

    /// The per-phrasing lines of the text report list the phrasings under the mastery bar.
    static let phrasingBar = 0.98

    static let splitTitles = [
        "train": "train numbers, train phrasings",
        "heldout": "held-out numbers (never trained on)",
        "phrasing": "held-out phrasings: new combinations of trained frames and words (never trained on)",
        "fixed": "the fixed held-out sentences of earlier rounds (never trained on)",
        "ood": "out-of-range numbers",
        "questions": "questions file",
    ]

    /// The human-readable report.
    public func text() -> String {
        var out = ""
        let order = ["train", "heldout", "phrasing", "ood", "questions"].filter { splits[$0] != nil }
            + splits.keys.sorted().filter { !["train", "heldout", "phrasing", "ood", "questions"].contains($0) }
        for name in order {
            let r = splits[name]!
            out += "== \(name): \(Self.splitTitles[name] ?? name) ==\n"
            out += String(format: "overall accuracy %.4f (%d/%d)\n", r.overall, r.correct, r.total)
            out += "concept          correct/total  accuracy\n"
            for c in Concept.allCases.map(\.rawValue) + r.concepts.keys.sorted().filter({ Concept(rawValue: $0) == nil }) {
                guard let t = r.concepts[c] else { continue }
                let name = c.padding(toLength: max(15, c.count), withPad: " ", startingAt: 0)
                out += "  " + name + String(format: "%6d/%-6d  %.4f\n", t.correct, t.total, t.accuracy)
            }
            let th = ["0.4", "0.5", "0.6"].map { "p>=\($0): " + String(format: "%.4f", r.thresholds[$0] ?? 0) }
            out += "yes/no at thresholds: " + th.joined(separator: "  ")
                + String(format: "  best %.2f: %.4f\n", r.bestThreshold, r.bestThresholdAccuracy)
            if r.close.total + r.far.total > 0 {
                out += String(format: "greater/smaller close |a-b|<=1: %.4f (%d/%d)  far: %.4f (%d/%d)\n",
                              r.close.accuracy, r.close.correct, r.close.total, r.far.accuracy, r.far.correct, r.far.total)
            }
            if let phrasings = r.phrasings {
                let weak = phrasings.filter { $0.accuracy < Self.phrasingBar }
                if weak.isEmpty {
                    out += String(format: "every phrasing at %.2f or above\n", Self.phrasingBar)
                } else {
                    out += String(format: "phrasings under %.2f (accuracy, phrasing, the program run most):\n", Self.phrasingBar)
                    for p in weak.prefix(10) {
                        out += String(format: "  %.2f  %@: \"%@\"  %@ (%d/%d)\n", p.accuracy, p.concept as NSString,
                                      p.phrasing as NSString, p.program as NSString, p.programCount, p.total)
                    }
                    if weak.count > 10 { out += "  ... and \(weak.count - 10) more (--json lists them all)\n" }
                }
            }
            if r.abstained > 0 || outOfScope != nil {
                let rules = r.abstentionRules.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                out += String(format: "abstained (\"cannot answer\") %d of %d (%.2f%%)%@\n", r.abstained, r.total,
                              100 * Double(r.abstained) / Double(max(1, r.total)), (rules.isEmpty ? "" : ": " + rules) as NSString)
            }
            out += "samples:\n" + r.samples.map { "  " + $0 }.joined(separator: "\n") + "\n\n"
        }
        if let outOfScope { out += outOfScope.text() }
        if let diagnostics { out += Diagnostics.text(diagnostics) + "\n" }
        out += String(format: "ALL SPLITS overall %.4f\n", overall)
        return out
    }
}

/// Runs a model over questions in batches, argmax program at every step (eval mode).
public struct Evaluator {
    public let model: ConceptModel
    public let batcher: Batcher
    public var batchSize = 256
    /// When set, every scored question is checked and gets an `abstention` where the policy says
    /// "cannot answer" (`learner eval` and `ask`; training's own evals leave it off).
    public var policy: AbstentionPolicy?

    public init(model: ConceptModel, batcher: Batcher, policy: AbstentionPolicy? = nil) {
        self.model = model
        self.batcher = batcher
        self.policy = policy
    }

    /// One question through the policy: the text checks first (the model does not run on a
    /// question they refuse), then the program's.
    public func answer(_ text: String) throws -> (prediction: Prediction?, abstention: Abstention?) {
        let encoded = batcher.tokenizer.encode(text, maxLength: batcher.maxLen)
        if let policy, let early = policy.check(text: text, encoded: encoded) { return (nil, early) }
        let q = Question(text: text, answer: .no, concept: .equality, operands: [], split: .train, template: 0)
        let p = try score([q])[0]
        return (p.prediction, p.abstention)
    }

    /// Out-of-scope questions through the policy (which must be set).
    public func scoreOutOfScope(_ questions: [OutOfScopeQuestion]) throws -> OutOfScopeReport {
        var report = OutOfScopeReport()
        var toModel: [(OutOfScopeQuestion, Question)] = []
        for q in questions {
            let encoded = batcher.tokenizer.encode(q.text, maxLength: batcher.maxLen)
            if let policy, let early = policy.check(text: q.text, encoded: encoded) {
                report.add(q, early, answer: nil)
            } else {
                toModel.append((q, Question(text: q.text, answer: .no, concept: .equality, operands: [], split: .train, template: 0)))
            }
        }
        let scored = try score(toModel.map(\.1))
        for ((q, _), s) in zip(toModel, scored) { report.add(q, s.abstention, answer: s.prediction.answer.string) }
        return report
    }

    /// Scores questions in batches; on out-of-memory the batch halves and the chunk is retried.
    public func score(_ questions: [Question]) throws -> [ScoredQuestion] {
        var out: [ScoredQuestion] = []
        out.reserveCapacity(questions.count)
        var size = max(1, batchSize)
        var i = 0
        while i < questions.count {
            let chunk = Array(questions[i..<min(questions.count, i + size)])
            let batch = try batcher.batch(chunk, withTargets: false)
            let preds: [Prediction]
            do {
                preds = try model.forward(batch, hard: true).predictions
            } catch let error as ComputeError where error.isOutOfMemory && size > 1 {
                model.releaseActivations()
                size /= 2
                continue
            }
            for (q, p) in zip(chunk, preds) {
                var s = ScoredQuestion(question: q, prediction: p)
                if let policy {
                    s.abstention = policy.check(text: q.text, encoded: batcher.tokenizer.encode(q.text, maxLength: batcher.maxLen), prediction: p)
                }
                out.append(s)
            }
            i += chunk.count
        }
        return out
    }

    /// The fixed eval set of each split: `perConcept` questions per concept, from a seed that
    /// does not depend on training, so every checkpoint of a run is scored on the same questions.
    public static func evalSet(generator: LessonGenerator, split: Split, perConcept: Int, seed: UInt64) -> [Question] {
        var rng = SplitMix64(seed: seed ^ 0x4556_414C_0000_0000 ^ UInt64(Split.allCases.firstIndex(of: split)!))
        return generator.generate(split: split, count: perConcept * generator.concepts(for: split).count, rng: &rng)
    }

    /// `scored`, when given, receives every scored question of every split.
    public func report(generator: LessonGenerator, perConcept: Int, seed: UInt64,
                       splits: [Split] = Split.allCases, scored: ((ScoredQuestion) throws -> Void)? = nil) throws -> EvalReport {
        var reports: [String: SplitReport] = [:]
        for split in splits where generator.canGenerate(split) {
            let qs = Self.evalSet(generator: generator, split: split, perConcept: perConcept, seed: seed)
            let results = try score(qs)
            if let scored { try results.forEach(scored) }
            reports[split.rawValue] = SplitReport(results, byPhrasing: true)
        }
        var report = EvalReport(splits: reports)
        if policy != nil {
            var rng = SplitMix64(seed: seed ^ 0x4F4F_5300_0000_0000)
            report.outOfScope = try scoreOutOfScope(OutOfScope.generate(count: perConcept * OutOfScopeKind.allCases.count,
                                                                        generator: generator, places: model.config.places, rng: &rng))
        }
        return report
    }
}
