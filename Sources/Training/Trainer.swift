import Compute
import Curriculum
import Foundation
import Model

public enum TrainingError: Error, CustomStringConvertible {
    case outOfMemory(String)
    /// Training stopped because the loss or gradients stayed non-finite (one line: the step, the
    /// value and the last good checkpoint).
    case diverged(String)
    public var description: String {
        switch self { case let .outOfMemory(s), let .diverged(s): return s }
    }
}

/// One line of the metrics log (JSONL in the run folder).
public struct MetricsLine: Codable, Sendable {
    public var step: Int
    public var loss: Double
    public var answerLoss: Double
    public var vqLoss: Double
    public var stopLoss: Double
    public var accuracy: Double
    public var lr: Float
    public var gradNorm: Float
    /// Fraction of codes used in the last window, per VQ codebook (heads then stages).
    public var vqUtilisation: [Double]
    public var vqPerplexity: [Double]
    public var examplesPerSecond: Double
    public var microBatch: Int
}

extension MetricsLine {
    enum CodingKeys: String, CodingKey {
        case step, loss, answerLoss, vqLoss, stopLoss, accuracy, lr, gradNorm, vqUtilisation, vqPerplexity
        case examplesPerSecond, microBatch
    }

    /// A diverging run logs NaN and infinite values; JSON has no such numbers, so they are
    /// written as null (and read back as NaN) instead of stopping the writer.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func put<F: BinaryFloatingPoint & Encodable>(_ v: F, _ key: CodingKeys) throws {
            if v.isFinite { try c.encode(v, forKey: key) } else { try c.encodeNil(forKey: key) }
        }
        try c.encode(step, forKey: .step)
        try put(loss, .loss); try put(answerLoss, .answerLoss); try put(vqLoss, .vqLoss); try put(stopLoss, .stopLoss)
        try put(accuracy, .accuracy); try put(lr, .lr); try put(gradNorm, .gradNorm)
        try c.encode(vqUtilisation.map { $0.isFinite ? $0 : nil }, forKey: .vqUtilisation)
        try c.encode(vqPerplexity.map { $0.isFinite ? $0 : nil }, forKey: .vqPerplexity)
        try put(examplesPerSecond, .examplesPerSecond)
        try c.encode(microBatch, forKey: .microBatch)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func get<F: BinaryFloatingPoint & Decodable>(_ key: CodingKeys) throws -> F { try c.decodeIfPresent(F.self, forKey: key) ?? .nan }
        step = try c.decode(Int.self, forKey: .step)
        loss = try get(.loss); answerLoss = try get(.answerLoss); vqLoss = try get(.vqLoss); stopLoss = try get(.stopLoss)
        accuracy = try get(.accuracy); lr = try get(.lr); gradNorm = try get(.gradNorm)
        vqUtilisation = try c.decode([Double?].self, forKey: .vqUtilisation).map { $0 ?? .nan }
        vqPerplexity = try c.decode([Double?].self, forKey: .vqPerplexity).map { $0 ?? .nan }
        examplesPerSecond = try get(.examplesPerSecond)
        microBatch = try c.decode(Int.self, forKey: .microBatch)
    }
}

/// A training run: model, optimizer, data stream and everything needed to resume it exactly.
public final class Trainer {
    public let options: TrainOptions
    public let backend: any Backend
    public let generator: LessonGenerator
    public let tokenizer: Tokenizer
    public let batcher: Batcher
    public let model: ConceptModel
    public let optimizer: AdamW
    public let schedule: LRSchedule
    public internal(set) var step = 0
    public internal(set) var bestScore = -1.0
    var dataRNG: SplitMix64
    var modelRNG: ModelRNG
    /// VQ health of the last finished restart window, for the log.
    var lastHealth: (utilisation: [Double], perplexity: [Double])?
    /// Dynamic loss scale under `--amp` (1 otherwise): gradients are computed for lossScale × the
    /// loss; a step whose scaled gradients overflow is skipped and the scale halves; after
    /// `lossScaleWindow` good steps it doubles.
    public internal(set) var lossScale: Float = 1
    var goodSteps = 0
    public internal(set) var skippedSteps = 0
    /// Steps skipped in a row for non-finite gradients; `divergenceSkips` of them with the loss
    /// scale at 1 (no amp scaling left to lower) stop training.
    var consecutiveSkips = 0
    static let divergenceSkips = 20
    /// The last checkpoint written with finite weights, for the divergence message.
    public internal(set) var lastGoodCheckpoint: (path: String, step: Int)?
    /// Where the run stands in `options.course` (unused without a course).
    public internal(set) var courseProgress = CourseProgress()
    /// Replaces the mastery check's scoring (tests pin scores to exercise the gating).
    var masteryScorer: (([Concept]) throws -> [String: Double])?
    /// Gradients are fp16 under `--amp` (largest finite 65504): starting at 1024 leaves room for
    /// gradient elements up to 64 while lifting ones down to ~6e-11 above fp16's smallest
    /// subnormal; 65536 (PyTorch's start) overflowed the first steps of every run here.
    static let initialLossScale: Float = 1024
    static let lossScaleWindow = 200
    /// Current micro-batch (shrinks on out-of-memory).
    public internal(set) var microBatch: Int
    public var runDir: URL { URL(fileURLWithPath: options.saveDir) }
    /// Where log lines go (the CLI prints them; tests keep them quiet).
    public var log: (String) -> Void = { print($0) }
    public var progress: ProgressReporter?

