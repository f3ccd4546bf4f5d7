import Compute
import Curriculum
import Foundation
@testable import Model
import XCTest
@testable import Training

final class TrainingTests: XCTestCase {
    static func tinyOptions(seed: UInt64, dir: String) -> TrainOptions {
        var o = TrainOptions.quick
        o.dModel = 16; o.heads = 2; o.batchSize = 24; o.steps = 8; o.codes = 8; o.codeDim = 8
        o.controllerHidden = 16; o.seed = seed; o.saveDir = dir; o.evalPerConcept = 4
        o.restartEvery = 3; o.logEvery = 0; o.ckptEvery = 0; o.warmupRatio = 0.25
        return o
    }


    /// 2N steps straight and N steps + checkpoint + resume + N steps give bitwise-equal weights,
    /// optimizer state and losses (dead-code restarts and EMA included), in fp32 and under
    /// `--amp` (fp16 copies, loss scale, the chunked encoder).
    func testResumeIsBitIdentical() throws {
        for amp in [false, true] {
            let dir = try makeTempDir()
            let seed = UInt64.random(in: 1...UInt64.max)
            let be = CPUBackend(threads: 2)
            var o = Self.tinyOptions(seed: seed, dir: dir.path)
            o.amp = amp
            let straight = try Trainer(options: o, backend: be)
            var lossesA: [Double] = []
            for _ in 0..<8 { lossesA.append(try straight.trainStep().stats.loss) }

            let first = try Trainer(options: o, backend: be)
            var lossesB: [Double] = []
            for _ in 0..<4 { lossesB.append(try first.trainStep().stats.loss) }
            let url = dir.appendingPathComponent("half.safetensors")
            try first.checkpoint().write(to: url)
            let resumed = try Trainer.resume(from: url, backend: be)
            XCTAssertEqual(resumed.step, 4)
            for _ in 0..<4 { lossesB.append(try resumed.trainStep().stats.loss) }

            XCTAssertEqual(lossesA, lossesB, "amp \(amp): losses differ after resume (seed \(seed))")
            let a = try straight.model.params.snapshot(), b = try resumed.model.params.snapshot()
            for (name, va) in a {
                XCTAssertEqual(va.map(\.bitPattern), b[name]!.map(\.bitPattern), "amp \(amp): \(name) differs bitwise (seed \(seed))")
            }
            let sa = try straight.optimizer.state(), sb = try resumed.optimizer.state()
            for (name, va) in sa { XCTAssertEqual(va.map(\.bitPattern), sb[name]!.map(\.bitPattern), "amp \(amp): \(name) differs") }
        }
    }

    func testCorruptAndTruncatedCheckpointsGiveClearErrors() throws {
        let dir = try makeTempDir()
        let t = try Trainer(options: Self.tinyOptions(seed: 7, dir: dir.path), backend: CPUBackend(threads: 1))
        try t.trainStep()
        let url = dir.appendingPathComponent("c.safetensors")
        try t.checkpoint().write(to: url)
        let good = try Data(contentsOf: url)
        XCTAssertNoThrow(try Checkpoint.loadModel(url, backend: CPUBackend(threads: 1)))

        func expectError(_ data: Data, containing text: String, _ label: String) throws {
            let bad = dir.appendingPathComponent("\(label).safetensors")
            try data.write(to: bad)
            XCTAssertThrowsError(try Checkpoint.loadModel(bad, backend: CPUBackend(threads: 1)), label) { error in
                let msg = "\(error)"
                XCTAssertTrue(msg.contains(text), "\(label): '\(msg)' lacks '\(text)'")
                XCTAssertFalse(msg.contains("\n"), "\(label): error is not one line")
            }
            XCTAssertThrowsError(try Trainer.resume(from: bad, backend: CPUBackend(threads: 1)), label)
        }
        try expectError(good.prefix(good.count / 2), containing: "truncated", "truncated")
        var flipped = good
        flipped[flipped.count - 5] ^= 0xFF
        try expectError(flipped, containing: "checksum", "flipped")
        try expectError(Data("hello".utf8), containing: "too short", "tiny")
        try expectError(Data(), containing: "too short", "empty")
        XCTAssertThrowsError(try Checkpoint.loadModel(dir.appendingPathComponent("missing.safetensors"), backend: CPUBackend())) {
            XCTAssertTrue("\($0)".contains("does not exist"))
        }
        // The good file is untouched by failed loads.
        XCTAssertEqual(try Data(contentsOf: url), good)
    }

