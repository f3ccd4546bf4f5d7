import Compute
import Curriculum
import Foundation
import Model
import XCTest
@testable import Training

/// The same model on the CPU backend and on OpenCL (PoCL in CI): same eval, tracking losses,
/// and out-of-memory backoff under a device memory budget.
final class OpenCLTrainingTests: XCTestCase {
    func openCL(memoryLimit: Int? = nil) throws -> OpenCLBackend {
        guard OpenCLRuntime.inventory().devices.first != nil else { throw XCTSkip("no OpenCL device") }
        return try OpenCLBackend(options: OpenCLBackend.Options(memoryLimit: memoryLimit))
    }


    /// One checkpoint, evaluated on both backends: identical per-concept correct counts.
    func testEvalGivesTheSameCountsOnCPUAndOpenCL() throws {
        let ocl = try openCL()
        let dir = try makeTempDir()
        var o = TrainingTests.tinyOptions(seed: UInt64.random(in: 1...1000), dir: dir.path)
        o.steps = 60; o.batchSize = 48; o.dModel = 32; o.lr = 5e-3; o.restartEvery = 20
        let t = try Trainer(options: o, backend: CPUBackend())
        for _ in 0..<o.steps { try t.trainStep() }
        let url = dir.appendingPathComponent("c.safetensors")
        try t.checkpoint().write(to: url)
        var reports: [EvalReport] = []
        for be in [CPUBackend() as any Backend, ocl] {
            let (model, batcher, options, _) = try Checkpoint.loadModel(url, backend: be)
            reports.append(try Evaluator(model: model, batcher: batcher)
                .report(generator: LessonGenerator(config: options.lessonConfig), perConcept: 12, seed: 5))
        }
        for (split, r) in reports[0].splits {
            XCTAssertEqual(r.concepts, reports[1].splits[split]?.concepts, "split \(split) differs between backends")
        }
        XCTAssertGreaterThan(reports[0].overall, 0.3)
    }

    /// N training steps from the same seed on each backend: losses track each other within 2e-3
    /// relative per step (float order differs between BLAS and CLBlast, so not bitwise).
    func testTrainingLossesTrackAcrossBackends() throws {
        let ocl = try openCL()
        let dir = try makeTempDir()
        let o = TrainingTests.tinyOptions(seed: UInt64.random(in: 1...1000), dir: dir.path)
        let a = try Trainer(options: o, backend: CPUBackend())
        let b = try Trainer(options: o, backend: ocl)
        for step in 1...6 {
            let la = try a.trainStep().stats.loss, lb = try b.trainStep().stats.loss
            XCTAssertEqual(la, lb, accuracy: 2e-3 * max(1, abs(la)), "loss differs at step \(step) (seed \(o.seed))")
        }
        let wa = try a.model.params.snapshot(), wb = try b.model.params.snapshot()
        for (name, va) in wa {
            let maxDiff = zip(va, wb[name]!).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(maxDiff, 1e-3, "\(name) drifted by \(maxDiff)")
        }
    }

    /// With a budget that fits a quarter of the batch but not half, training backs off to
    /// micro-batches of a quarter, completes, and matches an unconstrained run within float
    /// tolerance (only the summation order of the gradients changes).
    func testOutOfMemoryBackoffKeepsTheResult() throws {
        _ = try openCL()
        let dir = try makeTempDir()
        var o = TrainingTests.tinyOptions(seed: UInt64.random(in: 1...1000), dir: dir.path)
        o.batchSize = 64; o.steps = 4; o.dModel = 32; o.maxLen = 32
        func peak(micro: Int) throws -> Int {
            var m = o
            m.microBatch = micro
            let be = try openCL()
            let t = try Trainer(options: m, backend: be)
            try t.trainStep()
            return be.memoryBudget.peakBytes
        }
        let quarter = try peak(micro: 16), half = try peak(micro: 32)
        XCTAssertLessThan(quarter, half, "activation memory must grow with the micro-batch")
        let limit = (quarter + half) / 2

        let constrainedBackend = try openCL(memoryLimit: limit)
        let constrained = try Trainer(options: o, backend: constrainedBackend)
        var lines: [String] = []
        constrained.log = { lines.append($0) }
        let free = try Trainer(options: o, backend: try openCL())
        let initial = try free.model.params.snapshot()
        for step in 1...o.steps {
            let a = try constrained.trainStep().stats.loss, b = try free.trainStep().stats.loss
            XCTAssertEqual(a, b, accuracy: 1e-3 * max(1, abs(b)), "loss at step \(step) (seed \(o.seed))")
        }
        XCTAssertEqual(constrained.microBatch, 16)
        XCTAssertEqual(constrained.step, o.steps)
        XCTAssertTrue(lines.contains { $0.hasPrefix("out of memory at micro-batch 64 on ") && $0.hasSuffix("continuing with 2 × 32") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasSuffix("continuing with 4 × 16") }, "\(lines)")
        XCTAssertLessThanOrEqual(constrainedBackend.memoryBudget.peakBytes, limit)
        // Micro-batches only reorder the gradient sums, but Adam divides by sqrt(v), so a gradient
        // component near zero can move its weight by up to ~lr per step either way. Compare each
        // tensor's difference with how far training moved it.
        let wa = try constrained.model.params.snapshot(), wb = try free.model.params.snapshot()
        for (name, va) in wa {
            let w0 = initial[name]!, vb = wb[name]!
            let diff = zip(va, vb).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
            let moved = zip(vb, w0).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
            XCTAssertLessThan(diff, 0.05 * max(moved, 1e-6),
                              "\(name) differs by \(diff) from the unconstrained run, which moved it \(moved) (seed \(o.seed))")
        }
    }

    /// At micro-batch 1 there is nothing left to halve: a clear error and a saved checkpoint.
    func testOutOfMemoryAtMicroBatchOneStopsWithACheckpoint() throws {
        _ = try openCL()
        let dir = try makeTempDir()
        var o = TrainingTests.tinyOptions(seed: 11, dir: dir.path)
        o.batchSize = 8
        // Parameters and optimizer state fit, activations for even one question do not.
        let probe = try openCL()
        _ = try Trainer(options: o, backend: probe)
        let t = try Trainer(options: o, backend: try openCL(memoryLimit: probe.memoryBudget.peakBytes + 4096))
        t.log = { _ in }
        XCTAssertThrowsError(try t.trainStep()) { error in
            XCTAssertTrue("\(error)".contains("out of memory at micro-batch 1"), "\(error)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("latest.safetensors").path))
        XCTAssertEqual(t.step, 0)
    }
}
