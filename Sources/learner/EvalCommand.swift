import ArgumentParser
import Curriculum
import Foundation
import Model
import Training

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a checkpoint per concept and per split (EMA weights).")

    @Option(help: "Checkpoint file (a .safetensors written by learner train).")
    var checkpoint: String
    @Option(name: .customLong("eval_batches"), help: "Eval size: 8 x N questions per concept and split (fixed eval seed).")
    var evalBatches: Int = 25
    @Option(help: "Score this JSONL questions file instead of the generated splits.")
    var questions: String?
    @Flag(help: "Print one JSON object instead of the text report.")
    var json = false
    @Option(help: "Also write every scored question with the program the model ran to this JSONL file.")
    var predictions: String?
    @Flag(name: .customLong("live_weights"), help: "Use the live weights instead of the EMA weights.")
    var liveWeights = false
    @Flag(name: .customLong("diagnose"), help: "Also run the diagnostic suite: accuracy per concept and category (number and phrasing categories), weakest first.")
    var diagnose = false
    @Flag(name: .customLong("trust_answers"), help: "With --questions: score every line with the file's answer, even where its concept and operands say the answer is different.")
    var trustAnswers = false
    @OptionGroup var deviceOptions: DeviceOptions

    func run() throws {
        guard evalBatches >= 1 else { throw ValidationError("--eval_batches \(evalBatches) must be at least 1") }
        if let predictions {
            // Fail before the eval runs, not after it.
            let folder = URL(fileURLWithPath: predictions).deletingLastPathComponent().path
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue,
                  FileManager.default.isWritableFile(atPath: folder) else {
                throw ValidationError("--predictions \(predictions): folder \(folder) does not exist or is not writable")
            }
        }
        let backend = try deviceOptions.backend()
        let (model, batcher, options, step) = try Checkpoint.loadModel(URL(fileURLWithPath: checkpoint), backend: backend,
                                                                        ema: !liveWeights)
        let generator = LessonGenerator(config: options.lessonConfig)
        var evaluator = Evaluator(model: model, batcher: batcher)
        evaluator.policy = AbstentionPolicy(places: model.config.places, grade: model.config.grade)
        var lines: [String] = []
        let keep: ((ScoredQuestion) throws -> Void)? = predictions == nil ? nil : { lines.append(try $0.jsonLine()) }
        var report: EvalReport
        if let questions {
            // The generator's oracle checks each line's answer against its concept and operands: a
            // mislabeled line is reported and left out, not scored as the model's mistake.
            let numbered = try QuestionFile.readNumbered(URL(fileURLWithPath: questions))
            var qs = numbered.map(\.question)
            if !trustAnswers {
                let checked = QuestionFile.checkAnswers(numbered, file: questions)
                qs = checked.kept
                for line in checked.disagreements { FileHandle.standardError.write(Data((line + "\n").utf8)) }
                if !checked.disagreements.isEmpty {
                    FileHandle.standardError.write(Data("note: \(checked.disagreements.count) line(s) left out for a wrong answer; scoring \(qs.count)\n".utf8))
                }
            }
            let unknown = batcher.tokenizer.unknownWords(in: qs)
            if !unknown.isEmpty {
                let list = unknown.sorted { $0.value > $1.value }.prefix(10).map { "\($0.key) (\($0.value))" }
                FileHandle.standardError.write(Data("note: \(unknown.count) unknown words read as [UNK]: \(list.joined(separator: ", "))\n".utf8))
            }
            let results = try evaluator.score(qs)
            if let keep { try results.forEach(keep) }
            report = EvalReport(splits: ["questions": SplitReport(results)])
        } else {
            report = try evaluator.report(generator: generator, perConcept: 8 * evalBatches, seed: options.seed, scored: keep)
        }
        if diagnose {
            var plain = evaluator
            plain.policy = nil
            let qs = Diagnostics.questions(generator: generator, concepts: generator.concepts, perConcept: 8 * evalBatches, seed: options.seed)
            report.diagnostics = Diagnostics.cells(try plain.score(qs))
        }
        if let predictions {
            let text = lines.map { $0 + "\n" }.joined()
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: predictions), options: .atomic)
            } catch {
                throw ValidationError("--predictions \(predictions): cannot write the file (\(error.localizedDescription))")
            }
        }
        if json {
            print(try report.json())
        } else {
            print("checkpoint \(checkpoint) (step \(step)) on \(backend.description)\n")
            print(report.text(), terminator: "")
        }
    }
}

struct AskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Answer one question with a checkpoint.")

    @Option(help: "Checkpoint file.")
    var checkpoint: String
    @Argument(help: "The question, e.g. \"Is 7 greater than 6?\"")
    var question: String
    @Flag(help: "Print the reasoning ops chosen step by step and the VQ codes used.")
    var explain = false
    @OptionGroup var deviceOptions: DeviceOptions

    func run() throws {
        let backend = try deviceOptions.backend()
        let (model, batcher, _, _) = try Checkpoint.loadModel(URL(fileURLWithPath: checkpoint), backend: backend)
        let encoded = batcher.tokenizer.encode(question, maxLength: batcher.maxLen)
        if !encoded.unknownWords.isEmpty {
            FileHandle.standardError.write(Data("note: unknown words read as [UNK]: \(encoded.unknownWords.joined(separator: ", "))\n".utf8))
        }
        let policy = AbstentionPolicy(places: model.config.places, grade: model.config.grade)
        let (prediction, abstention) = try Evaluator(model: model, batcher: batcher, policy: policy).answer(question)
        if let abstention { print(abstention.line) }
        guard let p = prediction else { return }
        if abstention != nil {
            // The answer the model would have given, for --explain only.
            if !explain { return }
            print("(the program it would have run:)")
        } else if p.isNumber {
            print(p.number)
        } else {
            print(String(format: "%@ (p(yes) = %.3f)", (p.yes ? "yes" : "no") as NSString, p.pYes))
        }
        if explain {
            let t = p.trace
            let a = t.operandA.map(String.init) ?? "none"
            let b = t.operandB.map(String.init) ?? "none"
            if t.unary.isBinary {
                let c = t.operandC.map(String.init) ?? "none"
                print("step 1: A = number \(t.slotA + 1) in the question (\(a)), C = number \(t.slotC + 1) (\(c)); \(t.unary.name)(A, C)")
                if let x = t.operandA, let y = t.operandC {
                    for line in Digits.workedColumns(x, y, op: t.unary) { print("  " + line) }
                }
            } else {
                print("step 1: A = number \(t.slotA + 1) in the question (\(a)); \(t.unary.name)(A)")
            }
            if p.isNumber {
                print(String(format: "STOP (p = %.3f): answer the number", t.pStop))
            } else {
                let step = t.unary.isBinary ? "\(t.unary.name)(A, C)" : "\(t.unary.name)(A)"
                print(String(format: "step 2: B = number %d (%@); %@(%@, B)  [STOP p = %.3f]", t.slotB + 1, b as NSString,
                             t.relation.name as NSString, step as NSString, t.pStop))
            }
            print("VQ codes (heads, then residual stages): \(t.codes.map(String.init).joined(separator: " "))")
            print(String(format: "program confidence %.3f", p.programConfidence))
        }
    }
}
