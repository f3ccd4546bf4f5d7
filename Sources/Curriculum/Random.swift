/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast generator whose whole state is one `UInt64`,
/// so a checkpoint can store it and a resumed run continues with exactly the same stream.
///
/// Every draw the curriculum makes goes through the helpers below (not the standard library's
/// `random(in:using:)`, whose algorithm may change between toolchains), so generated lessons are
/// bit-identical for a seed on every platform and Swift version.
public struct SplitMix64: RandomNumberGenerator, Codable, Sendable, Equatable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<n` (`n > 0`), by multiply-high (bias below 2^-50 for small n).
    @inline(__always)
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0, "int(below:) needs a positive bound")
        return Int(next().multipliedFullWidth(by: UInt64(n)).high)
    }

    /// A uniform integer in `range`.
    @inline(__always)
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + int(below: range.upperBound - range.lowerBound + 1)
    }

    /// A uniform double in `[0, 1)`.
    @inline(__always)
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// `true` with probability `p`.
    @inline(__always)
    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// `true` or `false` with equal probability.
    @inline(__always)
    public mutating func coin() -> Bool { next() & 1 == 1 }

    /// A uniformly chosen element (the array must not be empty).
    @inline(__always)
    public mutating func pick<T>(_ items: [T]) -> T { items[int(below: items.count)] }

    /// Fisher–Yates shuffle, deterministic for the generator's state.
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            let j = int(below: i + 1)
            if i != j { items.swapAt(i, j) }
        }
    }

    /// A child generator for an independent stream (e.g. one per split), derived from this seed
    /// and a salt without advancing `self`.
    public func derived(_ salt: UInt64) -> SplitMix64 {
        var mixer = SplitMix64(seed: state ^ (salt &* 0xD1B5_4A32_D192_ED03))
        return SplitMix64(seed: mixer.next())
    }
}
