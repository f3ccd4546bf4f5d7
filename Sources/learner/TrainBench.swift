import ArgumentParser
import Compute
import Foundation
import Training

/// Training throughput of one configuration on several devices, side by side in one run.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training examples/s of one configuration on several devices, side by side.")

    @Option(help: "Comma-separated devices to compare, e.g. cpu,opencl.") var devices = "cpu,opencl"
    @Option(help: "Preset the configuration starts from: quick or original.") var preset = "quick"
    @Option(name: .customLong("batch_size")) var batchSize: Int?
    @Option(name: .customLong("d_model")) var dModel: Int?
    @Option(help: "Timed steps per device (after 2 warm-up steps).") var steps = 10
    @Option(help: "CPU threads.") var threads: Int?
    @Option(help: "Comma-separated precisions to compare on each device: fp32, amp.") var precisions = "fp32"

    func run() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
        var o = try TrainOptions.preset(preset)
        if let batchSize { o.batchSize = batchSize }
        if let dModel { o.dModel = dModel }
        o.saveDir = FileManager.default.temporaryDirectory.appendingPathComponent("learner-bench-\(getpid())").path
        o.logEvery = 0
        o.ckptEvery = 0
        try o.validate()
        print("config: \(preset) preset, d_model \(o.dModel), batch \(o.batchSize), \(o.layers) layers, "
              + "\(o.heads) heads; median of \(steps) steps after 2 warm-up steps\n")
        let modes = precisions.split(separator: ",").map(String.init)
        for mode in modes where mode != "fp32" && mode != "amp" {
            throw ValidationError("--precisions takes fp32 and/or amp, got \(mode)")
        }
        print("| device | precision | median step (ms) | examples/s | weights+grads+activations (MiB) | optimizer (MiB) |")
        print("|---|---|---:|---:|---:|---:|")
        var seqs: [Int] = []
        for name in devices.split(separator: ",").map(String.init) {
            let (backend, notice) = try selectBackend(name, threads: threads)
            if let notice { FileHandle.standardError.write(Data((notice + "\n").utf8)) }
            for mode in modes {
                o.amp = mode == "amp"
                let trainer = try Trainer(options: o, backend: backend)
                trainer.log = { _ in }
                for _ in 0..<2 { try trainer.trainStep(readback: false) }
                try backend.synchronize()
                var times: [Double] = []
                for _ in 0..<steps {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    try trainer.trainStep(readback: false)
                    try backend.synchronize()
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                    seqs.append(trainer.lastBatchSeq)
                }
                let median = times.sorted()[times.count / 2]
                let p = trainer.model.params, mib = 1.0 / 1_048_576
                let stepBytes = p.parameterBytes + p.gradientBytes + trainer.model.activationBytes
                print(String(format: "| %@ | %@ | %.1f | %.0f | %.1f | %.1f |", backend.description as NSString, mode as NSString,
                             median, Double(o.batchSize) / (median / 1000), Double(stepBytes) * mib,
                             Double(trainer.optimizer.stateBytes) * mib))
            }
        }
        // The padded length decides the encoder's work; a peer benchmark should use the same.
        print(String(format: "\nmean padded length of the timed batches: %.1f tokens", Double(seqs.reduce(0, +)) / Double(max(1, seqs.count))))
    }
}
