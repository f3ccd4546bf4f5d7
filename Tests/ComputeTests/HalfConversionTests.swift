import CKernels
import XCTest

/// The CPU backend's fp16 conversions (the C kernels in half.c) against Swift's Float16: every one
/// of the 65,536 fp16 bit patterns widens to the same Float; random floats of every magnitude
/// (normal, subnormal, overflowing, exact ties) round to the same bits; accumulation is one
/// rounding of the fp32 sum. Ranges start and end off the 16-lane grid so the tails run too.
final class HalfConversionTests: XCTestCase {
    func testEveryHalfWidensExactly() {
        let bits = (0...UInt16.max).map { $0 }
        var got = [Float](repeating: 0, count: bits.count + 3)
        // Two calls split off the lane grid: [0, 7) and [7, 65536).
        ck_from_half(bits, &got, 0, 7)
        ck_from_half(bits, &got, 7, bits.count)
        for b in bits {
            let want = Float(Float16(bitPattern: b))
            if want.isNaN { XCTAssertTrue(got[Int(b)].isNaN, "bits \(b)"); continue }
            XCTAssertEqual(got[Int(b)].bitPattern, want.bitPattern, "bits \(String(b, radix: 16))")
        }
    }

    func testRoundingMatchesFloat16() {
        var rng = SystemRandomNumberGenerator()
        var values: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 65536, 1e10, .infinity, -.infinity,
                               6.1035156e-05, 6.1035152e-05, 5.9604645e-08, 2.9802322e-08, 2.9802326e-08, 1e-10,
                               .leastNonzeroMagnitude, .greatestFiniteMagnitude, .nan]
        // Exact ties between two fp16 neighbours, in the normal and the subnormal range.
        for bits in stride(from: UInt16(0), to: 0x7BFF, by: 97) {
            let a = Float(Float16(bitPattern: bits)), b = Float(Float16(bitPattern: bits + 1))
            values += [(a + b) / 2, -(a + b) / 2]
        }
        for _ in 0..<200_000 {
            values.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)))
        }
        var got = [UInt16](repeating: 0xFFFF, count: values.count)
        let cut = Int.random(in: 1..<40, using: &rng)
        ck_to_half(values, &got, 0, cut)
        ck_to_half(values, &got, cut, values.count)
        var mismatches = 0
        for (v, h) in zip(values, got) {
            if v.isNaN { XCTAssertEqual(h & 0x7FFF, 0x7E00, "NaN \(v.bitPattern)"); continue }
            if h != Float16(v).bitPattern {
                mismatches += 1
                if mismatches < 5 { XCTFail("\(v): got \(String(h, radix: 16)), Float16 \(String(Float16(v).bitPattern, radix: 16))") }
            }
        }
        XCTAssertEqual(mismatches, 0)
    }

    func testAccumulateIsOneRoundingOfTheSum() {
        var rng = SystemRandomNumberGenerator()
        let n = Int.random(in: 1000...5000, using: &rng)
        let start = (0..<n).map { _ in Float16(Float.random(in: -100...100, using: &rng)).bitPattern }
        let add = (0..<n).map { i in Float.random(in: -1...1, using: &rng) * (i % 7 == 0 ? 6e4 : 1) }
        var dst = start
        let cut = Int.random(in: 1..<n, using: &rng)
        ck_accumulate_half(add, &dst, 0, cut)
        ck_accumulate_half(add, &dst, cut, n)
        for i in 0..<n {
            let want = Float16(Float(Float16(bitPattern: start[i])) + add[i]).bitPattern
            XCTAssertEqual(dst[i], want, "element \(i)")
        }
    }
}
