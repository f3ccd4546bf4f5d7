import XCTest
@testable import Compute

// Generated list: every op, once per backend (the checks are in OpChecks.swift).

/// Every op on the CPU backend against float64 references.
final class CPUOpsTests: XCTestCase {
    func testGemmNN() throws { var c = Checks(Shared.cpu); try c.gemm(transA: false, transB: false, alpha: 1, beta: 0) }
    func testGemmNT() throws { var c = Checks(Shared.cpu); try c.gemm(transA: false, transB: true, alpha: 1, beta: 0) }
    func testGemmTN() throws { var c = Checks(Shared.cpu); try c.gemm(transA: true, transB: false, alpha: 1, beta: 0) }
    func testGemmTTAlphaBeta() throws { var c = Checks(Shared.cpu); try c.gemm(transA: true, transB: true, alpha: 2, beta: 0.5) }
    func testGemmNNBetaOne() throws { var c = Checks(Shared.cpu); try c.gemm(transA: false, transB: false, alpha: -1, beta: 1) }
    func testGemmKZeroAndEmpty() throws { var c = Checks(Shared.cpu); try c.gemmKZero() }
    func testGemmStridedBatchedNN() throws { var c = Checks(Shared.cpu); try c.gemmStridedBatched(transA: false, transB: false) }
    func testGemmStridedBatchedNT() throws { var c = Checks(Shared.cpu); try c.gemmStridedBatched(transA: false, transB: true) }
    func testGemmStridedBatchedTN() throws { var c = Checks(Shared.cpu); try c.gemmStridedBatched(transA: true, transB: false) }
    func testBias() throws { var c = Checks(Shared.cpu); try c.biasOps() }
    func testGelu() throws { var c = Checks(Shared.cpu); try c.geluOps() }
    func testArithmetic() throws { var c = Checks(Shared.cpu); try c.arithmeticOps() }
    func testLayerNorm() throws { var c = Checks(Shared.cpu); try c.layerNormOps() }
    func testSoftmax() throws { var c = Checks(Shared.cpu); try c.softmaxOps() }
    func testEmbedding() throws { var c = Checks(Shared.cpu); try c.embeddingOps() }
    func testReductions() throws { var c = Checks(Shared.cpu); try c.reductionOps() }
    func testHalfRoundTrip() throws { var c = Checks(Shared.cpu); try c.halfRoundTrip() }
    func testAccumulateHalf() throws { var c = Checks(Shared.cpu); try c.accumulateHalfOp() }
    func testCrossEntropy() throws { var c = Checks(Shared.cpu); try c.crossEntropyOp() }
    func testAdamWAndEMA() throws { var c = Checks(Shared.cpu); try c.optimizerOps() }
    func testVQNearest() throws { var c = Checks(Shared.cpu); try c.vqNearestOp() }
    func testAttention() throws { var c = Checks(Shared.cpu); try c.attentionOps() }
    func testMemoryOps() throws { var c = Checks(Shared.cpu); try c.memoryOps() }
}

