import Foundation

/// Per-concept counts and label balance of a set of questions (`learner lessons --stats`).
public struct LessonStats: Sendable {
    public struct Row: Sendable, Equatable {
        public var concept: Concept
        public var count = 0
        public var yes = 0
        public var no = 0
        /// Questions with a number answer.
        public var numbers = 0
        /// Distinct phrasings used (by template index; -1 counts as one).
        public var phrasings = 0
        public var smallestOperand: Int?
        public var largestOperand: Int?

        /// Share of yes among the yes/no answers (nil without any).
        public var yesFraction: Double? { yes + no > 0 ? Double(yes) / Double(yes + no) : nil }
    }

    /// One row per concept present, in `Concept.allCases` order.
    public let rows: [Row]
    public let total: Int

    public init(questions: [Question]) {
        var rows: [Concept: Row] = [:]
        var templates: [Concept: Set<Int>] = [:]
        for q in questions {
            var row = rows[q.concept] ?? Row(concept: q.concept)
            row.count += 1
            switch q.answer {
            case .yes: row.yes += 1
            case .no: row.no += 1
            case .number: row.numbers += 1
            }
            for n in q.operands {
                row.smallestOperand = min(row.smallestOperand ?? n, n)
                row.largestOperand = max(row.largestOperand ?? n, n)
            }
            templates[q.concept, default: []].insert(q.template)
            rows[q.concept] = row
        }
        self.rows = Concept.allCases.compactMap { c in
            guard var row = rows[c] else { return nil }
            row.phrasings = templates[c]?.count ?? 0
            return row
        }
        total = questions.count
    }

    /// A plain-text table.
    public var table: String {
        func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
            s.count >= w ? s : (left ? s + String(repeating: " ", count: w - s.count) : String(repeating: " ", count: w - s.count) + s)
        }
        var lines = [pad("concept", 14, left: true) + pad("count", 8) + pad("yes", 8) + pad("no", 8) + pad("yes%", 8)
                     + pad("number", 8) + pad("phrasings", 11) + "  operands"]
        for r in rows {
            let yesPct = r.yesFraction.map { String(format: "%.1f", $0 * 100) } ?? "-"
            let range = r.smallestOperand.map { "\($0)-\(r.largestOperand!)" } ?? "-"
            lines.append(pad(r.concept.rawValue, 14, left: true) + pad(String(r.count), 8) + pad(String(r.yes), 8)
                         + pad(String(r.no), 8) + pad(yesPct, 8) + pad(String(r.numbers), 8) + pad(String(r.phrasings), 11)
                         + "  " + range)
        }
        lines.append(pad("total", 14, left: true) + pad(String(total), 8))
        return lines.joined(separator: "\n")
    }
}

/// Scores simple surface cues as if they were answers: a cue "predicts yes" when it holds for the
/// question's operands (a, b). With balanced labels, a cue that carries no information scores 0.5.
public enum ShortcutAudit {
    public enum Cue: String, CaseIterable, Sendable {
        case differs = "a != b"
        case distance1 = "|a-b| = 1"
        case distance2 = "|a-b| = 2"
        case bAbove = "b > a"
        case bBelow = "b < a"
        case near = "|a-b| < 10"
        case alwaysYes = "always yes"

        public func holds(_ a: Int, _ b: Int) -> Bool {
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

    /// The most a cue may score on a relation; nil where the cue alone defines the relation
    /// (b < a is greater, b > a is smaller).
    public static func limit(_ cue: Cue, _ concept: Concept) -> Double? {
        guard concept.isRelation else { return nil }
        if cue == .bBelow && concept == .greater { return nil }
        if cue == .bAbove && concept == .smaller { return nil }
        if cue == .differs && (concept == .greater || concept == .smaller) { return 0.6 }
        return 0.8
    }

    /// Accuracy of a cue on the yes/no questions of `concept` with two operands (nil: none).
    public static func score(_ cue: Cue, concept: Concept, questions: [Question]) -> Double? {
        var right = 0, total = 0
        for q in questions where q.concept == concept && q.operands.count == 2 && q.answer.isYesNo {
            total += 1
            if cue.holds(q.operands[0], q.operands[1]) == (q.answer == .yes) { right += 1 }
        }
        return total > 0 ? Double(right) / Double(total) : nil
    }

    public struct Finding: Sendable {
        public var concept: Concept
        public var cue: Cue
        public var score: Double
        public var limit: Double
        public var passed: Bool { score <= limit }
    }

    /// Every (relation, cue) pair with a limit, scored on `questions`.
    public static func audit(_ questions: [Question]) -> [Finding] {
        var out: [Finding] = []
        for concept in Concept.relations {
            for cue in Cue.allCases {
                guard let limit = limit(cue, concept), let s = score(cue, concept: concept, questions: questions) else { continue }
                out.append(Finding(concept: concept, cue: cue, score: s, limit: limit))
            }
        }
        return out
    }

    /// One line per relation: its best-scoring cue and the limit.
    public static func summary(_ questions: [Question]) -> String {
        let findings = audit(questions)
        var lines = ["shortcut audit (best single cue per relation; must be <= limit):"]
        for concept in Concept.relations {
            guard let worst = findings.filter({ $0.concept == concept }).max(by: { $0.score - $0.limit < $1.score - $1.limit }) else { continue }
            lines.append("  \(concept.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(worst.cue.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) "
                         + String(format: "%.3f (limit %.1f) %@", worst.score, worst.limit, worst.passed ? "ok" : "FAIL"))
        }
        return lines.joined(separator: "\n")
    }
}
