import Foundation

/// The word list of the model: special tokens, the ten digits, then words in sorted order.
///
/// Ids: `[PAD]` = 0, `[UNK]` = 1, `[CLS]` = 2, digits "0"…"9" = 3…12, then the words.
/// Serialised (Codable) as `{"words": [...]}` in checkpoints; the id of a word is its index.
public struct Vocabulary: Codable, Sendable, Equatable {
    public static let pad = "[PAD]"
    public static let unk = "[UNK]"
    public static let cls = "[CLS]"
    public static let specials = [pad, unk, cls]
    public static let digits = (0...9).map(String.init)

    public static let padID: Int32 = 0
    public static let unkID: Int32 = 1
    public static let clsID: Int32 = 2
    public static let firstDigitID: Int32 = 3

    public let words: [String]
    private let index: [String: Int32]

    /// A vocabulary of the specials, the digits and `words` (deduplicated, sorted; specials, digits
    /// and empty strings in `words` are ignored).
    public init<S: Sequence>(words: S) where S.Element == String {
        let fixed = Vocabulary.specials + Vocabulary.digits
        let extra = Set(words).subtracting(fixed).filter { !$0.isEmpty }.sorted()
        self.init(uncheckedWords: fixed + extra)
    }

    private init(uncheckedWords: [String]) {
        words = uncheckedWords
        var index: [String: Int32] = [:]
        for (i, w) in uncheckedWords.enumerated() { index[w] = Int32(i) }
        self.index = index
    }

    enum CodingKeys: String, CodingKey { case words }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let words = try c.decode([String].self, forKey: .words)
        let fixed = Vocabulary.specials + Vocabulary.digits
        guard words.count >= fixed.count, Array(words.prefix(fixed.count)) == fixed else {
            throw DecodingError.dataCorruptedError(forKey: .words, in: c,
                debugDescription: "vocabulary must start with \(fixed.joined(separator: " "))")
        }
        guard Set(words).count == words.count else {
            throw DecodingError.dataCorruptedError(forKey: .words, in: c, debugDescription: "vocabulary has duplicate words")
        }
        self.init(uncheckedWords: words)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(words, forKey: .words)
    }

    public static func == (lhs: Vocabulary, rhs: Vocabulary) -> Bool { lhs.words == rhs.words }

    public var count: Int { words.count }

    /// The id of a word, or nil if it is not in the vocabulary.
    public func id(_ word: String) -> Int32? { index[word] }

    /// The word of an id ("[UNK]" for ids out of range).
    public func word(_ id: Int32) -> String {
        id >= 0 && Int(id) < words.count ? words[Int(id)] : Vocabulary.unk
    }

    /// The id of a digit 0…9.
    public static func digitID(_ digit: Int) -> Int32 { firstDigitID + Int32(digit) }

    /// Whether an id is one of the digit tokens.
    public static func isDigit(_ id: Int32) -> Bool { id >= firstDigitID && id < firstDigitID + 10 }

    /// The Grade 1 vocabulary: every word of every Grade 1 phrasing, held-out ones included.
    public static let grade1 = Vocabulary(words: Templates.texts(upTo: 1).flatMap { Tokenizer.pieces($0).compactMap(\.word) })
    /// Grade 1's and Grade 2's words. A Grade 1 model does not know Grade 2's words, so it
    /// abstains on "What is 3 plus 4?" for an unknown word instead of guessing.
    public static let grade2 = Vocabulary(words: Templates.texts(upTo: 2).flatMap { Tokenizer.pieces($0).compactMap(\.word) })

    /// The vocabulary of a model taught up to `grade`.
    public static func forGrade(_ grade: Int) -> Vocabulary { grade >= 2 ? .grade2 : .grade1 }
}

