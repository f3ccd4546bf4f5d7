import Compute
import Curriculum
import Foundation
import Model

/// Checkpoint layout: parameters as `model.<name>`, EMA as `ema.<name>`, Adam moments as
/// `adam.m.<name>` / `adam.v.<name>`; metadata holds the options, vocabulary and model config as
/// JSON, the step, both RNG states, VQ usage counts and the best held-out score.
extension Trainer {
    static let format = "concept-learner/1"

    public func checkpoint() throws -> SafeTensorsFile {
        var file = SafeTensorsFile()
        for p in model.params.all { file.tensors["model.\(p.name)"] = (p.shape, try backend.download(p.value)) }
        for (name, values) in try optimizer.state() {
            let param = ["adam.m.", "adam.v.", "ema."].first { name.hasPrefix($0) }.map { String(name.dropFirst($0.count)) }
            let shape = param.flatMap { model.params[$0]?.shape } ?? [values.count]
            file.tensors[name] = (shape, values)
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        func json<T: Encodable>(_ v: T) throws -> String { String(decoding: try enc.encode(v), as: UTF8.self) }
        file.metadata = [
            "format": Self.format,
            "options": try json(options),
            "vocabulary": try json(tokenizer.vocabulary),
            "model_config": try json(model.config),
            "step": String(step),
            "data_rng": String(dataRNG.state),
            "model_rng": String(modelRNG.state),
            "vq_usage": try json(try model.codeUsage()),
            "best_score": String(bestScore),
            "loss_scale": String(lossScale),
            "loss_scale_good_steps": String(goodSteps),
            "backend": backend.description,
        ]
        if options.course != nil { file.metadata["course_progress"] = try json(courseProgress) }
        return file
    }

    /// Rebuilds a run from a checkpoint; training continues exactly where it stopped.
    /// `override` may change what does not alter the run's maths (steps, save_dir, logging).
    public static func resume(from url: URL, backend: any Backend,
                              override: (inout TrainOptions) -> Void = { _ in }) throws -> Trainer {
        let file = try SafeTensorsFile.read(url)
        let stored = try Checkpoint.options(file, url: url)
        var options = stored
        override(&options)
        let trainer = try Trainer(options: options, backend: backend)
        guard trainer.tokenizer.vocabulary == (try Checkpoint.vocabulary(file, url: url)) else {
            throw CheckpointError("\(url.path) was trained with another vocabulary than this build's; it cannot be resumed")
        }
        try trainer.load(file, url: url)
        return trainer
    }

    func load(_ file: SafeTensorsFile, url: URL) throws {
        var values: [String: [Float]] = [:]
        var opt: [String: [Float]] = [:]
        for (k, v) in file.tensors {
            if k.hasPrefix("model.") { values[String(k.dropFirst(6))] = v.values } else { opt[k] = v.values }
        }
        do {
            try model.params.load(values)
            guard let stepText = file.metadata["step"], let s = Int(stepText),
                  let d = file.metadata["data_rng"].flatMap(UInt64.init),
                  let m = file.metadata["model_rng"].flatMap(UInt64.init),
                  let usageText = file.metadata["vq_usage"],
                  let u = try? JSONDecoder().decode([[Int]].self, from: Data(usageText.utf8)) else {
                throw CheckpointError("\(url.path) lacks its training state (step, RNG, VQ usage); it can be evaluated but not resumed")
            }
            try optimizer.load(state: opt, step: s)
            step = s
            dataRNG = SplitMix64(seed: d)
            modelRNG = ModelRNG(seed: m)
            try model.setCodeUsage(u)
            bestScore = file.metadata["best_score"].flatMap(Double.init) ?? -1
            lossScale = file.metadata["loss_scale"].flatMap(Float.init) ?? lossScale
            goodSteps = file.metadata["loss_scale_good_steps"].flatMap(Int.init) ?? 0
            if options.course != nil {
                guard let text = file.metadata["course_progress"],
                      let p = try? JSONDecoder().decode(CourseProgress.self, from: Data(text.utf8)) else {
                    throw CheckpointError("\(url.path) lacks its course progress; it cannot be resumed")
                }
                courseProgress = p
            }
        } catch let e as ComputeError {
            throw CheckpointError("\(url.path) does not match this model: \(e)")
        }
    }
}

/// Loading a checkpoint for eval and ask.
public enum Checkpoint {
    static func options(_ file: SafeTensorsFile, url: URL) throws -> TrainOptions {
        guard file.metadata["format"] == Trainer.format else {
            throw CheckpointError("\(url.path) is not a Concept Learner checkpoint (no \(Trainer.format) metadata)")
        }
        guard let text = file.metadata["options"],
              let o = try? decodeWithDefaults(TrainOptions.self, from: text, defaults: TrainOptions()) else {
            throw CheckpointError("\(url.path) has unreadable training options in its metadata")
        }
        return o
    }

