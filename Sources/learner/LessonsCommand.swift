import ArgumentParser
import Curriculum
import Foundation

/// `learner lessons`: export generated questions as JSONL, print their statistics, or time the generator.
///
/// Options are read as text and checked here so that a bad value gives one line of error
/// (`error: --split "tain" is not a split (expected train, heldout, phrasing or ood)`), exit status 64.
struct LessonsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lessons",
        abstract: "Generate Grade 1 (and, with --grade 2, Grade 2) lessons: export a question file, print per-concept statistics, or time the generator.",
        discussion: """
        Examples:
          learner lessons --export train.jsonl --count 5000 --seed 7 --split train
          learner lessons --export ood.jsonl --count 1000 --seed 7 --split ood --ood_range 100-199
          learner lessons --stats --count 10000 --split all
          learner lessons --bench --count 200000
        The held-out numbers depend on --seed (and the ranges): export eval files with the seed of the training run.
        """)

    @Option(name: .customLong("export"), help: ArgumentHelp("Write the questions as JSON lines to FILE.", valueName: "FILE"))
    var export: String?

    @Flag(name: .customLong("stats"), help: "Print per-concept counts, yes/no balance and the shortcut audit.")
    var stats = false

    @Flag(name: .customLong("bench"), help: "Time generation (and tokenization) on one core.")
    var bench = false

    @Flag(name: .customLong("phrasings"), help: "List every phrasing per concept with its worked solution and whether it is train, held out (systematic) or fixed.")
    var phrasings = false

    @Flag(name: .customLong("out_of_scope"), help: "Questions outside the grade taught (other operations and grades, nonsense, unsupported numbers), which learner eval expects to get \"cannot answer\": print them as KIND<tab>QUESTION, or with --export write JSON lines {\"question\", \"kind\"}.")
    var outOfScope = false

    @Option(name: .customLong("count"), help: ArgumentHelp("Number of questions (default 1000; 200000 for --bench).", valueName: "N"))
    var count: String?

    @Option(name: .customLong("seed"), help: ArgumentHelp("Seed of the held-out number set and, unless --sample_seed, of the questions.", valueName: "S"))
    var seed: String = "0"

    @Option(name: .customLong("sample_seed"), help: ArgumentHelp("Seed of question sampling only (default: --seed).", valueName: "S"))
    var sampleSeed: String?

    @Option(name: .customLong("split"), help: ArgumentHelp("train, heldout, phrasing or ood (--stats also takes all).", valueName: "SPLIT"))
    var split: String = "train"

    @Option(name: .customLong("concepts"), help: ArgumentHelp("Comma-separated concept names (default: all).", valueName: "LIST"))
    var concepts: String?

    @Option(name: .customLong("max_number"), help: ArgumentHelp("Numbers of the default train range are 0..N-1 (default 100).", valueName: "N"))
    var maxNumber: String?

    @Option(name: .customLong("train_range"), help: ArgumentHelp("Train numbers (default 0-(max_number-1)).", valueName: "A-B"))
    var trainRange: String?

    @Option(name: .customLong("ood_range"), help: ArgumentHelp("Out-of-range numbers (default: the block of the same size above the train range).", valueName: "A-B"))
    var oodRange: String?

    @Option(name: .customLong("heldout_fraction"), help: ArgumentHelp("Share of the train range held out (default 0.2).", valueName: "F"))
    var heldoutFraction: String?

    @Option(name: .customLong("template_holdout"), help: ArgumentHelp("Keep two phrasings per concept out of training (default true).", valueName: "true|false"))
    var templateHoldout: String?

    @Option(name: .customLong("grade"), help: ArgumentHelp("The highest grade: 1 (default) or 2 (Grade 1 and Grade 2 concepts).", valueName: "G"))
    var grade: Int = 1

    struct UsageError: Error { let message: String }

    func run() throws {
        do {
            try execute()
        } catch let error as UsageError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode(64)
        } catch let error as LessonConfigError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode(64)
        } catch let error as QuestionFileError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func parseInt(_ text: String, _ flag: String, min: Int) throws -> Int {
        guard let n = Int(text.trimmingCharacters(in: .whitespaces)), n >= min else {
            throw UsageError(message: "\(flag) \"\(text)\" is not a whole number >= \(min)")
        }
        return n
    }

    private func parseSeed(_ text: String, _ flag: String) throws -> UInt64 {
        guard let n = UInt64(text.trimmingCharacters(in: .whitespaces)) else {
            throw UsageError(message: "\(flag) \"\(text)\" is not a seed (expected a whole number 0...\(UInt64.max))")
        }
        return n
    }

    private func parseRange(_ text: String?, _ flag: String) throws -> ClosedRange<Int>? {
        guard let text else { return nil }
        guard let range = LessonConfig.parseRange(text) else {
            throw UsageError(message: "\(flag) \"\(text)\" is not a range (expected A-B with whole numbers A <= B, e.g. 0-99)")
        }
        return range
    }

    /// The lesson configuration the flags describe (validated).
    func lessonConfig() throws -> LessonConfig {
        var config = LessonConfig(seed: try parseSeed(seed, "--seed"))
        if let maxNumber { config.maxNumber = try parseInt(maxNumber, "--max_number", min: 1) }
        config.trainRange = try parseRange(trainRange, "--train_range")
        config.oodRange = try parseRange(oodRange, "--ood_range")
        if let heldoutFraction {
            guard let f = Double(heldoutFraction), f >= 0, f < 1 else {
                throw UsageError(message: "--heldout_fraction \"\(heldoutFraction)\" is not a fraction (expected 0 <= F < 1)")
            }
            config.heldoutFraction = f
        }
        if let templateHoldout {
            switch templateHoldout.lowercased() {
            case "true", "yes", "1", "on": config.templateHoldout = true
            case "false", "no", "0", "off": config.templateHoldout = false
            default: throw UsageError(message: "--template_holdout \"\(templateHoldout)\" is not true or false")
            }
        }
        config.grade = grade
        try config.validate()
        return config
    }

    /// The --concepts list, or nil for all concepts.
    private func conceptList() throws -> [Concept]? {
        guard let concepts else { return nil }
        let chosen = try concepts.split(separator: ",").map { name in
            let name = name.trimmingCharacters(in: .whitespaces)
            guard let c = Concept(rawValue: name) else {
                throw UsageError(message: "--concepts: unknown concept \"\(name)\" (expected some of \(Concept.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return c
        }
        if chosen.isEmpty { throw UsageError(message: "--concepts is empty (expected comma-separated concept names)") }
        return chosen
    }

    private func execute() throws {
        if phrasings {
            print(PhrasingList.text(concepts: try conceptList() ?? Concept.upTo(grade: grade)))
            return
        }
        guard export != nil || stats || bench || outOfScope else {
            throw UsageError(message: "nothing to do (expected --export FILE, --stats, --bench, --phrasings or --out_of_scope)")
        }
        let config = try lessonConfig()
        let generator = LessonGenerator(config: config)
        let count = try self.count.map { try parseInt($0, "--count", min: 1) } ?? (bench ? 200_000 : 1000)
        let sampleSeed = try self.sampleSeed.map { try parseSeed($0, "--sample_seed") } ?? config.seed
        if outOfScope {
            var r = SplitMix64(seed: sampleSeed).derived(0x4F4F_53)
            let questions = OutOfScope.generate(count: count, generator: generator, rng: &r)
            if let export {
                struct Line: Encodable { let question: String; let kind: String }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let text = try questions.map { String(decoding: try encoder.encode(Line(question: $0.text, kind: $0.kind.rawValue)), as: UTF8.self) + "\n" }.joined()
                do {
                    try Data(text.utf8).write(to: URL(fileURLWithPath: export), options: .atomic)
                } catch {
                    throw UsageError(message: "--export \(export): cannot write the file (\(error.localizedDescription))")
                }
                print("wrote \(questions.count) out-of-scope questions to \(export)")
            } else {
                for q in questions { print("\(q.kind.rawValue)\t\(q.text)") }
            }
            return
        }

        let chosen = try conceptList()

        let splits: [Split]
        if split == "all" {
            guard export == nil else { throw UsageError(message: "--split all works with --stats only (expected one of train, heldout, phrasing, ood with --export)") }
            splits = Split.allCases.filter { ($0 != .phrasing || config.templateHoldout) && ($0 != .carry || generator.canGenerate(.carry)) }
        } else if let s = Split(rawValue: split) {
            splits = [s]
        } else {
            throw UsageError(message: "--split \"\(split)\" is not a split (expected train, heldout, phrasing, ood, fixed or carry\(export == nil ? ", or all with --stats" : ""))")
        }
        for s in splits {
            if s == .phrasing && !config.templateHoldout {
                throw UsageError(message: "--split phrasing needs held-out phrasings (expected --template_holdout true)")
            }
            if s == .carry && !generator.canGenerate(s) {
                throw UsageError(message: "--split carry has Grade 2 questions only (expected --grade 2)")
            }
            if !generator.canGenerate(s) {
                throw UsageError(message: "--split heldout needs held-out numbers (expected --heldout_fraction > 0)")
            }
        }

        func rng(for s: Split) -> SplitMix64 {
            SplitMix64(seed: sampleSeed).derived(UInt64(Split.allCases.firstIndex(of: s)!) + 1)
        }

        if bench {
            let s = splits[0]
            var r = rng(for: s)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let questions = generator.generate(split: s, count: count, concepts: chosen, rng: &r)
            let t1 = DispatchTime.now().uptimeNanoseconds
            let tokenizer = Tokenizer.build(from: generator)
            let maxLength = generator.maxQuestionTokens
            var checksum: Int32 = 0
            for q in questions { checksum &+= tokenizer.encode(q.text, maxLength: maxLength).tokens[1] }
            let t2 = DispatchTime.now().uptimeNanoseconds
            let gen = Double(t1 - t0) / 1e9, tok = Double(t2 - t1) / 1e9
            print(String(format: "generated %d %@ questions in %.3f s: %.0f questions/s (one core)", count, s.rawValue, gen, Double(count) / gen))
            print(String(format: "tokenized them (maxLength %d) in %.3f s: %.0f questions/s; generate+tokenize %.0f questions/s (checksum %d)",
                         maxLength, tok, Double(count) / tok, Double(count) / (gen + tok), checksum))
        }

        if let export {
            let s = splits[0]
            var r = rng(for: s)
            let questions = generator.generate(split: s, count: count, concepts: chosen, rng: &r)
            try QuestionFile.write(questions, to: URL(fileURLWithPath: export))
            let g2 = config.grade >= 2 ? String(format: "; Grade 2 numbers %d-%d, %d held out, ood %d-%d", generator.grade2.trainRange.lowerBound, generator.grade2.trainRange.upperBound, generator.grade2.heldoutNumbers.count, generator.grade2.oodRange.lowerBound, generator.grade2.oodRange.upperBound) : ""
            print("wrote \(questions.count) \(s.rawValue) questions (seed \(config.seed), numbers \(generator.trainRange.lowerBound)-\(generator.trainRange.upperBound), \(generator.heldoutNumbers.count) held out, ood \(generator.oodRange.lowerBound)-\(generator.oodRange.upperBound)\(g2)) to \(export)")
            if stats {
                print(LessonStats(questions: questions).table)
                print(ShortcutAudit.summary(questions))
            }
        } else if stats {
            print("seed \(config.seed): train range \(generator.trainRange.lowerBound)-\(generator.trainRange.upperBound), \(generator.heldoutNumbers.count) numbers held out, ood range \(generator.oodRange.lowerBound)-\(generator.oodRange.upperBound), phrasing holdout \(config.templateHoldout ? "on" : "off")")
            for s in splits {
                var r = rng(for: s)
                let questions = generator.generate(split: s, count: count, concepts: chosen, rng: &r)
                print("\nsplit \(s.rawValue): \(questions.count) questions")
                print(LessonStats(questions: questions).table)
                print(ShortcutAudit.summary(questions))
            }
        }
    }
}
