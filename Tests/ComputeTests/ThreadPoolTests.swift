import Foundation
import XCTest
@testable import Compute

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

extension ThreadPoolTests {
    /// Two threads running parallel loops at once: each loop still runs every chunk exactly once
    /// (the second caller runs inline while the first holds the pool).
    func testLoopsFromTwoThreadsAtOnce() {
        _ = CPUBackend(threads: 2)
        let runs = 5_000
        var a = [Int](repeating: 0, count: 8), b = [Int](repeating: 0, count: 8)
        a.withUnsafeMutableBufferPointer { pa in
            b.withUnsafeMutableBufferPointer { pb in
                let ba = pa.baseAddress!, bb = pb.baseAddress!
                DispatchQueue.concurrentPerform(iterations: 2) { t in
                    for _ in 0..<runs { CPUBackend.onPool(8) { c in (t == 0 ? ba : bb)[c] += 1 } }
                }
            }
        }
        XCTAssertEqual(a, [Int](repeating: runs, count: 8))
        XCTAssertEqual(b, [Int](repeating: runs, count: 8))
    }
}