    /// Decodes JSON written by this or an older build: keys an older build did not write take
    /// their current defaults, so adding an option never orphans existing checkpoints.
    static func decodeWithDefaults<T: Codable>(_ type: T.Type, from text: String, defaults: T) throws -> T {
        let base = try JSONSerialization.jsonObject(with: JSONEncoder().encode(defaults)) as? [String: Any] ?? [:]
        guard let given = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw CheckpointError("metadata is not a JSON object")
        }
        let merged = base.merging(given) { $1 }
        return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: merged))
    }

    static func vocabulary(_ file: SafeTensorsFile, url: URL) throws -> Vocabulary {
        guard let text = file.metadata["vocabulary"],
              let v = try? JSONDecoder().decode(Vocabulary.self, from: Data(text.utf8)) else {
            throw CheckpointError("\(url.path) has no readable vocabulary in its metadata")
        }
        return v
    }

    /// The model of a checkpoint with its EMA weights (or its live weights with `ema: false`).
    public static func loadModel(_ url: URL, backend: any Backend, ema: Bool = true)
        throws -> (model: ConceptModel, batcher: Batcher, options: TrainOptions, step: Int) {
        let file = try SafeTensorsFile.read(url)
        let options = try Self.options(file, url: url)
        let vocab = try vocabulary(file, url: url)
        guard let cfgText = file.metadata["model_config"],
              let cfg = try? decodeWithDefaults(ModelConfig.self, from: cfgText,
                                                defaults: ModelConfig(vocabSize: 0, digitTokenIds: [])) else {
            throw CheckpointError("\(url.path) has no readable model config in its metadata")
        }
        let model = try ConceptModel(config: cfg, backend: backend, seed: 0)
        var values: [String: [Float]] = [:]
        let prefix = ema && file.tensors.keys.contains { $0.hasPrefix("ema.") } ? "ema." : "model."
        for (k, v) in file.tensors where k.hasPrefix(prefix) { values[String(k.dropFirst(prefix.count))] = v.values }
        do { try model.params.load(values) } catch {
            throw CheckpointError("\(url.path) does not match its own model config: \(error)")
        }
        let step = Int(file.metadata["step"] ?? "") ?? 0
        return (model, Batcher(tokenizer: Tokenizer(vocabulary: vocab), maxLen: cfg.maxLen), options, step)
    }
}

/// A one-line progress bar with ETA, redrawn in place on a terminal.
public final class ProgressReporter {
    public let isInteractive: Bool
    var total = 0, startStep = 0
    var started = Date()
    var lastDraw = Date.distantPast

    public init(interactive: Bool = isatty(STDERR_FILENO) == 1) { isInteractive = interactive }

    func start(total: Int, at step: Int) { self.total = total; startStep = step; started = Date() }

    func update(step: Int, loss: Double, accuracy: Double) {
        guard isInteractive, Date().timeIntervalSince(lastDraw) > 0.2 || step == total else { return }
        lastDraw = Date()
        let done = Double(step) / Double(max(1, total))
        let rate = Double(step - startStep) / max(1e-9, Date().timeIntervalSince(started))
        let eta = rate > 0 ? Double(total - step) / rate : 0
        let width = 30, filled = Int(done * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        // Loss and accuracy arrive on log steps only; until the first one there is nothing to show.
        let figures = loss.isNaN ? "loss -" : String(format: "loss %.4f acc %.3f", loss, accuracy)
        let line = String(format: "\r[%@] %d/%d %@ %.1f it/s ETA %@ ", bar, step, total, figures, rate, Self.clock(eta))
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() { if isInteractive { FileHandle.standardError.write(Data("\n".utf8)) } }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}
