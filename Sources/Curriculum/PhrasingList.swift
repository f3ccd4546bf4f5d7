/// The text of `learner lessons --phrasings`: every phrasing per concept with its kind (train,
/// held out, fixed) and its worked solution, then the counts.
public enum PhrasingList {
    public static func text(concepts: [Concept]) -> String {
        var lines: [String] = []
        var totals: [Phrasing.Kind: Int] = [:]
        for c in concepts {
            let records = Templates.records(c)
            let counts = Dictionary(grouping: records, by: \.kind).mapValues(\.count)
            lines.append("\(c.rawValue): \(counts[.train] ?? 0) train, \(counts[.heldout] ?? 0) held out, \(counts[.fixed] ?? 0) fixed")
            for r in records {
                totals[r.kind, default: 0] += 1
                lines.append("  \(r.kind.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(r.text)    \(describe(r.program))")
            }
        }
        lines.append("total: \(totals[.train] ?? 0) train, \(totals[.heldout] ?? 0) held out, \(totals[.fixed] ?? 0) fixed "
                     + "(each also with optional openers \(Grammar.openers.count) and tails)")
        return lines.joined(separator: "\n")
    }

    /// "equal(add_2({a}), {b})" or "successor({n})".
    public static func describe(_ p: ProgramSketch) -> String {
        let opNames = ["identity", "successor", "predecessor", "add_2", "subtract_2", "between", "ones_digit", "tens_digit",
                       "hundreds_digit", "add", "subtract", "next_term", "place_value", "total"]
        let relNames = ["equal", "greater", "smaller", "same_parity", "same_tens", "same_ones", "makes_ten", "even", "odd"]
        let operands = p.c.map { "{\(p.a)}, {\($0)}" } ?? "{\(p.a)}"
        let a = p.op == .identity ? "{\(p.a)}" : "\(opNames[p.op.rawValue])(\(operands))"
        guard let r = p.relation else { return a }
        guard let b = p.b else { return "\(relNames[r.rawValue])(\(a))" }
        return "\(relNames[r.rawValue])(\(a), {\(b)})"
    }
}
