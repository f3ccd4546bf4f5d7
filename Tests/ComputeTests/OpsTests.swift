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
