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
    @Option(help: "Also time an n x n SGEMM after every timed step and compare the training GFLOP/s with it (0: off).")
    var sgemm = 0

    func run() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
        guard sgemm >= 0 else { throw ValidationError("--sgemm \(sgemm) must be a matrix size N > 0, or 0 for off") }
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
        var seqs: [Int] = [], sgemmLines: [String] = [], memoryLines: [String] = []
        for name in devices.split(separator: ",").map(String.init) {
            let (backend, notice) = try selectBackend(name, threads: threads)
            if let notice { FileHandle.standardError.write(Data((notice + "\n").utf8)) }
            var bytes: [String: (step: Int, optimizer: Int)] = [:]
            for mode in modes {
                o.amp = mode == "amp"
                let flops = sgemm > 0 ? try countedFLOPs(o, backend) : []
                let trainer = try Trainer(options: o, backend: backend)
                trainer.log = { _ in }
                for _ in 0..<2 { try trainer.trainStep(readback: false) }
                try backend.synchronize()
                var times: [Double] = [], gemm: [Double] = []
                for _ in 0..<steps {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    try trainer.trainStep(readback: false)
                    try backend.synchronize()
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                    seqs.append(trainer.lastBatchSeq)
                    if sgemm > 0 { gemm.append(try GemmBenchmark.gflops(backend, n: sgemm, repeats: 1, warmup: 0)) }
                }
                if sgemm > 0 {
                    let perStep = flops.reduce(0, +) / Double(flops.count), stepSeconds = times.reduce(0, +) / Double(times.count) / 1000
                    let trainRate = perStep / stepSeconds / 1e9, gemmRate = gemm.sorted()[gemm.count / 2]
                    sgemmLines.append(String(format: "%@ %@: training %.1f GFLOP/s (%.3f GFLOP per step as the profiler counts them, "
                        + "over the mean step) vs SGEMM %d x %d %.1f GFLOP/s (median, one after each step): %.0f%%",
                        backend.description as NSString, mode as NSString, trainRate, perStep / 1e9, sgemm, sgemm, gemmRate,
                        100 * trainRate / gemmRate))
                }
                let median = times.sorted()[times.count / 2]
                let p = trainer.model.params, mib = 1.0 / 1_048_576
                let stepBytes = p.parameterBytes + p.gradientBytes + trainer.model.activationBytes
                print(String(format: "| %@ | %@ | %.1f | %.0f | %.1f | %.1f |", backend.description as NSString, mode as NSString,
                             median, Double(o.batchSize) / (median / 1000), Double(stepBytes) * mib,
                             Double(trainer.optimizer.stateBytes) * mib))
                bytes[mode] = (stepBytes, trainer.optimizer.stateBytes)
            }
            if let f = bytes["fp32"], let a = bytes["amp"] {
                memoryLines.append(String(format: "%@: device memory amp / fp32 %.2f (weights+grads+activations), %.2f with the optimizer",
                                          backend.description as NSString, Double(a.step) / Double(f.step),
                                          Double(a.step + a.optimizer) / Double(f.step + f.optimizer)))
            }
        }
        // The padded length decides the encoder's work; a peer benchmark should use the same.
        print(String(format: "\nmean padded length of the timed batches: %.1f tokens", Double(seqs.reduce(0, +)) / Double(max(1, seqs.count))))
        for line in memoryLines + sgemmLines { print(line) }
    }

    /// FLOPs of each of the timed steps as the profiler counts them (GEMM 2mnk, attention, the
    /// elementwise ops): a second trainer with the same seed draws the same batches.
    func countedFLOPs(_ o: TrainOptions, _ backend: any Backend) throws -> [Double] {
        let profiler = ProfilingBackend(wrapping: backend)
        let counter = try Trainer(options: o, backend: profiler)
        counter.log = { _ in }
        for _ in 0..<2 { try counter.trainStep(readback: false) }
        var out: [Double] = []
        for _ in 0..<steps {
            try profiler.reset()
            profiler.beginStep()
            try counter.trainStep(readback: false)
            try profiler.endStep()
            out.append(try profiler.report(stepCount: 1).rows.reduce(0) { $0 + $1.flops })
        }
        return out
    }
}