    public init(options: TrainOptions, backend: any Backend) throws {
        try options.validate()
        self.options = options
        self.backend = backend
        generator = LessonGenerator(config: options.lessonConfig)
        tokenizer = Tokenizer.build(from: generator)
        let needed = generator.maxQuestionTokens
        guard needed <= options.maxLen else {
            throw CheckpointError("questions need up to \(needed) tokens but --max_len is \(options.maxLen); raise --max_len")
        }
        batcher = Batcher(tokenizer: tokenizer, maxLen: options.maxLen)
        model = try ConceptModel(config: options.modelConfig(vocabulary: tokenizer.vocabulary), backend: backend,
                                 seed: options.seed)
        optimizer = try AdamW(params: model.params, weightDecay: options.weightDecay, clipNorm: options.clipNorm,
                              emaDecay: options.emaDecay)
        schedule = LRSchedule(kind: options.sched, baseLR: options.lr, minLR: options.minLR,
                              warmupSteps: Int(Float(options.steps) * options.warmupRatio), totalSteps: options.steps)
        dataRNG = SplitMix64(seed: options.seed).derived(0x5452_4149)  // "TRAI"
        modelRNG = ModelRNG(seed: options.seed ^ 0x5651_5F52_4553_5452)
        microBatch = options.microBatch > 0 ? min(options.microBatch, options.batchSize) : options.batchSize
        try model.setMixedPrecision(options.amp)
        lossScale = options.amp ? Self.initialLossScale : 1
    }

    // MARK: one step

    /// The padded length T of the last training batch (its longest question), for benchmarks.
    public private(set) var lastBatchSeq = 0

    /// One optimizer step over `batchSize` fresh questions, in micro-batches of `microBatch`.
    /// On out-of-memory the micro-batch halves and the same questions are run again, so the
    /// effective batch, the step count and the result stay the same. With `readback` false
    /// nothing but the gradient norm (for clipping) comes back from the device.
    @discardableResult
    public func trainStep(readback: Bool = true) throws -> (stats: StepStats, gradNorm: Float, lr: Float) {
        let questions = options.course.map { courseQuestions($0, count: options.batchSize) }
            ?? generator.generate(split: .train, count: options.batchSize, rng: &dataRNG)
        let batch = try batcher.batch(questions)
        lastBatchSeq = batch.seq
        var total: StepStats?
        while total == nil {
            do {
                total = try accumulateGradients(batch, readback: readback)
            } catch let error as ComputeError where error.isOutOfMemory {
                model.releaseActivations()
                try model.discardPendingCodeUsage()
                guard microBatch > 1 else {
                    // Nothing of this step was applied: the checkpoint is the state before it.
                    let url = runDir.appendingPathComponent("latest.safetensors")
                    try? checkpoint().write(to: url)
                    throw TrainingError.outOfMemory(
                        "out of memory at micro-batch 1 on \(backend.description) (\(error)); saved \(url.path) at step \(step). "
                            + "Use a smaller --d_model or a device with more memory")
                }
                let old = microBatch
                microBatch = max(1, microBatch / 2)
                let chunks = (options.batchSize + microBatch - 1) / microBatch
                log("out of memory at micro-batch \(old) on \(backend.description): continuing with \(chunks) × \(microBatch)")
            }
        }
        try model.commitCodeUsage()
        step += 1
        let lr = schedule.lr(step: step)
        var norm = Float.nan
        if let n = try optimizer.update(lr: lr, lossScale: lossScale) {
            norm = n
            consecutiveSkips = 0
            goodSteps += 1
            if options.amp && goodSteps >= Self.lossScaleWindow {
                lossScale = min(lossScale * 2, 16_777_216)
                goodSteps = 0
            }
        } else {
            // The step's questions are consumed and the step counts, but no weight moves.
            skippedSteps += 1
            consecutiveSkips += 1
            goodSteps = 0
            let wasAtFloor = lossScale <= 1
            lossScale = max(lossScale / 2, 1)
            log("gradient overflow at step \(step): step skipped, loss scale now \(lossScale)")
            if wasAtFloor && consecutiveSkips >= Self.divergenceSkips {
                throw TrainingError.diverged(divergenceMessage("the gradient norm was non-finite for \(consecutiveSkips) steps in a row with the loss scale at 1"))
            }
        }
        if options.restartEvery > 0 && step % options.restartEvery == 0 {
            let usage = try model.codeUsage()
            lastHealth = Self.health(usage)
            // Dead codes restart from the first 16 questions' encodings: a fixed sample, so the
            // result does not depend on the micro-batch (unless memory forces it below 16).
            _ = try model.restartDeadCodes(usage: usage, batch: batch.slice(0, min(batch.size, 16, microBatch)),
                                           rng: &modelRNG)
            try model.setCodeUsage(usage.map { Array(repeating: 0, count: $0.count) })
        }
        if let course = options.course { try advanceCourse(course) }
        return (total!, norm, lr)
    }

