import Foundation

/// A course: Grade 1 (or any set of concepts) as ordered levels, each passed on mastery
/// (Docs/COURSES.md). A course is data: `Courses/<name>.json`, or any file a user writes.
///
/// ```json
/// {"name": "grade1", "check_every": 50,
///  "levels": [{"name": "counting", "concepts": ["count_after"], "mastery": 0.98, "max_steps": 250, "replay": 0}]}
/// ```
public struct Course: Codable, Equatable, Sendable {
    public struct Level: Codable, Equatable, Sendable {
        public var name: String
        public var concepts: [Concept]
        /// Accuracy every concept of the level must reach on held-out numbers and held-out
        /// phrasings (EMA weights, a validation draw) for the level to end.
        public var mastery: Double
        /// Steps after which the level ends even if not mastered (the report says so).
        public var maxSteps: Int
        /// Share of each batch drawn from the earlier levels' concepts, so they are not forgotten.
        public var replay: Double
        /// Share of each batch drawn from the later levels' concepts (0 = the level gates them
        /// out): levels interleaved, the current one emphasised.
        public var preview: Double = 0

        enum CodingKeys: String, CodingKey { case name, concepts, mastery, maxSteps = "max_steps", replay, preview }

        public init(name: String, concepts: [Concept], mastery: Double, maxSteps: Int, replay: Double, preview: Double = 0) {
            self.name = name; self.concepts = concepts; self.mastery = mastery; self.maxSteps = maxSteps; self.replay = replay
            self.preview = preview
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            concepts = try c.decode([Concept].self, forKey: .concepts)
            mastery = try c.decode(Double.self, forKey: .mastery)
            maxSteps = try c.decode(Int.self, forKey: .maxSteps)
            replay = try c.decode(Double.self, forKey: .replay)
            preview = try c.decodeIfPresent(Double.self, forKey: .preview) ?? 0
        }
    }

    public var name: String
    public var description: String?
    /// Steps between mastery checks within a level.
    public var checkEvery: Int
    public var levels: [Level]
    /// The focus loop: after each level's diagnosis, this share of each batch practises the
    /// weakest diagnostic cells (0 = off; `--focus` overrides it).
    public var focus: Double = 0

    enum CodingKeys: String, CodingKey { case name, description, checkEvery = "check_every", levels, focus }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        checkEvery = try c.decode(Int.self, forKey: .checkEvery)
        levels = try c.decode([Level].self, forKey: .levels)
        focus = try c.decodeIfPresent(Double.self, forKey: .focus) ?? 0
    }

    public init(name: String, description: String? = nil, checkEvery: Int, levels: [Level], focus: Double = 0) {
        self.name = name; self.description = description; self.checkEvery = checkEvery; self.levels = levels; self.focus = focus
    }

    /// Every concept of the course, in level order.
    public var concepts: [Concept] {
        var seen = Set<Concept>()
        return levels.flatMap(\.concepts).filter { seen.insert($0).inserted }
    }

    /// Reads a course: `name` is a file path, or the name of a file in `Courses/` under the
    /// current folder (`grade1` → `Courses/grade1.json`).
    public static func load(_ name: String) throws -> Course {
        let direct = URL(fileURLWithPath: name)
        let named = URL(fileURLWithPath: "Courses").appendingPathComponent(name.hasSuffix(".json") ? name : name + ".json")
        let url = FileManager.default.fileExists(atPath: direct.path) && !name.isEmpty ? direct : named
        guard let data = FileManager.default.contents(atPath: url.path) else {
            let known = ((try? FileManager.default.contentsOfDirectory(atPath: "Courses")) ?? []).filter { $0.hasSuffix(".json") }
                .map { String($0.dropLast(5)) }.sorted()
            throw CourseError("course \(name): no such file (\(url.path)); expected a course file\(known.isEmpty ? "" : " or one of \(known.joined(separator: ", "))")")
        }
        return try parse(data, name: url.lastPathComponent)
    }

    /// Parses and validates a course file; every problem is one line naming the field.
    public static func parse(_ data: Data, name: String) throws -> Course {
        let course: Course
        do {
            course = try JSONDecoder().decode(Course.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw CourseError("\(name): missing field \(Self.path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(type, context) {
            throw CourseError("\(name): field \(Self.path(context.codingPath)) is not \(Self.kind(type))")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw CourseError("\(name): field \(Self.path(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw CourseError("\(name): field \(Self.path(context.codingPath)) is null")
        } catch {
            throw CourseError("\(name): not a JSON course file (\(error.localizedDescription))")
        }
        try course.validate(name: name)
        return course
    }

    static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
            .replacingOccurrences(of: ".[", with: "[")
    }

    static func kind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type: return "a whole number"
        case is Double.Type: return "a number"
        default: return "\(type)".lowercased().contains("array") ? "a list" : "an object"
        }
    }

    public func validate(name file: String) throws {
        func fail(_ s: String) -> CourseError { CourseError("\(file): \(s)") }
        if name.isEmpty { throw fail("field name is empty") }
        if checkEvery < 1 { throw fail("field check_every is \(checkEvery) (expected a whole number >= 1)") }
        if levels.isEmpty { throw fail("field levels is empty (expected at least one level)") }
        if !(focus >= 0 && focus <= 0.5) { throw fail("field focus is \(focus) (expected 0 <= focus <= 0.5)") }
        for (i, level) in levels.enumerated() {
            let at = "levels[\(i)]"
            if level.concepts.isEmpty { throw fail("field \(at).concepts is empty (expected concept names)") }
            if !(level.mastery > 0 && level.mastery <= 1) { throw fail("field \(at).mastery is \(level.mastery) (expected 0 < mastery <= 1)") }
            if level.maxSteps < 1 { throw fail("field \(at).max_steps is \(level.maxSteps) (expected a whole number >= 1)") }
            if !(level.replay >= 0 && level.replay < 1) { throw fail("field \(at).replay is \(level.replay) (expected 0 <= replay < 1)") }
            if i == 0 && level.replay > 0 { throw fail("field \(at).replay is \(level.replay) (the first level has nothing to replay; expected 0)") }
            if !(level.preview >= 0 && level.replay + level.preview < 1) {
                throw fail("field \(at).preview is \(level.preview) (expected 0 <= preview and replay + preview < 1)")
            }
            if i == levels.count - 1 && level.preview > 0 {
                throw fail("field \(at).preview is \(level.preview) (the last level has nothing to preview; expected 0)")
            }
        }
    }

    /// The printed course (`learner course show`).
    public var text: String {
        var out = "course \(name)\(description.map { ": \($0)" } ?? "")\nmastery checked every \(checkEvery) steps; "
            + (focus > 0 ? String(format: "focus loop: %.0f%% of each batch on the weakest diagnostic cells\n", focus * 100) : "focus loop off\n")
        for (i, l) in levels.enumerated() {
            out += String(format: "level %d  %@\n  concepts: %@\n  mastery %.2f on held-out numbers and phrasings, at most %d steps, replay %.0f%%, preview %.0f%%\n",
                          i + 1, l.name as NSString, l.concepts.map(\.rawValue).joined(separator: ", ") as NSString,
                          l.mastery, l.maxSteps, l.replay * 100, l.preview * 100)
        }
        return out
    }
}

public struct CourseError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