    /// The reasoner's typed ops must reach the answers: after a short training run, cutting the
    /// reasoner out changes the model's answers on a large share of questions.
    func testDisablingTheReasonerChangesAnswers() throws {
        // What is tested is the ablation, on a model that learned something; a 300-step run
        // from some seeds stays below 0.6, so up to three fresh seeds are tried for that.
        var learned: (evaluator: Evaluator, model: ConceptModel, on: [ScoredQuestion], qs: [Question], seed: UInt64)?
        var tried: [String] = []
        for _ in 0..<3 where learned == nil {
            let seed = UInt64.random(in: 1...1000)
            let dir = try makeTempDir()
            var o = Self.tinyOptions(seed: seed, dir: dir.path)
            o.steps = 300; o.batchSize = 64; o.dModel = 32; o.lr = 5e-3; o.restartEvery = 50
            let t = try Trainer(options: o, backend: CPUBackend())
            for _ in 0..<o.steps { try t.trainStep() }
            let url = dir.appendingPathComponent("trained.safetensors")
            try t.checkpoint().write(to: url)
            let (model, batcher, options, _) = try Checkpoint.loadModel(url, backend: CPUBackend(), ema: false)
            let generator = LessonGenerator(config: options.lessonConfig)
            let qs = Evaluator.evalSet(generator: generator, split: .heldout, perConcept: 20, seed: 99)
            let evaluator = Evaluator(model: model, batcher: batcher)
            let on = try evaluator.score(qs)
            let acc = Double(on.filter(\.correct).count) / Double(qs.count)
            tried.append("seed \(seed): \(acc)")
            if acc > 0.6 { learned = (evaluator, model, on, qs, seed) }
        }
        guard let (evaluator, model, on, qs, seed) = learned else {
            return XCTFail("no short run learned (accuracy > 0.6): \(tried.joined(separator: ", "))")
        }
        model.reasonerEnabled = false
        let off = try evaluator.score(qs)
        let accOn = Double(on.filter(\.correct).count) / Double(qs.count)
        let accOff = Double(off.filter(\.correct).count) / Double(qs.count)
        let changed = zip(on, off).filter { $0.prediction.answer != $1.prediction.answer }.count
        XCTAssertGreaterThan(Double(changed) / Double(qs.count), 0.2, "ablation changed only \(changed) of \(qs.count) answers (seed \(seed))")
        XCTAssertLessThan(accOff, accOn - 0.15, "without the reasoner accuracy should drop (on \(accOn), off \(accOff), seed \(seed))")
    }

    func testEvalJSONHasTheDocumentedShape() throws {
        let dir = try makeTempDir()
        let t = try Trainer(options: Self.tinyOptions(seed: 3, dir: dir.path), backend: CPUBackend(threads: 1))
        let report = try t.evaluate(perConcept: 2)
        let obj = try JSONSerialization.jsonObject(with: Data(try report.json().utf8)) as! [String: Any]
        XCTAssertNotNil(obj["overall"] as? Double)
        let concepts = obj["concepts"] as! [String: [String: Any]]
        XCTAssertEqual(Set(concepts.keys), Set(Concept.upTo(grade: 1).map(\.rawValue)))
        XCTAssertEqual(concepts["greater"]?["total"] as? Int, 2 * (obj["splits"] as! [String: Any]).count)
        let splits = obj["splits"] as! [String: [String: Any]]
        XCTAssertEqual(Set(splits.keys), ["train", "heldout", "phrasing", "ood", "fixed"])
        XCTAssertNotNil(splits["heldout"]?["concepts"] as? [String: Any])
    }

    /// `learner eval --predictions`: one JSON line per scored question, with the answer given and
    /// the program run; A and B are numbers of the question, and `correct` matches the answers.
    func testPredictionLinesNameTheProgramAndItsOperands() throws {
        let dir = try makeTempDir()
        let t = try Trainer(options: Self.tinyOptions(seed: UInt64.random(in: 1...1000), dir: dir.path),
                            backend: CPUBackend(threads: 1))
        let evaluator = Evaluator(model: t.model, batcher: t.batcher)
        var lines: [String] = []
        let report = try evaluator.report(generator: t.generator, perConcept: 3, seed: 5, splits: [.train, .phrasing]) {
            lines.append(try $0.jsonLine())
        }
        XCTAssertEqual(lines.count, report.splits.values.reduce(0) { $0 + $1.total })
        var right = 0
        for line in lines {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let text = obj["question"] as! String, isNumber = obj["relation"] == nil
            let numbers = text.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            XCTAssertTrue(numbers.contains(obj["a"] as! Int), line)
            if !isNumber { XCTAssertTrue(numbers.contains(obj["b"] as! Int), line) }
            let program = obj["program"] as! String
            XCTAssertTrue(program.contains(obj["op"] as! String), line)
            XCTAssertEqual(obj["correct"] as! Bool, obj["answer"] as! String == obj["predicted"] as! String, line)
            XCTAssertTrue(["train", "phrasing"].contains(obj["split"] as! String), line)
            if obj["correct"] as! Bool { right += 1 }
        }
        XCTAssertEqual(right, report.splits.values.reduce(0) { $0 + $1.correct })
        // Per phrasing: the tallies add up to the split, name real phrasings of their concept, and
        // come weakest first; the text report lists those under the bar.
        for (name, split) in report.splits {
            let phrasings = try XCTUnwrap(split.phrasings, name)
            XCTAssertEqual(phrasings.reduce(0) { $0 + $1.total }, split.total)
            XCTAssertEqual(phrasings.reduce(0) { $0 + $1.correct }, split.correct)
            XCTAssertEqual(phrasings.map(\.accuracy), phrasings.map(\.accuracy).sorted())
            for p in phrasings {
                let frames = Templates.phrasings(Concept(rawValue: p.concept)!)
                let expanded = frames.flatMap { f in
                    [f] + Templates.Expression.allCases.map { f.replacingOccurrences(of: "{X}", with: $0.text) }
                }
                XCTAssertTrue(expanded.contains(p.phrasing), p.phrasing)
                XCTAssertFalse(p.phrasing.contains("{X}"), "equality is listed per expression: \(p.phrasing)")
                XCTAssertTrue(p.programCount >= 1 && p.programCount <= p.total)
            }
            if let weakest = phrasings.first, weakest.accuracy < 0.98 {
                XCTAssertTrue(report.text().contains(weakest.phrasing), "the text report should list \(weakest.phrasing)")
            }
        }
    }

