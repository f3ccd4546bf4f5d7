import XCTest
@testable import Compute

/// The CPU backend's own fp16 conversions against Swift's Float16: every one of the 65,536 fp16
/// bit patterns widens to the same Float, and random floats of every magnitude (normal, subnormal,
/// overflowing, exact ties) round to the same bits.
final class HalfConversionTests: XCTestCase {
    func testEveryHalfWidensExactly() {
        for bits in 0...UInt16.max {
            let want = Float(Float16(bitPattern: bits)), got = floatFromHalfBits(bits)
            if want.isNaN { XCTAssertTrue(got.isNaN, "bits \(bits)"); continue }
            XCTAssertEqual(got.bitPattern, want.bitPattern, "bits \(String(bits, radix: 16))")
        }
    }

    func testRoundingMatchesFloat16() {
        var rng = SystemRandomNumberGenerator()
        var values: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 65536, 1e10, .infinity, -.infinity,
                               6.1035156e-05, 6.1035152e-05, 5.9604645e-08, 2.9802322e-08, 2.9802326e-08, 1e-10,
                               .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        // Exact ties between two fp16 neighbours, in the normal and the subnormal range.
        for bits in stride(from: UInt16(0), to: 0x7BFF, by: 97) {
            let a = Float(Float16(bitPattern: bits)), b = Float(Float16(bitPattern: bits + 1))
            values += [(a + b) / 2, -(a + b) / 2]
        }
        for _ in 0..<200_000 {
            values.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)))
        }
        var mismatches = 0
        for v in values where !v.isNaN {
            if halfBits(v) != Float16(v).bitPattern {
                mismatches += 1
                if mismatches < 5 { XCTFail("\(v): got \(String(halfBits(v), radix: 16)), Float16 \(String(Float16(v).bitPattern, radix: 16))") }
            }
        }
        XCTAssertEqual(mismatches, 0)
        XCTAssertEqual(halfBits(.nan) & 0x7E00, 0x7E00)
    }
}