/// A question as the model sees it.
public struct EncodedQuestion: Sendable, Equatable {
    /// Token ids, `[CLS]` first, padded with `[PAD]` to `maxLength`.
    public var tokens: [Int32]
    /// Place value of each digit token: 1 = ones, 2 = tens, 3 = hundreds…; 0 for any other token.
    public var places: [Int32]
    /// For a digit token, which number of the question it belongs to (1-based, in reading order); 0 otherwise.
    public var numberIndex: [Int32]
    /// Tokens before padding (`[CLS]` included; at most `maxLength`).
    public var length: Int
    /// Words not in the vocabulary (each occurrence, in order); they were encoded as `[UNK]`.
    public var unknownWords: [String]
    /// Whether the question had more than `maxLength` tokens and was cut (see `Tokenizer.encode`).
    public var truncated: Bool
}

/// Lowercases, drops punctuation, splits words; numbers become digit tokens, most significant first,
/// with their place values.
///
/// Too long: `encode` keeps the first `maxLength` tokens and sets `truncated` (the trainer sizes
/// `maxLength` with `LessonGenerator.maxQuestionTokens`, so generated questions never are);
/// `encodeChecked` throws instead, for question files whose questions should be refused, not cut.
public struct Tokenizer: Sendable {
    public let vocabulary: Vocabulary

    public init(vocabulary: Vocabulary) { self.vocabulary = vocabulary }

    /// A tokenizer with the full Grade 1 vocabulary (all phrasings, held-out ones included; a
    /// held-out phrasing only rearranges words of train phrasings, so every word of a generated
    /// question is one training shows).
    public static func build(from generator: LessonGenerator? = nil) -> Tokenizer {
        Tokenizer(vocabulary: .forGrade(generator?.config.grade ?? 1))
    }

    enum Piece: Equatable {
        case word(String)
        case number(String)  // ASCII digits
        var word: String? { if case .word(let w) = self { return w } else { return nil } }
    }

    /// Splits text into lowercase words and digit runs; anything that is neither a letter nor a
    /// digit (spaces, '?', ',', '.', ':', quotes, hyphens…) separates pieces and is dropped.
    static func pieces(_ text: String) -> [Piece] {
        text.utf8.allSatisfy({ $0 < 0x80 }) ? asciiPieces(text) : generalPieces(text)
    }

    static func generalPieces(_ text: String) -> [Piece] {
        var out: [Piece] = []
        var word = ""
        var number = ""
        func flush() {
            if !word.isEmpty { out.append(.word(word)); word = "" }
            if !number.isEmpty { out.append(.number(number)); number = "" }
        }
        for ch in text.lowercased() {
            if ch.isASCII && ch.isNumber {
                if !word.isEmpty { out.append(.word(word)); word = "" }
                number.append(ch)
            } else if ch.isLetter {
                if !number.isEmpty { out.append(.number(number)); number = "" }
                word.append(ch)
            } else {
                flush()
            }
        }
        flush()
        return out
    }

