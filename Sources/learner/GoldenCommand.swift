import ArgumentParser
import Compute
import Curriculum
import Foundation
import Model
import Training

/// `learner golden`: one training forward and backward of a checkpoint on one deterministic batch,
/// on the CPU backend in fp32, written as safetensors for the PyTorch twin (`Tools/twin/golden.py`,
/// issue 16) to recompute: the batch, the controller row and the reasoner's outputs, every loss
/// part and every parameter's gradient. No optimizer step; the forward has no randomness (no
/// dropout; VQ takes the nearest code), so the same flags always write the same file.
struct GoldenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "golden",
        abstract: "Dump one training forward and backward of a checkpoint (batch, outputs, losses, gradients) for the PyTorch twin.")

    @Option(help: "Checkpoint file (a .safetensors written by learner train).")
    var checkpoint: String
    @Option(help: "Where to write the dump (.safetensors).")
    var out: String
    @Option(name: .customLong("batch_size"), help: "Training questions in the batch.")
    var batchSize = 16
    @Option(help: "Seed of the batch's questions.")
    var seed: UInt64 = 1
    @Option(help: "Step whose loss settings apply (the entropy bonus anneals); default: the checkpoint's step + 1, the step training would take next.")
    var step: Int?
    @Flag(help: "Use the EMA weights instead of the live weights (training computes gradients on the live ones).")
    var ema = false
    @Option(help: "CPU threads.")
    var threads: Int?

    func run() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch_size \(batchSize) must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads \(threads) must be at least 1") }
        let backend = CPUBackend(threads: threads)
        let url = URL(fileURLWithPath: checkpoint)
        let (model, batcher, options, checkpointStep) = try Checkpoint.loadModel(url, backend: backend, ema: ema)
        let generator = LessonGenerator(config: options.lessonConfig)
        var rng = SplitMix64(seed: seed)
        let questions = generator.generate(split: .train, count: batchSize, rng: &rng)
        let unknown = batcher.tokenizer.unknownWords(in: questions)
        if !unknown.isEmpty {
            let list = unknown.keys.sorted().prefix(10).joined(separator: ", ")
            FileHandle.standardError.write(Data("note: \(unknown.count) words unknown to the checkpoint's vocabulary read as [UNK]: \(list)\n".utf8))
        }
        let batch = try batcher.batch(questions)
        let lossStep = step ?? checkpointStep + 1
        let loss = options.lossSettings(step: lossStep)
        let withPrograms = loss.lambdaProgram > 0 && batch.programs != nil

        try model.params.zeroGrads()
        let (stats, _) = try model.forward(batch, loss: loss, lossScale: 1, readback: true)
        let activations = try model.goldenActivations(rows: batch.size, seq: batch.seq, programHeads: withPrograms)
        try model.backward()

        var file = SafeTensorsFile()
        let B = batch.size, T = batch.seq
        func ints(_ v: [Int32]) -> [Float] { v.map { Float($0) } }
        file.tensors["in.tokens"] = ([B, T], ints(batch.tokens))
        file.tensors["in.places"] = ([B, T], ints(batch.places))
        file.tensors["in.slots"] = ([B, T], ints(batch.slots))
        file.tensors["in.lengths"] = ([B], ints(batch.lengths))
        // Targets as (kind, value): kind 1 yes/no (value 1 = yes), 2 a number.
        file.tensors["in.targets"] = ([B, 2], (batch.targets ?? []).flatMap { t -> [Float] in
            switch t {
            case let .yesNo(y): return [1, y ? 1 : 0]
            case let .number(n): return [2, Float(n)]
            }
        })
        if let programs = batch.programs { file.tensors["in.programs"] = ([B, ModelBatch.programWidth], ints(programs)) }
        for (k, v) in activations { file.tensors[k] = v }
        let entropy = activations["out.reasoner_stats"].map { s -> Double in
            (0..<B).reduce(0.0) { $0 + Double(s.values[$1 * ReasonerSpec.statsWidth + 2]) } / Double(B)
        } ?? .nan
        let parts: [(String, Double)] = [("total", stats.loss), ("answer", stats.answerLoss), ("stop", stats.stopLoss),
                                         ("vq", stats.vqLoss), ("program", stats.programLoss), ("entropy", entropy)]
        for (name, v) in parts { file.tensors["loss.\(name)"] = ([1], [Float(v)]) }
        for p in model.params.all {
            file.tensors["grad.\(p.name)"] = (p.shape, try backend.download(p.grad, offset: 0, count: p.count))
        }

        let layout = model.goldenReasonerLayout
        let settings: [String: Any] = [
            "step": lossStep, "labelSmoothing": loss.labelSmoothing, "lambdaVQ": loss.lambdaVQ,
            "lambdaStop": loss.lambdaStop, "lambdaEntropy": loss.lambdaEntropy, "lambdaProgram": loss.lambdaProgram,
        ]
        let reasoner: [String: Any] = [
            "ops": layout.ops, "binary": layout.binary, "relations": layout.relations,
            "offeredOps": Int(layout.offeredOps), "offeredRelations": Int(layout.offeredRelations),
            "programHeads": layout.programHeads.map { [$0.offset, $0.width, $0.target] },
        ]
        func json(_ v: Any) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: v, options: [.sortedKeys]), as: UTF8.self)
        }
        file.metadata = [
            "format": "concept-learner-golden/1",
            "checkpoint": url.path,
            "checkpoint_step": String(checkpointStep),
            "weights": ema ? "ema" : "model",
            "seed": String(seed),
            "loss_settings": try json(settings),
            "reasoner": try json(reasoner),
            "questions": try json(questions.map { $0.text }),
            "backend": backend.description,
        ]
        try file.write(to: URL(fileURLWithPath: out))
        print(String(format: "golden: %d questions (T=%d, grade %d, step %d loss settings) from %@ (%@ weights)",
                     B, T, model.config.grade, lossStep, checkpoint as NSString, (ema ? "EMA" : "live") as NSString))
        print(String(format: "loss %.6f = answer %.6f + stop %.6f + vq %.6f + program %.6f - %.4f x entropy %.6f",
                     stats.loss, stats.answerLoss, stats.stopLoss, stats.vqLoss, stats.programLoss,
                     Double(loss.lambdaEntropy), entropy))
        print("wrote \(file.tensors.count) tensors (\(model.params.all.count) gradients) to \(out)")
    }
}
