// fp32 <-> fp16 bit conversions for the CPU backend, round to nearest even, bit-identical to
// Swift's Float16 (the tests compare them over random, edge and special values). Swift lowers
// Float16(Float) to a library call on x86-64 without F16C, which made --amp's conversions a third
// of a CPU step (Docs/PROFILING.md); these are branch-light integer code the optimiser inlines.
// After F. Giesen's public-domain "float_to_half_fast3_rtne" and "half_to_float".

/// fp16 bits of `value`, round to nearest even; NaN becomes the quiet NaN 0x7e00.
@inline(__always)
func halfBits(_ value: Float) -> UInt16 {
    var x = value.bitPattern
    let sign = x & 0x8000_0000
    x ^= sign
    var out: UInt32
    if x >= 0x4780_0000 {
        // |value| >= 65536 (after rounding, anything from 65520 up overflows via the carry below).
        out = x > 0x7F80_0000 ? 0x7E00 : 0x7C00
    } else if x < 0x3880_0000 {
        // Below fp16's smallest normal (2^-14): align the 10 mantissa bits at the bottom of a
        // float with a magic addend; the FPU's own round-to-nearest-even does the rounding.
        let magic: UInt32 = ((127 - 15) + (23 - 10) + 1) << 23
        out = (Float(bitPattern: x) + Float(bitPattern: magic)).bitPattern &- magic
    } else {
        let mantissaOdd = (x >> 13) & 1
        x = x &+ (UInt32(bitPattern: Int32(15 - 127) << 23)) &+ 0xFFF &+ mantissaOdd
        out = x >> 13
    }
    return UInt16(truncatingIfNeeded: out | (sign >> 16))
}

/// The Float of fp16 bits (exact: every fp16 value is a Float).
@inline(__always)
func floatFromHalfBits(_ bits: UInt16) -> Float {
    let h = UInt32(bits)
    let shiftedExponent: UInt32 = 0x7C00 << 13
    var u = (h & 0x7FFF) << 13
    let exponent = u & shiftedExponent
    u = u &+ ((127 - 15) << 23)
    if exponent == shiftedExponent {
        u = u &+ ((128 - 16) << 23)            // Inf / NaN
    } else if exponent == 0 {
        u = u &+ (1 << 23)                     // zero / subnormal: renormalise
        u = (Float(bitPattern: u) - Float(bitPattern: 113 << 23)).bitPattern
    }
    return Float(bitPattern: u | ((h & 0x8000) << 16))
}
