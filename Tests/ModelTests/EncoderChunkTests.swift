import Compute
import XCTest
@testable import Model

/// Under `--amp` the encoder runs the batch in chunks of whole sequences so its fp32 working
/// buffers hold one chunk: the split must cover every sequence once, and the chunked encoder
/// must compute what one chunk computes.
final class EncoderChunkTests: XCTestCase {
    func testSplitCoversEverySequenceOnceInBalancedChunks() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let lengths = (0..<Int.random(in: 1...40, using: &rng)).map { _ in Int.random(in: 1...30, using: &rng) }
            let k = Int.random(in: 1...8, using: &rng), total = lengths.reduce(0, +)
            let chunks = EncoderChunk.split(lengths: lengths, into: k)
            XCTAssertEqual(chunks.count, min(k, lengths.count), "\(lengths) into \(k)")
            var nextSequence = 0, nextRow = 0
            for (i, chunk) in chunks.enumerated() {
                XCTAssertEqual(chunk.index, i)
                XCTAssertEqual(chunk.sequences.lowerBound, nextSequence)
                XCTAssertEqual(chunk.rows.lowerBound, nextRow)
                XCTAssertFalse(chunk.sequences.isEmpty)
                XCTAssertEqual(chunk.rowCount, chunk.sequences.reduce(0) { $0 + lengths[$1] })
                // About an equal share: at most one sequence past it.
                XCTAssertLessThanOrEqual(chunk.rowCount, total / k + lengths.max()! + 1, "\(lengths) into \(k)")
                nextSequence = chunk.sequences.upperBound
                nextRow = chunk.rows.upperBound
            }
            XCTAssertEqual(nextSequence, lengths.count)
            XCTAssertEqual(nextRow, total)
        }
    }

    /// One amp model, one batch, forward and backward with the encoder in 1 chunk and in 4: the
    /// same loss (fp32 arithmetic on the same fp16 inputs) and the same gradients up to the fp16
    /// rounding of each chunk's share (a skipped or doubled chunk is off by a quarter or more).
    func testChunkedEncoderMatchesOneChunk() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = ModelRNG(seed: seed)
        var cfg = ModelConfig(vocabSize: 24, digitTokenIds: ModelGradientTests.digitIds)
        cfg.maxLen = 16; cfg.dModel = 32; cfg.heads = 2; cfg.layers = 2; cfg.codes = 8; cfg.codeDim = 8
        cfg.controllerHidden = 16
        for be in [CPUBackend(threads: 2)] as [any Backend] + (OpenCLRuntime.inventory().devices.isEmpty ? [] : [try OpenCLBackend()]) {
            let model = try ConceptModel(config: cfg, backend: be, seed: rng.next())
            try model.setMixedPrecision(true)
            let batch = ModelGradientTests.randomBatch(size: 24, seq: 16, vocab: 24, rng: &rng)
            var losses: [Double] = [], grads: [[String: [Float]]] = []
            let wide = try be.makeBuffer(count: model.params.all.map(\.count).max()!, dtype: .float32)
            for chunks in [1, 4] {
                model.ampEncoderChunks = chunks
                try model.params.zeroGrads()
                losses.append(try model.forward(batch).stats.loss)
                XCTAssertEqual(model.encoderChunks.count, chunks)
                try model.backward()
                var g: [String: [Float]] = [:]
                for p in model.params.all {
                    try be.fromHalf(p.grad, wide, count: p.count)
                    g[p.name] = try be.download(wide, offset: 0, count: p.count)
                }
                grads.append(g)
            }
            XCTAssertEqual(losses[0], losses[1], accuracy: 1e-5 * max(1, abs(losses[0])), "\(be.description) seed \(seed)")
            var encoderTensors = 0
            for p in model.params.all {
                let a = grads[0][p.name]!, b = grads[1][p.name]!
                let scale = a.map { abs($0) }.max()!
                if p.name.hasPrefix("encoder.") && scale > 0 { encoderTensors += 1 }
                let worst = zip(a, b).map { abs($0 - $1) }.max()!
                XCTAssertLessThanOrEqual(worst, 1e-2 * scale + 1e-6, "\(be.description) \(p.name): max |1 chunk - 4 chunks| vs max |g| \(scale), seed \(seed)")
            }
            XCTAssertGreaterThan(encoderTensors, 10, "\(be.description): the encoder got no gradient")
        }
    }
}
