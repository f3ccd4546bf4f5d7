import Curriculum
import Foundation

/// A seeded mutation fuzzer for the readers of untrusted input: question files, the tokenizer and
/// checkpoint headers. Each input is a seed from a small corpus of valid inputs with 1–4 random
/// byte-level mutations (bit flips, interesting bytes, inserted dictionary tokens, deleted or
/// duplicated ranges, truncation). A reader may throw; it must not crash, hang or grow memory.
///
/// Why our own and not libFuzzer: `-sanitize=fuzzer` needs a toolchain built with it and a
/// separate target, and a seeded mutator reproduces any failure from its seed and index on
/// every machine, in the test suite and in `learner fuzz` (Tools/fuzz.sh) alike.
public struct Fuzzer {
    public enum Target: String, CaseIterable, Sendable {
        case questions, tokenizer, checkpoint
    }

    public struct Result: Sendable {
        public var target: Target
        public var inputs = 0
        /// Inputs the reader rejected with an error (the rest were read).
        public var rejected = 0
        /// The slowest single input, in seconds (a hang shows here).
        public var slowest = 0.0
        public var seconds = 0.0
    }

    public let target: Target
    var rng: SplitMix64
    let corpus: [[UInt8]]
    let dictionary: [[UInt8]]
    let tokenizer = Tokenizer.build()

    public init(target: Target, seed: UInt64) {
        self.target = target
        rng = SplitMix64(seed: seed)
        var corpusRNG = SplitMix64(seed: 0xF022)
        let generator = LessonGenerator(config: LessonConfig(seed: 1))
        let questions = generator.generate(split: .train, count: 16, rng: &corpusRNG)
        let common = ["\"", "{", "}", "[", "]", ",", ":", "\\", "\\u0000", "\\ud800", "null", "true", "-1", "0", "1e309",
                      "18446744073709551615", "9223372036854775807", "-9223372036854775808", "é", "𝟘", "٣", "\u{0301}", "\n", "\r\n", "\t"]
        switch target {
        case .questions:
            corpus = [Array(QuestionFile.text(questions).utf8), Array(QuestionFile.jsonLine(questions[0]).utf8)]
            dictionary = (common + ["\"question\"", "\"answer\"", "\"concept\"", "\"operands\"", "\"split\"", "\"template\"",
                                    "\"yes\"", "\"no\"", "\"greater\"", "\"count_between\"", "\"heldout\"", "[1, 2]", "1.5"]).map { Array($0.utf8) }
        case .tokenizer:
            corpus = questions.map { Array($0.text.utf8) } + [Array("Is 12345678901234567890 greater than 2?".utf8)]
            dictionary = (common + ["0", "99999", " ", "?", "-", ".", "greater", "than", "parity"]).map { Array($0.utf8) }
        case .checkpoint:
            var file = SafeTensorsFile()
            file.tensors["a.weight"] = ([2, 3], (0..<6).map { Float($0) })
            file.tensors["b"] = ([4], [1, 2, 3, 4])
            file.metadata["config"] = "{\"d_model\": 4}"
            corpus = [Array((try? file.encoded()) ?? Data())]
            dictionary = (common + ["\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"F32\"", "\"F16\"", "\"__metadata__\"",
                                    "\"checksum\"", "[0, 24]", "[-1]", "[4294967296, 4294967296]", "[3037000500, 3037000500]"]).map { Array($0.utf8) }
        }
    }

    /// The next input: a corpus entry with 1-4 mutations.
    public mutating func nextInput() -> [UInt8] {
        if target == .checkpoint, rng.int(below: 10) > 0 { return nextCheckpoint() }
        var bytes = rng.pick(corpus)
        for _ in 0..<rng.int(in: 1...4) { mutate(&bytes) }
        return bytes
    }

    /// A checkpoint whose JSON header (or, rarely, body) is mutated and whose length prefix is
    /// then made to match, so the mutations reach the header's parser and its checks of sizes,
    /// offsets, dtypes and shapes rather than stopping at the length.
    mutating func nextCheckpoint() -> [UInt8] {
        let file = corpus[0]
        let n = (0..<8).reduce(0) { $0 | Int(file[$1]) << (8 * $1) }
        var header = Array(file[8..<(8 + n)]), body = Array(file[(8 + n)...])
        if rng.coin() { header = lyingHeader(header) }
        for _ in 0..<rng.int(in: 0...3) {
            if rng.int(below: 10) == 0 { mutate(&body) } else { mutate(&header) }
        }
        let length = UInt64(header.count)
        return (0..<8).map { UInt8((length >> (8 * UInt64($0))) & 0xFF) } + header + body
    }

