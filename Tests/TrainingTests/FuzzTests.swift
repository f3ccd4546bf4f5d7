import Foundation
import XCTest
@testable import Training

/// A short seeded fuzz run of every reader of untrusted input (Tools/fuzz.sh runs 10^6 per
/// reader), and the checkpoint headers that crashed the reader before it checked its sizes.
final class FuzzTests: XCTestCase {
    func testReadersSurviveSeededMutations() {
        let seed = UInt64.random(in: 1...UInt64.max)
        print("FuzzTests seed \(seed) (replay: learner fuzz --seed \(seed) --inputs 3000)")
        for target in Fuzzer.Target.allCases {
            var fuzzer = Fuzzer(target: target, seed: seed)
            let r = fuzzer.campaign(count: 3000)
            XCTAssertEqual(r.inputs, 3000)
            XCTAssertLessThan(r.slowest, 1.0, "\(target): one input took \(r.slowest) s (seed \(seed))")
            // Some inputs must get through, or the fuzzer only exercises the first check.
            XCTAssertLessThan(r.rejected, r.inputs, "\(target): every input was rejected (seed \(seed))")
        }
    }

    /// Shapes and offsets that lie: negative, overflowing, reversed. Each is a one-line error.
    func testLyingCheckpointHeadersAreErrors() throws {
        func file(shape: String, offsets: String) -> Data {
            let header = Array("{\"t\":{\"data_offsets\":\(offsets),\"dtype\":\"F32\",\"shape\":\(shape)}}".utf8)
            let n = UInt64(header.count)
            return Data((0..<8).map { UInt8((n >> (8 * UInt64($0))) & 0xFF) } + header + [UInt8](repeating: 0, count: 16))
        }
        for (shape, offsets) in [("[-1]", "[4, 0]"), ("[3037000500, 3037000500]", "[0, 16]"), ("[4611686018427387904, 4]", "[0, 0]"),
                                 ("[2]", "[8, 0]"), ("[100]", "[0, 400]")] {
            XCTAssertThrowsError(try SafeTensorsFile.decode(file(shape: shape, offsets: offsets), name: "x.safetensors")) { error in
                XCTAssertTrue("\(error)".hasPrefix("x.safetensors is not a valid checkpoint"), "\(error)")
            }
        }
        XCTAssertEqual(try SafeTensorsFile.decode(file(shape: "[2, 2]", offsets: "[0, 16]"), name: "x").tensors["t"]?.values.count, 4)
    }
}
