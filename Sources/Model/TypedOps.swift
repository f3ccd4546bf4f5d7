/// Exact ops over typed values. A NUM is a number held as decimal digits (ones first), never as a
/// memorised integer, so every op carries to numbers the model never saw.
public struct Digits: Equatable, Sendable, CustomStringConvertible {
    /// digits[0] is ones, digits[1] tens, ... ; always `places` long.
    public var digits: [Int]

    public init(digits: [Int]) { self.digits = digits }

    public init?(_ value: Int, places: Int) {
        guard value >= 0 else { return nil }
        var v = value
        var d = [Int](repeating: 0, count: places)
        for p in 0..<places { d[p] = v % 10; v /= 10 }
        guard v == 0 else { return nil }
        digits = d
    }

    public var value: Int { digits.reversed().reduce(0) { $0 * 10 + $1 } }
    public var description: String { String(value) }

    /// Adds a small signed k digit by digit with carry/borrow; nil when it leaves [0, 10^places).
    public func adding(_ k: Int) -> Digits? {
        var d = digits
        var carry = k
        for p in 0..<d.count where carry != 0 {
            let s = d[p] + carry
            d[p] = ((s % 10) + 10) % 10
            carry = s >= 0 ? s / 10 : (s - 9) / 10
        }
        return carry == 0 ? Digits(digits: d) : nil
    }

    /// -1, 0, 1 comparing from the highest place down.
    public func compare(_ other: Digits) -> Int {
        for p in stride(from: digits.count - 1, through: 0, by: -1) where digits[p] != other.digits[p] {
            return digits[p] < other.digits[p] ? -1 : 1
        }
        return 0
    }
}

/// Step 1 of a program: a NUM -> NUM op applied to the first operand.
public enum UnaryOp: Int, CaseIterable, Sendable {
    case identity, successor, predecessor, add2, subtract2, between

    public var name: String {
        switch self {
        case .identity: return "id"
        case .successor: return "successor"
        case .predecessor: return "predecessor"
        case .add2: return "add_2"
        case .subtract2: return "subtract_2"
        case .between: return "between"
        }
    }

    /// The op on `x`; `others` are the question's other numbers (only `between` reads them).
    public func apply(_ x: Digits, others: [Digits] = []) -> Digits? {
        switch self {
        case .identity: return x
        case .successor: return x.adding(1)
        case .predecessor: return x.adding(-1)
        case .add2: return x.adding(2)
        case .subtract2: return x.adding(-2)
        case .between:
            if let up = x.adding(2), others.contains(where: { $0.compare(up) == 0 }) { return x.adding(1) }
            if let down = x.adding(-2), others.contains(where: { $0.compare(down) == 0 }) { return x.adding(-1) }
            return nil
        }
    }
}

/// Step 2 of a program: (NUM, NUM) -> BOOL.
public enum Relation: Int, CaseIterable, Sendable {
    case equal, greater, smaller, sameParity, sameTens, sameOnes, makesTen

    public var name: String {
        switch self {
        case .equal: return "equal"
        case .greater: return "greater"
        case .smaller: return "smaller"
        case .sameParity: return "same_parity"
        case .sameTens: return "same_tens"
        case .sameOnes: return "same_ones"
        case .makesTen: return "makes_ten"
        }
    }

    public func holds(_ a: Digits, _ b: Digits) -> Bool {
        switch self {
        case .equal: return a.compare(b) == 0
        case .greater: return a.compare(b) > 0
        case .smaller: return a.compare(b) < 0
        case .sameParity: return a.digits[0] % 2 == b.digits[0] % 2
        case .sameTens: return a.digits.count > 1 && a.digits[1] == b.digits[1]
        case .sameOnes: return a.digits[0] == b.digits[0]
        case .makesTen: return a.digits[0] + b.digits[0] == 10
        }
    }
}
