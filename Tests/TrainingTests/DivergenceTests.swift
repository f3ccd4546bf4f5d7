import Compute
import Curriculum
import Foundation
@testable import Model
import XCTest
@testable import Training

/// A run whose loss blows up stops with one line naming the step and the last good checkpoint,
/// writes non-finite metrics as null, and never writes non-finite weights as `latest` or `best`.
final class DivergenceTests: XCTestCase {
    func testHugeLearningRateStopsWithOneLineAndReadableMetrics() throws {
        let dir = try makeTempDir()
        var o = TrainingTests.tinyOptions(seed: UInt64.random(in: 1...1000), dir: dir.path)
        o.lr = 1e6; o.minLR = 1e5; o.steps = 400; o.logEvery = 1; o.warmupRatio = 0
        let t = try Trainer(options: o, backend: CPUBackend(threads: 1))
        XCTAssertThrowsError(try t.train()) { error in
            guard case TrainingError.diverged(let line) = error else { return XCTFail("expected divergence, got \(error)") }
            XCTAssertTrue(line.hasPrefix("training diverged at step \(t.step)"), line)
            XCTAssertFalse(line.contains("\n"), line)
        }
        XCTAssertLessThan(t.step, o.steps, "the run should stop early, not run out its steps")
        let text = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        let lines = text.split(separator: "\n")
        XCTAssertFalse(lines.isEmpty)
        var sawNull = false
        for line in lines {
            let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
            if obj["gradNorm"] is NSNull { sawNull = true }
            _ = try JSONDecoder().decode(MetricsLine.self, from: Data(line.utf8))
        }
        XCTAssertTrue(sawNull, "a diverging run logs a non-finite gradient norm as null")
        for name in ["latest.safetensors", "best.safetensors"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path), name)
        }
    }

    func testNonFiniteWeightsAreNeverCheckpointed() throws {
        let dir = try makeTempDir()
        let t = try Trainer(options: TrainingTests.tinyOptions(seed: 5, dir: dir.path), backend: CPUBackend(threads: 1))
        try t.saveCheckpoints(periodic: false)
        let latest = dir.appendingPathComponent("latest.safetensors")
        let before = try Data(contentsOf: latest)
        let p = try XCTUnwrap(t.model.params.all.randomElement())
        var values = try t.backend.download(p.value, offset: 0, count: p.count)
        values[Int.random(in: 0..<values.count)] = .nan
        try t.backend.upload(values, to: p.value)
        XCTAssertThrowsError(try t.saveCheckpoints(periodic: false)) { error in
            guard case TrainingError.diverged(let line) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(line.contains(p.name) && line.contains(latest.path), line)
        }
        XCTAssertEqual(try Data(contentsOf: latest), before, "latest must keep the last finite weights")
    }

    func testMetricsLineRoundTripsNonFiniteAsNull() throws {
        let line = MetricsLine(step: 3, loss: .nan, answerLoss: .infinity, vqLoss: 1, stopLoss: 0, accuracy: 0.5, lr: 1e-3,
                               gradNorm: -.infinity, vqUtilisation: [1, .nan], vqPerplexity: [2], examplesPerSecond: 10, microBatch: 4)
        let data = try JSONEncoder().encode(line)
        let back = try JSONDecoder().decode(MetricsLine.self, from: data)
        XCTAssertTrue(back.loss.isNaN && back.answerLoss.isNaN && back.gradNorm.isNaN && back.vqUtilisation[1].isNaN)
        XCTAssertEqual(back.vqLoss, 1); XCTAssertEqual(back.vqUtilisation[0], 1); XCTAssertEqual(back.step, 3)
    }
}
