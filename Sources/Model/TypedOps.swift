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

    /// self + sign * other place by place with carry (sign 1) or borrow (sign -1); nil when the
    /// result leaves [0, 10^places).
    public func combining(_ other: Digits, sign: Int) -> Digits? {
        var d = digits, carry = 0
        for p in 0..<d.count {
            let s = digits[p] + sign * (p < other.digits.count ? other.digits[p] : 0) + carry
            d[p] = (s + 10) % 10
            carry = s >= 10 ? 1 : s < 0 ? -1 : 0
        }
        return carry == 0 ? Digits(digits: d) : nil
    }

    /// The column method for a + c or a - c, one line per place, ones first: "ones: 7 + 8 = 15,
    /// write 5, carry 1"; a last line with the result (or why there is none).
    public static func workedColumns(_ a: Int, _ c: Int, op: StepOp) -> [String] {
        guard op == .add || op == .subtract, a >= 0, c >= 0 else { return [] }
        let names = ["ones", "tens", "hundreds", "thousands", "ten thousands"]
        let add = op == .add
        var lines: [String] = [], x = a, y = c, carry = 0, place = 0, result = 0, scale = 1
        while x > 0 || y > 0 || carry > 0 {
            let dx = x % 10, dy = y % 10
            let s = add ? dx + dy + carry : dx - dy - carry
            let name = place < names.count ? names[place] : "place \(place + 1)"
            let shown = carry == 0 ? "\(dx) \(add ? "+" : "-") \(dy)" : "\(dx) \(add ? "+" : "-") \(dy) \(add ? "+" : "-") \(carry)"
            if add {
                let digit = s % 10
                lines.append("\(name): \(shown) = \(s), write \(digit)" + (s >= 10 ? ", carry 1" : ""))
                result += digit * scale; carry = s >= 10 ? 1 : 0
            } else if s < 0 {
                if x < 10 && y < 10 && x < y + carry {
                    lines.append("\(name): \(shown) is below zero and there is nothing to borrow from: no whole-number answer")
                    return lines
                }
                let next = place + 1 < names.count ? names[place + 1] : "next place"
                let borrowed = carry == 0 ? "\(dx + 10) - \(dy)" : "\(dx + 10) - \(dy) - \(carry)"
                lines.append("\(name): \(shown) < 0, borrow 1 from the \(next): \(borrowed) = \(s + 10), write \(s + 10)")
                result += (s + 10) * scale; carry = 1
            } else {
                lines.append("\(name): \(shown) = \(s), write \(s)")
                result += s * scale; carry = 0
            }
            x /= 10; y /= 10; place += 1; scale *= 10
        }
        lines.append("= \(result)")
        return lines
    }

    /// -1, 0, 1 comparing from the highest place down.
    public func compare(_ other: Digits) -> Int {
        for p in stride(from: digits.count - 1, through: 0, by: -1) where digits[p] != other.digits[p] {
            return digits[p] < other.digits[p] ? -1 : 1
        }
        return 0
    }
}

/// Step 1 of a program: a NUM op on the first operand (and, for add and subtract, a second one).
public enum StepOp: Int, CaseIterable, Sendable {
    case identity, successor, predecessor, add2, subtract2, between, onesDigit, tensDigit, hundredsDigit
    case add, subtract, nextTerm, placeValue, total

    /// Whether the op reads a second operand (pointer C).
    public var isBinary: Bool { rawValue >= StepOp.add.rawValue }

    public var name: String {
        switch self {
        case .identity: return "id"
        case .successor: return "successor"
        case .predecessor: return "predecessor"
        case .add2: return "add_2"
        case .subtract2: return "subtract_2"
        case .between: return "between"
        case .onesDigit: return "ones_digit"
        case .tensDigit: return "tens_digit"
        case .hundredsDigit: return "hundreds_digit"
        case .add: return "add"
        case .subtract: return "subtract"
        case .nextTerm: return "next_term"
        case .placeValue: return "place_value"
        case .total: return "total"
        }
    }

    /// The op on `x`; `others` are the question's other numbers (only `between` reads them);
    /// `second` is operand C of a binary op; `through` are the numbers after x up to and including
    /// C, in the question's order (only `total` reads them).
    public func apply(_ x: Digits, others: [Digits] = [], second: Digits? = nil, through: [Digits] = []) -> Digits? {
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
        case .onesDigit, .tensDigit, .hundredsDigit:
            let place = rawValue - StepOp.onesDigit.rawValue
            var d = [Int](repeating: 0, count: x.digits.count)
            d[0] = place < x.digits.count ? x.digits[place] : 0
            return Digits(digits: d)
        case .add, .subtract:
            guard let c = second else { return nil }
            return x.combining(c, sign: self == .add ? 1 : -1)
        case .nextTerm:
            guard let c = second else { return nil }
            return x.combining(x, sign: 1)?.combining(c, sign: -1)
        case .placeValue:
            guard let c = second, (1...9).contains(c.value), let p = x.digits.indices.last(where: { x.digits[$0] == c.value }) else { return nil }
            return Digits(digits: x.digits.indices.map { $0 == p ? c.value : 0 })
        case .total:
            guard !through.isEmpty else { return nil }
            return through.reduce(Optional(x)) { sum, next in sum?.combining(next, sign: 1) }
        }
    }
}

/// Step 2 of a program: (NUM, NUM) -> BOOL.
public enum Relation: Int, CaseIterable, Sendable {
    case equal, greater, smaller, sameParity, sameTens, sameOnes, makesTen, even, odd

    /// Whether the relation reads its second number (even and odd read the first alone).
    public var readsB: Bool { self != .even && self != .odd }

    public var name: String {
        switch self {
        case .equal: return "equal"
        case .greater: return "greater"
        case .smaller: return "smaller"
        case .sameParity: return "same_parity"
        case .sameTens: return "same_tens"
        case .sameOnes: return "same_ones"
        case .makesTen: return "makes_ten"
        case .even: return "even"
        case .odd: return "odd"
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
        case .even: return a.digits[0] % 2 == 0
        case .odd: return a.digits[0] % 2 == 1
        }
    }
}