    /// Programs name operands by role: a question whose numbers are known gets them back by name.
    func testProgramWithRolesNamesOperands() {
        let q = Question(text: "Is 7 two less than 9?", answer: .yes, concept: .add2, operands: [7, 9], split: .phrasing, template: 10)
        let trace = ReasoningTrace(operandA: 9, operandB: 7, slotA: 1, slotB: 0, unary: .subtract2, relation: .equal,
                                   pStop: 0, codes: [])
        let p = Prediction(isNumber: false, yes: true, pYes: 0.9, number: 0, trace: trace)
        XCTAssertEqual(ScoredQuestion(question: q, prediction: p).programWithRoles, "equal(subtract_2(b), a)")
        let count = Question(text: "What comes after 4?", answer: .number(5), concept: .countAfter, operands: [4], split: .train, template: 0)
        let t2 = ReasoningTrace(operandA: 4, operandB: nil, slotA: 0, slotB: 0, unary: .successor, relation: .equal, pStop: 1, codes: [])
        let p2 = Prediction(isNumber: true, yes: false, pYes: 0, number: 5, trace: t2)
        XCTAssertEqual(ScoredQuestion(question: count, prediction: p2).programWithRoles, "successor(n)")
    }

    func testBadOptionsAreRejectedWithOneLine() {
        var o = TrainOptions.quick
        o.dModel = 30; o.heads = 4
        XCTAssertThrowsError(try o.validate()) { XCTAssertTrue("\($0)".contains("--d_model 30")) }
        o = .quick; o.lr = -1
        XCTAssertThrowsError(try o.validate()) { XCTAssertTrue("\($0)".contains("--lr")) }
        XCTAssertThrowsError(try TrainOptions.preset("huge")) { XCTAssertTrue("\($0)".contains("unknown preset 'huge'")) }
        o = .quick; o.lambdaProgram = -1
        XCTAssertThrowsError(try o.validate()) { XCTAssertTrue("\($0)".contains("--lambda_program -1.0")) }
    }
}

/// The checkpoint is a real safetensors file: Python's `safetensors` reads it, with the same values.
final class SafeTensorsInteropTests: XCTestCase {
    func testPythonSafetensorsReadsOurCheckpoint() throws {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import safetensors, numpy"]
        check.standardError = FileHandle.nullDevice
        do { try check.run(); check.waitUntilExit() } catch { throw XCTSkip("python3 not available") }
        guard check.terminationStatus == 0 else { throw XCTSkip("Python safetensors is not installed (Tools/setup.sh installs it)") }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cl-py-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try Trainer(options: TrainingTests.tinyOptions(seed: UInt64.random(in: 1...1000), dir: dir.path),
                            backend: CPUBackend(threads: 1))
        try t.trainStep()
        let file = try t.checkpoint()
        let ckpt = dir.appendingPathComponent("c.safetensors")
        try file.write(to: ckpt)
        var expected: [String: [Double]] = [:]
        for name in ["model.embed.tokens", "model.decoder.gain", "adam.m.controller.fc2.weight", "ema.encoder.0.attn.qkv.weight"] {
            expected[name] = file.tensors[name]!.values.map(Double.init)
        }
        let expectedURL = dir.appendingPathComponent("expected.json")
        try JSONSerialization.data(withJSONObject: expected).write(to: expectedURL)

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tools/read_checkpoint.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path, ckpt.path, expectedURL.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("values match for 4 tensors"), text)
        XCTAssertTrue(text.contains("model.encoder.0.attn.qkv.weight float32 [16, 48]"), text)
    }
}