    /// Gradients of the whole batch, summed over micro-batches.
    func accumulateGradients(_ batch: ModelBatch, readback: Bool) throws -> StepStats {
        try model.params.zeroGrads()
        var total = StepStats()
        var lo = 0
        while lo < batch.size {
            let hi = min(batch.size, lo + microBatch)
            let part = batch.slice(lo, hi)
            let weight = Float(hi - lo) / Float(batch.size)
            let (stats, _) = try model.forward(part, loss: options.lossSettings(step: step + 1), lossScale: weight * lossScale,
                                               readback: readback)
            try model.backward()
            let w = Double(weight)
            total.loss += stats.loss * w
            total.answerLoss += stats.answerLoss * w
            total.vqLoss += stats.vqLoss * w
            total.stopLoss += stats.stopLoss * w
            total.programLoss += stats.programLoss * w
            total.correct += stats.correct
            total.count += stats.count
            lo = hi
        }
        return total
    }

    static func health(_ usage: [[Int]]) -> (utilisation: [Double], perplexity: [Double]) {
        var util: [Double] = [], ppl: [Double] = []
        for counts in usage {
            let n = Double(counts.reduce(0, +))
            util.append(Double(counts.filter { $0 > 0 }.count) / Double(max(1, counts.count)))
            var h = 0.0
            if n > 0 { for c in counts where c > 0 { let p = Double(c) / n; h -= p * Foundation.log(p) } }
            ppl.append(exp(h))
        }
        return (util, ppl)
    }

    // MARK: the loop

    /// Trains to `options.steps`, logging, checkpointing and keeping `best` by held-out accuracy.
    public func train() throws {
        try FileManager.default.createDirectory(at: runDir, withIntermediateDirectories: true)
        let metricsURL = runDir.appendingPathComponent("metrics.jsonl")
        if !FileManager.default.fileExists(atPath: metricsURL.path) {
            _ = FileManager.default.createFile(atPath: metricsURL.path, contents: nil)
        }
        let metrics = try FileHandle(forWritingTo: metricsURL)
        defer { try? metrics.close() }
        try metrics.seekToEnd()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var windowStart = Date()
        var windowExamples = 0
        var shown = (loss: Double.nan, accuracy: Double.nan)
        progress?.start(total: options.steps, at: step)
        while step < options.steps {
            // Loss and accuracy come back from the device on log steps only (the batch of that step).
            let logStep = options.logEvery > 0 && ((step + 1) % options.logEvery == 0 || step + 1 == options.steps)
            let first = windowExamples == 0 && shown.loss.isNaN
            let (stats, norm, lr) = try trainStep(readback: logStep)
            if first {
                log(String(format: "activation memory: %.2f MiB kept for backward (%@), %.2f MiB in all",
                           Double(model.keptActivationBytes) / 1_048_576, (options.amp ? "fp16 storage" : "fp32") as NSString,
                           Double(model.activationBytes) / 1_048_576))
            }
            windowExamples += stats.count
            if logStep { shown = (stats.loss, Double(stats.correct) / Double(max(1, stats.count))) }
            progress?.update(step: step, loss: shown.loss, accuracy: shown.accuracy)
            if logStep {
                let elapsed = Date().timeIntervalSince(windowStart)
                // Usage restarts every `restartEvery` steps; right after a reset, show the full window.
                let usage = try model.codeUsage()
                let health = usage.allSatisfy({ $0.allSatisfy { $0 == 0 } }) ? (lastHealth ?? Self.health(usage)) : Self.health(usage)
                let line = MetricsLine(step: step, loss: stats.loss, answerLoss: stats.answerLoss, vqLoss: stats.vqLoss,
                                       stopLoss: stats.stopLoss, accuracy: shown.accuracy,
                                       lr: lr, gradNorm: norm, vqUtilisation: health.utilisation,
                                       vqPerplexity: health.perplexity,
                                       examplesPerSecond: Double(windowExamples) / max(1e-9, elapsed), microBatch: microBatch)
                var data = try encoder.encode(line)
                data.append(0x0A)
                try metrics.write(contentsOf: data)
                if progress?.isInteractive != true {
                    log(String(format: "step %d/%d loss %.4f (answer %.4f vq %.4f stop %.4f) acc %.3f lr %.2e |g| %.2f vq-util %@ ex/s %.0f",
                               step, options.steps, line.loss, line.answerLoss, line.vqLoss, line.stopLoss, line.accuracy,
                               lr, norm, health.utilisation.map { String(format: "%.2f", $0) }.joined(separator: ",") as NSString,
                               line.examplesPerSecond))
                }
                windowStart = Date()
                windowExamples = 0
            }
            if options.ckptEvery > 0 && step % options.ckptEvery == 0 && step < options.steps {
                try saveCheckpoints(periodic: true)
            }
        }
        progress?.finish()
        try saveCheckpoints(periodic: false)
    }

