import Foundation
import XCTest
@testable import Compute

/// SplitMix64: small, fast and reproducible from the printed seed.
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Backends and the seed shared by every test in the process: PoCL compiles kernels slowly, so
/// each program is built once and reused.
enum Shared {
    /// Fresh every run; set COMPUTE_TEST_SEED to replay a failure.
    static let seed: UInt64 = {
        if let s = ProcessInfo.processInfo.environment["COMPUTE_TEST_SEED"], let v = UInt64(s) { return v }
        return UInt64.random(in: 1...UInt64.max)
    }()

    static let cpu = CPUBackend(threads: 2)

    static let inventory = OpenCLRuntime.inventory()

    static let openclResult: Result<OpenCLBackend, Error>? = {
        guard !inventory.devices.isEmpty else { return nil }
        return Result { try OpenCLBackend() }
    }()

    /// The shared OpenCL backend, or XCTSkip when this machine has no OpenCL platform.
    static func opencl() throws -> OpenCLBackend {
        guard let r = openclResult else {
            throw XCTSkip("no OpenCL platform: \(inventory.problem ?? "no devices")")
        }
        return try r.get()
    }

    /// A generator for one test, derived from the run seed and the test name.
    static func rng(_ name: String) -> TestRNG {
        TestRNG(seed: seed ^ fnv1a64(Array(name.utf8)))
    }
}

/// Fails on the first element outside atol + rtol * |want| (NaN, i.e. an unwritten poisoned
/// element, always fails) and names the seed.
func assertClose(_ got: [Float], _ want: [Double], atol: Double, rtol: Double, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    guard got.count == want.count else {
        XCTFail("\(what): \(got.count) values, expected \(want.count) (seed \(Shared.seed))", file: file, line: line)
        return
    }
    for i in 0..<got.count {
        let g = Double(got[i]), w = want[i]
        if g == w { continue } // covers matching infinities
        if !(abs(g - w) <= atol + rtol * abs(w)) {
            XCTFail("\(what)[\(i)] = \(g), expected \(w) (seed \(Shared.seed); replay with COMPUTE_TEST_SEED=\(Shared.seed))",
                    file: file, line: line)
            return
        }
    }
}

func assertExact(_ got: [Float], _ want: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    assertClose(got, want, atol: 0, rtol: 0, what, file: file, line: line)
}