    /// The same split for ASCII text, on bytes (the common case: every generated question).
    static func asciiPieces(_ text: String) -> [Piece] {
        var out: [Piece] = []
        out.reserveCapacity(16)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16)
        var inNumber = false
        func flush() {
            if !buffer.isEmpty {
                let s = String(decoding: buffer, as: UTF8.self)
                out.append(inNumber ? .number(s) : .word(s))
                buffer.removeAll(keepingCapacity: true)
            }
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if !inNumber { flush(); inNumber = true }
                buffer.append(byte)
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                if inNumber { flush(); inNumber = false }
                buffer.append(byte | 0x20)
            default:
                flush()
            }
        }
        flush()
        return out
    }

    /// The number of tokens of a text (`[CLS]` included).
    public func tokenCount(_ text: String) -> Int {
        1 + Tokenizer.pieces(text).reduce(0) { n, p in
            switch p { case .word: return n + 1; case .number(let d): return n + d.count }
        }
    }

    /// Encodes a question; cuts it to `maxLength` tokens if longer (see `truncated`).
    public func encode(_ text: String, maxLength: Int) -> EncodedQuestion {
        precondition(maxLength >= 1, "maxLength must be at least 1")
        var tokens = [Int32](repeating: Vocabulary.padID, count: maxLength)
        var places = [Int32](repeating: 0, count: maxLength)
        var numberIndex = [Int32](repeating: 0, count: maxLength)
        var unknown: [String] = []
        tokens[0] = Vocabulary.clsID
        var length = 1
        var truncated = false
        var numbers: Int32 = 0
        for piece in Tokenizer.pieces(text) {
            switch piece {
            case .word(let w):
                let id = vocabulary.id(w) ?? Vocabulary.unkID
                if id == Vocabulary.unkID { unknown.append(w) }
                if length < maxLength { tokens[length] = id; length += 1 } else { truncated = true }
            case .number(let digits):
                numbers += 1
                let count = digits.count
                for (i, d) in digits.unicodeScalars.enumerated() {
                    if length < maxLength {
                        tokens[length] = Vocabulary.digitID(Int(d.value) - 48)
                        places[length] = Int32(count - i)
                        numberIndex[length] = numbers
                        length += 1
                    } else { truncated = true }
                }
            }
        }
        return EncodedQuestion(tokens: tokens, places: places, numberIndex: numberIndex, length: length,
                               unknownWords: unknown, truncated: truncated)
    }

    /// Encodes a question, throwing if it has more than `maxLength` tokens.
    public func encodeChecked(_ text: String, maxLength: Int) throws -> EncodedQuestion {
        let encoded = encode(text, maxLength: maxLength)
        if encoded.truncated {
            throw TokenizerError.tooLong(tokens: tokenCount(text), maxLength: maxLength)
        }
        return encoded
    }

    /// The tokens back as text (digits of one number joined, no `[PAD]`), for traces and errors.
    public func decode(_ encoded: EncodedQuestion) -> String {
        var out: [String] = []
        var i = 0
        while i < encoded.length {
            let id = encoded.tokens[i]
            if Vocabulary.isDigit(id) {
                var number = ""
                let k = encoded.numberIndex[i]
                while i < encoded.length, Vocabulary.isDigit(encoded.tokens[i]), encoded.numberIndex[i] == k {
                    number += vocabulary.word(encoded.tokens[i]); i += 1
                }
                out.append(number)
            } else {
                out.append(vocabulary.word(id)); i += 1
            }
        }
        return out.joined(separator: " ")
    }

    /// Unknown words of a set of questions with how often each occurs (for eval reports).
    public func unknownWords(in questions: [Question]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for q in questions {
            for piece in Tokenizer.pieces(q.text) {
                if let w = piece.word, vocabulary.id(w) == nil { counts[w, default: 0] += 1 }
            }
        }
        return counts
    }
}

public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    case tooLong(tokens: Int, maxLength: Int)

    public var description: String {
        switch self {
        case .tooLong(let tokens, let maxLength):
            return "question has \(tokens) tokens, more than the model's \(maxLength) (expected at most \(maxLength))"
        }
    }
}

extension LessonGenerator {
    /// The most tokens (with `[CLS]`) a question of this generator can have: the longest phrasing with
    /// every number as long as the largest number of the train and ood ranges.
    public var maxQuestionTokens: Int {
        let widest = String(max(grade2.trainRange.upperBound, grade2.oodRange.upperBound))
        let tokenizer = Tokenizer(vocabulary: .forGrade(config.grade))
        func longest(_ texts: [String]) -> Int { texts.map { tokenizer.tokenCount($0) - 1 }.max() ?? 0 }
        let opener = longest(Grammar.openers), tail = max(longest(Grammar.yesNoTails), longest(Grammar.numberTails))
        var most = 0
        for concept in concepts {
            for p in Templates.phrasings(concept) {
                var filled = p
                for slot in ["{a}", "{b}", "{c}", "{n}", "{m}", "{k}"] { filled = filled.replacingOccurrences(of: slot, with: widest) }
                most = max(most, tokenizer.tokenCount(filled) + opener + tail)
            }
        }
        return most
    }
}