    /// Writes `latest`, the numbered checkpoint when periodic, and `best` when the EMA weights'
    /// accuracy on held-out numbers (train phrasings) is at least the best so far: later weights
    /// win ties. Held-out phrasings are a test split only; choosing `best` on them would report
    /// a figure that was selected for.
    public func saveCheckpoints(periodic: Bool) throws {
        // Weights that are not finite are never written over `latest` or `best`.
        if let bad = try firstNonFiniteParameter() {
            throw TrainingError.diverged(divergenceMessage("parameter \(bad.name) holds \(bad.value)"))
        }
        let score = try evaluate(perConcept: options.evalPerConcept, splits: [.heldout], validation: true).heldoutScore
        let improved = score >= bestScore
        if improved { bestScore = score }
        let file = try checkpoint()
        try file.write(to: runDir.appendingPathComponent("latest.safetensors"))
        if periodic { try file.write(to: runDir.appendingPathComponent(String(format: "step-%06d.safetensors", step))) }
        if improved { try file.write(to: runDir.appendingPathComponent("best.safetensors")) }
        lastGoodCheckpoint = (runDir.appendingPathComponent("latest.safetensors").path, step)
        log(String(format: "checkpoint at step %d: validation accuracy on held-out numbers (EMA) %.4f%@", step, score,
                   (improved ? ", new best" : "") as NSString))
    }

    /// The first parameter (live or EMA) holding a NaN or an infinity, with that value.
    func firstNonFiniteParameter() throws -> (name: String, value: Float)? {
        for p in model.params.all {
            let values = try backend.download(p.value, offset: 0, count: p.count)
            if let v = values.first(where: { !$0.isFinite }) { return (p.name, v) }
        }
        try optimizer.swapEMA()
        defer { try? optimizer.swapEMA() }
        for p in model.params.all {
            let values = try backend.download(p.value, offset: 0, count: p.count)
            if let v = values.first(where: { !$0.isFinite }) { return ("\(p.name) (EMA)", v) }
        }
        return nil
    }

    func divergenceMessage(_ what: String) -> String {
        let last = lastGoodCheckpoint.map { "the last good checkpoint is \($0.path) (step \($0.step))" }
            ?? "this run wrote no checkpoint before it"
        return "training diverged at step \(step): \(what); \(last). Try a lower --lr (now \(options.lr))"
    }

    /// Evaluates the EMA weights (the live ones when EMA is off). Checkpoint selection (`best`)
    /// uses a validation draw of questions independent of the draw `learner eval` reports, so
    /// the reported held-out figures are not the ones `best` was picked on.
    public func evaluate(perConcept: Int, splits: [Split] = Split.allCases, validation: Bool = false) throws -> EvalReport {
        try optimizer.swapEMA()
        defer { try? optimizer.swapEMA() }
        var evaluator = Evaluator(model: model, batcher: batcher)
        evaluator.batchSize = min(evaluator.batchSize, microBatch)
        let seed = validation ? options.seed ^ 0x5641_4C49_4441_5445 : options.seed  // "VALIDATE"
        return try evaluator.report(generator: generator, perConcept: perConcept, seed: seed, splits: splits)
    }
}
