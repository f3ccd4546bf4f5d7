import ArgumentParser
import Compute
import Foundation
import Training

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Profile training steps: time, share of the step, GFLOP/s and GB/s per op; optional Chrome trace.",
        discussion: """
            Runs one warm-up step (not counted), then --steps profiled training steps, and prints one row per \
            backend op sorted by total time. On OpenCL the times are device event times; on the CPU wall-clock \
            times around each (synchronous) op. FLOPs and bytes are estimates from each op's arguments \
            (see Docs/PROFILING.md).
            """)

    @Option(help: "Profiled training steps (after one warm-up step).") var steps = 10
    @Option(help: "Write a Chrome trace (JSON; open in https://ui.perfetto.dev) to this file.") var trace: String?
    @Option(help: "Model and batch sizes: quick or original.") var preset = "quick"
    @Option(name: .customLong("batch_size")) var batchSize: Int?
    @Option(name: .customLong("d_model")) var dModel: Int?
    @Option(name: .customLong("seed")) var seed: UInt64?
    @Flag(name: .customLong("amp"), help: "Mixed precision: fp16 activations, weights and gradients, fp32 math and master weights, dynamic loss scale.") var amp = false
    @OptionGroup var deviceOptions: DeviceOptions

    /// Bad flags: one line each (no usage dump).
    func check() throws {
        guard steps >= 1 else { throw ProfileError("--steps \(steps) must be at least 1") }
        if let batchSize, batchSize < 1 { throw ProfileError("--batch_size \(batchSize) must be at least 1") }
        if let dModel, dModel < 1 { throw ProfileError("--d_model \(dModel) must be at least 1") }
        guard preset == "quick" || preset == "original" else {
            throw ProfileError("--preset '\(preset)' is not a preset; expected quick or original")
        }
        if let trace {
            let dir = URL(fileURLWithPath: trace).deletingLastPathComponent()
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
                throw ProfileError("--trace '\(trace)': folder \(dir.path) does not exist")
            }
        }
    }

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)
        try check()
        var o = try TrainOptions.preset(preset)
        if let batchSize { o.batchSize = batchSize }
        if let dModel { o.dModel = dModel }
        if let seed { o.seed = seed }
        o.amp = amp
        // The schedule spans the warm-up and the profiled steps; nothing is saved.
        o.steps = steps + 1
        o.saveDir = FileManager.default.temporaryDirectory
            .appendingPathComponent("learner-profile-\(ProcessInfo.processInfo.processIdentifier)").path
        o.ckptEvery = 0
        o.logEvery = 0
        let inner = try deviceOptions.backend(profiling: true)
        let profiler = ProfilingBackend(wrapping: inner)
        let trainer = try Trainer(options: o, backend: profiler)
        trainer.log = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let clock: String
        switch profiler.timing {
        case .deviceEvents: clock = "OpenCL event times per op"
        case .wallClock: clock = "wall clock per op"
        case .wallClockSynchronized: clock = "wall clock per op, synchronized"
        }
        print("profiling \(steps) training step\(steps == 1 ? "" : "s") on \(inner.description): "
              + "\(trainer.model.params.totalCount) parameters, d_model \(o.dModel), batch \(o.batchSize) "
              + "(preset \(preset); 1 warm-up step not counted; \(clock))")

        // Warm-up: builds kernels, allocates activations, touches every page once.
        try trainer.trainStep()
        try profiler.reset()

        var examples = 0
        for _ in 0..<steps {
            profiler.beginStep()
            let (stats, _, _) = try trainer.trainStep()
            try profiler.endStep()
            examples += stats.count
        }
        let report = try profiler.report(stepCount: steps)
        print("")
        print(report.text)
        print("")
        if let seconds = report.stepSeconds {
            print(String(format: "step time: %.2f ms mean over %d steps (%.3f s total); %.1f examples/s",
                         seconds * 1000 / Double(steps), steps, seconds, Double(examples) / max(seconds, 1e-9)))
        }
        if let trace {
            let data = try profiler.chromeTrace()
            do {
                try data.write(to: URL(fileURLWithPath: trace))
            } catch {
                throw ProfileError("--trace '\(trace)': cannot write (\(error.localizedDescription))")
            }
            let events = profiler.recordedCalls.count
            print("trace: \(trace) (\(events) op events, \(data.count / 1024) KiB); open it in https://ui.perfetto.dev")
        }
    }
}

/// A one-line error for `learner profile`.
struct ProfileError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