/// Every op on the OpenCL backend (PoCL in CI); skipped without an OpenCL platform.
final class OpenCLOpsTests: XCTestCase {
    func testGemmNN() throws { var c = Checks(try Shared.opencl()); try c.gemm(transA: false, transB: false, alpha: 1, beta: 0) }
    func testGemmNT() throws { var c = Checks(try Shared.opencl()); try c.gemm(transA: false, transB: true, alpha: 1, beta: 0) }
    func testGemmTN() throws { var c = Checks(try Shared.opencl()); try c.gemm(transA: true, transB: false, alpha: 1, beta: 0) }
    func testGemmTTAlphaBeta() throws { var c = Checks(try Shared.opencl()); try c.gemm(transA: true, transB: true, alpha: 2, beta: 0.5) }
    func testGemmNNBetaOne() throws { var c = Checks(try Shared.opencl()); try c.gemm(transA: false, transB: false, alpha: -1, beta: 1) }
    func testGemmKZeroAndEmpty() throws { var c = Checks(try Shared.opencl()); try c.gemmKZero() }
    func testGemmStridedBatchedNN() throws { var c = Checks(try Shared.opencl()); try c.gemmStridedBatched(transA: false, transB: false) }
    func testGemmStridedBatchedNT() throws { var c = Checks(try Shared.opencl()); try c.gemmStridedBatched(transA: false, transB: true) }
    func testGemmStridedBatchedTN() throws { var c = Checks(try Shared.opencl()); try c.gemmStridedBatched(transA: true, transB: false) }
    func testBias() throws { var c = Checks(try Shared.opencl()); try c.biasOps() }
    func testGelu() throws { var c = Checks(try Shared.opencl()); try c.geluOps() }
    func testArithmetic() throws { var c = Checks(try Shared.opencl()); try c.arithmeticOps() }
    func testLayerNorm() throws { var c = Checks(try Shared.opencl()); try c.layerNormOps() }
    func testSoftmax() throws { var c = Checks(try Shared.opencl()); try c.softmaxOps() }
    func testEmbedding() throws { var c = Checks(try Shared.opencl()); try c.embeddingOps() }
    func testReductions() throws { var c = Checks(try Shared.opencl()); try c.reductionOps() }
    func testHalfRoundTrip() throws { var c = Checks(try Shared.opencl()); try c.halfRoundTrip() }
    func testAccumulateHalf() throws { var c = Checks(try Shared.opencl()); try c.accumulateHalfOp() }
    func testCrossEntropy() throws { var c = Checks(try Shared.opencl()); try c.crossEntropyOp() }
    func testAdamWAndEMA() throws { var c = Checks(try Shared.opencl()); try c.optimizerOps() }
    func testVQNearest() throws { var c = Checks(try Shared.opencl()); try c.vqNearestOp() }
    func testAttention() throws { var c = Checks(try Shared.opencl()); try c.attentionOps() }
    func testMemoryOps() throws { var c = Checks(try Shared.opencl()); try c.memoryOps() }
}

/// The CPU backend splits a GEMM's output across its threads: any split gives the float64 result
/// (checked in OpsTests) and every element of C is written exactly once.
final class GemmSplitTests: XCTestCase {
    func testSplitGemmMatchesOneThreadOnEveryShapeAndTransposition() throws {
        let one = CPUBackend(threads: 1), two = CPUBackend(threads: 2)
        for (m, n, k) in [(300, 70, 130), (50, 333, 90), (1900, 64, 64), (64, 192, 1900)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = (0..<(m * k)).map { _ in Float(Int.random(in: -8...8)) }
                let b = (0..<(k * n)).map { _ in Float(Int.random(in: -8...8)) }
                var results: [[Float]] = []
                for be in [one, two] {
                    let c = try be.makeBuffer(count: m * n, dtype: .float32)
                    try be.fill(c, value: .nan, offset: 0, count: m * n)
                    try be.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: try be.makeBuffer(a), b: try be.makeBuffer(b), c: c)
                    results.append(try be.download(c))
                }
                // Integer inputs: every product and partial sum is exact, so both must equal exactly.
                XCTAssertFalse(results[1].contains { $0.isNaN }, "\(m)x\(n)x\(k) \(ta) \(tb): unwritten elements")
                XCTAssertEqual(results[0], results[1], "\(m)x\(n)x\(k) transA \(ta) transB \(tb)")
            }
        }
    }
}

/// The thread pool behind the CPU backend's loops: every chunk of every job runs exactly once,
/// jobs back to back (a late worker must not take a chunk of the next job), and a loop started
/// inside a chunk runs inline.
final class ThreadPoolTests: XCTestCase {
    func testEveryChunkRunsExactlyOnceOverManyJobs() {
        _ = CPUBackend(threads: 2)  // makes the pool's worker
        var counts = [Int](repeating: 0, count: 64)
        var expected = [Int](repeating: 0, count: 64)
        for _ in 0..<20_000 {
            let chunks = Int.random(in: 2...64)
            for c in 0..<chunks { expected[c] += 1 }
            counts.withUnsafeMutableBufferPointer { p in
                let base = p.baseAddress!
                CPUBackend.onPool(chunks) { c in base[c] += 1 }  // each chunk owns its slot
            }
        }
        XCTAssertEqual(counts, expected)
    }

    func testLoopInsideAChunkRunsInline() {
        _ = CPUBackend(threads: 2)
        var inner = [Int](repeating: 0, count: 8)
        inner.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            CPUBackend.onPool(2) { c in
                CPUBackend.onPool(4) { d in base[c * 4 + d] += 1 }
            }
        }
        XCTAssertEqual(inner, [Int](repeating: 1, count: 8))
    }
}