    /// The header with valid JSON whose sizes, offsets, dtypes or shapes lie: a field of one
    /// tensor entry replaced by an edge value.
    mutating func lyingHeader(_ header: [UInt8]) -> [UInt8] {
        guard var obj = (try? JSONSerialization.jsonObject(with: Data(header))) as? [String: Any] else { return header }
        let names = obj.keys.filter { $0 != "__metadata__" }.sorted()
        guard !names.isEmpty, var entry = obj[rng.pick(names)] as? [String: Any] else { return header }
        let edges: [Int] = [-1, 0, 1, 3, 24, 1 << 31, 1 << 32, 3_037_000_500, Int.max / 2, Int.max, Int.min]
        switch rng.int(in: 0...3) {
        case 0: entry["shape"] = (0..<rng.int(in: 0...4)).map { _ in rng.coin() ? rng.pick(edges) : rng.int(in: 0...6) }
        case 1: entry["data_offsets"] = (0..<rng.int(in: 1...3)).map { _ in rng.coin() ? rng.pick(edges) : rng.int(in: 0...40) }
        case 2: entry["dtype"] = rng.pick(["F16", "BF16", "I64", "", "F32 "])
        default: entry[rng.pick(["shape", "data_offsets", "dtype"])] = rng.pick([NSNull(), "x", 3, [String]()] as [Any])
        }
        let name = rng.pick(names)
        obj[name] = entry
        return (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])).map(Array.init) ?? header
    }

    mutating func mutate(_ b: inout [UInt8]) {
        let n = b.count
        switch rng.int(in: 0...6) {
        case 0 where n > 0: b[rng.int(below: n)] ^= UInt8(1 << rng.int(in: 0...7))
        case 1 where n > 0: b[rng.int(below: n)] = rng.pick([0, 0xFF, 0x7F, 0x80, 0xC0, 0xE0, 0x22, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x2D, 0x39, 0x0A, 0x5C])
        case 2: b.insert(contentsOf: rng.pick(dictionary), at: rng.int(in: 0...n))
        case 3: b.insert(contentsOf: (0..<rng.int(in: 1...8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: rng.int(in: 0...n))
        case 4 where n > 1:
            let lo = rng.int(below: n), hi = min(n, lo + rng.int(in: 1...16))
            b.removeSubrange(lo..<hi)
        case 5 where n > 1:
            let lo = rng.int(below: n), hi = min(n, lo + rng.int(in: 1...64))
            b.insert(contentsOf: b[lo..<hi], at: rng.int(in: 0...n))
        case 6 where n > 0: b.removeLast(rng.int(in: 1...min(n, 32)))
        default: b.append(UInt8(truncatingIfNeeded: rng.next()))
        }
    }

    /// Runs one input through the reader; returns whether it was rejected with an error.
    public func run(_ bytes: [UInt8]) -> Bool {
        let data = Data(bytes)
        switch target {
        case .questions:
            do {
                let lines = try QuestionFile.parseNumbered(data: data, name: "fuzz.jsonl")
                _ = QuestionFile.checkAnswers(lines, file: "fuzz.jsonl")
                for (_, q) in lines { _ = QuestionFile.jsonLine(q) }
                return false
            } catch { return true }
        case .tokenizer:
            let text = String(decoding: bytes, as: UTF8.self)
            let e = tokenizer.encode(text, maxLength: 48)
            _ = tokenizer.decode(e)
            _ = tokenizer.tokenCount(text)
            return (try? tokenizer.encodeChecked(text, maxLength: 48)) == nil
        case .checkpoint:
            do { _ = try SafeTensorsFile.decode(data, name: "fuzz.safetensors"); return false } catch { return true }
        }
    }

    /// `count` inputs; `each` sees every input's index and bytes before it runs (to record the
    /// one in flight should the process die).
    public mutating func campaign(count: Int, each: ((Int, [UInt8]) -> Void)? = nil) -> Result {
        var result = Result(target: target)
        let start = DispatchTime.now().uptimeNanoseconds
        for i in 0..<count {
            let input = nextInput()
            each?(i, input)
            let t0 = DispatchTime.now().uptimeNanoseconds
            if run(input) { result.rejected += 1 }
            result.slowest = max(result.slowest, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            result.inputs += 1
        }
        result.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return result
    }
}
