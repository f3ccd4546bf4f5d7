import ArgumentParser
import Compute
import Curriculum
import Foundation
import Model
import Training

/// Flags shared by every command that runs the model.
struct DeviceOptions: ParsableArguments {
    @Option(help: "Compute device: auto, cpu, opencl, or opencl:P.D (platform P, device D).")
    var device = "auto"

    @Option(help: "CPU threads for the CPU backend (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("max-device-memory"),
            help: "Memory budget for an OpenCL device, e.g. 512M or 2G (default: 90% of its global memory).")
    var maxDeviceMemory: String?

    func backend(profiling: Bool = false) throws -> any Backend {
        if let threads, threads < 1 { throw ValidationError("--threads \(threads) must be at least 1") }
        var options = OpenCLBackend.Options(profiling: profiling)
        if let maxDeviceMemory {
            guard let bytes = parseByteSize(maxDeviceMemory) else {
                throw ValidationError("--max-device-memory '\(maxDeviceMemory)' is not a size; expected bytes or a number with K, M or G, e.g. 512M")
            }
            options.memoryLimit = bytes
        }
        let (backend, notice) = try selectBackend(device, threads: threads, options: options)
        if maxDeviceMemory != nil && backend.kind == .cpu {
            FileHandle.standardError.write(Data("note: --max-device-memory applies to OpenCL devices; the CPU backend ignores it\n".utf8))
        }
        if let notice { FileHandle.standardError.write(Data((notice + "\n").utf8)) }
        return backend
    }
}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a concept model on generated Grade 1 (or, with --grade 2 or a Grade 2 course, Grade 1 and 2) lessons.",
        discussion: "Flags given after --preset override it. The original Concept Learner's flags keep their names.")

    @Option(help: "Start from a preset: quick (Grade 1, minutes on a laptop CPU), grade2-quick (Grade 1 and Grade 2 in one model) or original (the original project's sizes).")
    var preset: String?
    @Option(name: .customLong("steps")) var steps: Int?
    @Option(name: .customLong("batch_size")) var batchSize: Int?
    @Option(name: .customLong("micro_batch"), help: "Questions per forward pass; gradients accumulate to --batch_size.") var microBatch: Int?
    @Option(name: .customLong("d_model")) var dModel: Int?
    @Option(name: .customLong("layers")) var layers: Int?
    @Option(name: .customLong("heads")) var heads: Int?
    @Option(name: .customLong("codes"), help: "Codes per VQ codebook.") var codes: Int?
    @Option(name: .customLong("save_dir")) var saveDir: String?
    @Option(name: .customLong("ckpt_every")) var ckptEvery: Int?
    @Option(name: .customLong("log_every")) var logEvery: Int?
    @Option(name: .customLong("lr")) var lr: Float?
    @Option(name: .customLong("sched"), help: "cosine or constant.") var sched: String?
    @Option(name: .customLong("warmup_ratio")) var warmupRatio: Float?
    @Option(name: .customLong("min_lr")) var minLR: Float?
    @Option(name: .customLong("ema_decay")) var emaDecay: Float?
    @Option(name: .customLong("weight_decay")) var weightDecay: Float?
    @Option(name: .customLong("label_smoothing")) var labelSmoothing: Float?
    @Option(name: .customLong("lambda_vq")) var lambdaVQ: Float?
    @Option(name: .customLong("lambda_stop")) var lambdaStop: Float?
    @Option(name: .customLong("lambda_entropy"), help: "Entropy bonus on op choices, annealed to a fifth at half the steps.") var lambdaEntropy: Float?
    @Option(name: .customLong("lambda_program"), help: "Weight of the worked-solution loss: the pointers, op and relation are taught each lesson's program (0 = answers only).") var lambdaProgram: Float?
    @Option(name: .customLong("clip"), help: "Global gradient-norm clip (0 = off).") var clip: Float?
    @Option(name: .customLong("seed")) var seed: UInt64?
    @Option(name: .customLong("max_number")) var maxNumber: Int?
    @Option(name: .customLong("train_range"), help: "Numbers to train on, A-B.") var trainRange: String?
    @Option(name: .customLong("ood_range"), help: "Out-of-range numbers for the ood split, A-B.") var oodRange: String?
    @Option(name: .customLong("template_holdout"), help: "Hold out phrasings: true or false.") var templateHoldout: Bool?
    @Option(name: .customLong("grade"), help: "The highest grade taught: 1, or 2 for Grade 1 and Grade 2 in one model.") var grade: Int?
    @Option(name: .customLong("resume"), help: "Checkpoint to continue from (bit-identical on the CPU backend).") var resume: String?
    @Option(name: .customLong("course"), help: "Walk a course: levels passed on mastery with replay (a file, or a name in Courses/, e.g. grade1; see learner course show).")
    var course: String?
    @Option(name: .customLong("focus"), help: "With --course: share of each batch (0-0.5) practising the weakest diagnostic cells after each level (overrides the course file's focus).")
    var focus: Double?
    @Flag(name: .customLong("overwrite"), help: "Start a new run in a --save_dir that already holds one (its checkpoints and metrics are deleted first).")
    var overwrite = false
    @Flag(name: .customLong("base10"), help: "Accepted for compatibility: numbers are always base 10.") var base10 = false
    @Flag(name: .customLong("amp"), help: "Mixed precision: fp16 activations, weights and gradients, fp32 math and master weights, dynamic loss scale.") var amp = false
    @OptionGroup var deviceOptions: DeviceOptions

    func apply(to o: inout TrainOptions) throws {
        if let steps { o.steps = steps }
        if let batchSize { o.batchSize = batchSize }
        if let microBatch { o.microBatch = microBatch }
        if let dModel { o.dModel = dModel }
        if let layers { o.layers = layers }
        if let heads { o.heads = heads }
        if let codes { o.codes = codes }
        if let saveDir { o.saveDir = saveDir }
        if let ckptEvery { o.ckptEvery = ckptEvery }
        if let logEvery { o.logEvery = logEvery }
        if let lr { o.lr = lr }
        if let sched {
            guard let k = LRScheduleKindParser.parse(sched) else {
                throw ValidationError("--sched '\(sched)' is not a schedule; expected cosine or constant")
            }
            o.sched = k
        }
        if let warmupRatio { o.warmupRatio = warmupRatio }
        if let minLR { o.minLR = minLR }
        if let emaDecay { o.emaDecay = emaDecay }
        if let weightDecay { o.weightDecay = weightDecay }
        if let labelSmoothing { o.labelSmoothing = labelSmoothing }
        if let lambdaVQ { o.lambdaVQ = lambdaVQ }
        if let lambdaStop { o.lambdaStop = lambdaStop }
        if let clip { o.clipNorm = clip }
        if let lambdaEntropy { o.lambdaEntropy = lambdaEntropy }
        if let lambdaProgram { o.lambdaProgram = lambdaProgram }
        if amp { o.amp = true }
        if let seed { o.seed = seed }
        if let maxNumber { o.maxNumber = maxNumber }
        if let trainRange { o.trainRange = try parseRange(trainRange, flag: "--train_range") }
        if let oodRange { o.oodRange = try parseRange(oodRange, flag: "--ood_range") }
        if let templateHoldout { o.templateHoldout = templateHoldout }
        if let grade { o.grade = grade }
    }

    func run() throws {
        // Line-buffered so `train > log` shows progress as it happens.
        setvbuf(stdout, nil, _IOLBF, 0)
        let backend = try deviceOptions.backend()
        let trainer: Trainer
        if let resume {
            let url = URL(fileURLWithPath: resume)
            trainer = try Trainer.resume(from: url, backend: backend) { o in
                // Only what leaves the maths alone may change on resume.
                if let steps { o.steps = steps }
                if let saveDir { o.saveDir = saveDir }
                if let ckptEvery { o.ckptEvery = ckptEvery }
                if let logEvery { o.logEvery = logEvery }
            }
            print("resuming \(resume) at step \(trainer.step) of \(trainer.options.steps)")
        } else {
            var o = try preset.map { try TrainOptions.preset($0) } ?? TrainOptions()
            try apply(to: &o)
            if let course {
                do { o.course = try Course.load(course) } catch let e as CourseError { throw ValidationError(e.description) }
                // A course with Grade 2 concepts teaches Grade 2 (its words, its numbers).
                o.grade = max(o.grade, o.course?.concepts.map(\.grade).max() ?? 1)
            }
            if let focus {
                guard o.course != nil else { throw ValidationError("--focus needs --course (the focus loop runs after each level's diagnosis)") }
                guard focus >= 0 && focus <= 0.5 else { throw ValidationError("--focus \(focus) must be in [0, 0.5]") }
                o.course?.focus = focus
            }
            trainer = try Trainer(options: o, backend: backend)
        }
        let o = trainer.options
        // One run per folder; a new run does not write over an earlier one unless told to.
        let lock = try RunLock(folder: URL(fileURLWithPath: o.saveDir))
        defer { lock.release() }
        if let note = lock.note { print(note) }
        if resume == nil { try RunFolder.prepareNewRun(URL(fileURLWithPath: o.saveDir), overwrite: overwrite) }
        trainer.progress = ProgressReporter()
        print("training on \(backend.description): \(trainer.model.params.totalCount) parameters, d_model \(o.dModel), "
              + "batch \(o.batchSize), \(o.steps) steps, run folder \(o.saveDir)")
        try trainer.train()
        if o.course != nil {
            for (i, r) in trainer.courseProgress.records.enumerated() {
                print(String(format: "level %d %@: %@ at step %d (%d steps)", i + 1, r.level as NSString,
                             (r.mastered ? "mastered" : "NOT mastered") as NSString, r.end, r.end - r.start))
            }
        }
        print(String(format: "done: best validation accuracy (EMA) %.4f; checkpoints in %@", trainer.bestScore, o.saveDir as NSString))
    }
}

enum LRScheduleKindParser {
    static func parse(_ s: String) -> LRSchedule.Kind? { LRSchedule.Kind(rawValue: s) }
}

func parseRange(_ text: String, flag: String) throws -> ClosedRange<Int> {
    guard let range = LessonConfig.parseRange(text) else {
        throw ValidationError("\(flag) '\(text)' is not a range; expected A-B with 0 <= A <= B, e.g. 0-99")
    }
    return range
}

/// Bytes from "123", "64K", "512M", "1.5G" (binary units).
func parseByteSize(_ text: String) -> Int? {
    let t = text.trimmingCharacters(in: .whitespaces).uppercased()
    let k = 1024.0, m = k * k, g = m * k
    let units: [(String, Double)] = [("KIB", k), ("MIB", m), ("GIB", g), ("KB", k), ("MB", m), ("GB", g),
                                     ("K", k), ("M", m), ("G", g), ("B", 1)]
    var number = t, scale = 1.0
    for (suffix, value) in units where t.hasSuffix(suffix) {
        number = String(t.dropLast(suffix.count)); scale = value; break
    }
    guard let v = Double(number), v > 0, v.isFinite else { return nil }
    let bytes = v * scale
    return bytes < Double(Int.max) ? Int(bytes) : nil
}

