import Foundation

/// Program binaries on disk, one file per (source, options, device, driver, platform version).
///
/// Entry layout: magic `CLPC1\n`, u64 key length, key text, u64 payload length, u64 payload
/// checksum, payload. An entry that is short, too long, has the wrong key or a bad checksum is
/// deleted and the program rebuilt from source; it is never handed to the driver.
public final class ProgramDiskCache: @unchecked Sendable {
    public struct Key: Sendable {
        public let source: String
        public let options: String
        public let device: String
        public let driver: String
        public let platform: String

        /// Everything the binary depends on, as one text that is stored in the entry and compared.
        var text: String {
            "device=\(device)\ndriver=\(driver)\nplatform=\(platform)\noptions=\(options)\nsource-hash=\(String(fnv1a64(Array(source.utf8)), radix: 16))\nsource-bytes=\(source.utf8.count)\n"
        }

        var fileName: String {
            let t = Array(text.utf8)
            return String(format: "%016llx%016llx.clbin", fnv1a64(t), fnv1a64(t, seed: 0x9E37_79B9_7F4A_7C15))
        }
    }

    public let directory: URL
    /// Counters for tests and `learner devices`: hits, misses, corrupt entries deleted.
    public private(set) var hits = 0
    public private(set) var misses = 0
    public private(set) var corrupt = 0
    private let lock = NSLock()

    static let magic = Array("CLPC1\n".utf8)

    /// The default location: `$CONCEPT_LEARNER_KERNEL_CACHE`, else `~/.cache/concept-learner/kernels`.
    public static var defaultDirectory: URL {
        if let env = ProcessInfo.processInfo.environment["CONCEPT_LEARNER_KERNEL_CACHE"], !env.isEmpty {
            return URL(fileURLWithPath: env, isDirectory: true)
        }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".cache/concept-learner/kernels", isDirectory: true)
    }

    public init(directory: URL = ProgramDiskCache.defaultDirectory) {
        self.directory = directory
    }

    func url(_ key: Key) -> URL { directory.appendingPathComponent(key.fileName) }

    /// The stored binary, or nil (missing or corrupt; a corrupt entry is deleted).
    public func load(_ key: Key) -> [UInt8]? {
        lock.lock(); defer { lock.unlock() }
        let u = url(key)
        guard let data = try? Data(contentsOf: u) else { misses += 1; return nil }
        if let payload = Self.decode([UInt8](data), keyText: key.text) {
            hits += 1
            return payload
        }
        corrupt += 1
        try? FileManager.default.removeItem(at: u)
        return nil
    }

    public func remove(_ key: Key) {
        lock.lock(); defer { lock.unlock() }
        try? FileManager.default.removeItem(at: url(key))
    }

    /// Writes the entry atomically (temp file in the same folder, then rename). Failures are
    /// ignored: the cache is an optimisation.
    public func store(_ key: Key, binary: [UInt8]) {
        lock.lock(); defer { lock.unlock() }
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
            let bytes = Self.encode(binary, keyText: key.text)
            let tmp = directory.appendingPathComponent(".tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
            try Data(bytes).write(to: tmp)
            let dst = url(key)
            if rename(tmp.path, dst.path) != 0 { try? fm.removeItem(at: tmp) }
        } catch {
            return
        }
    }

    static func encode(_ payload: [UInt8], keyText: String) -> [UInt8] {
        let k = Array(keyText.utf8)
        var out = magic
        out += le(UInt64(k.count)) + k
        out += le(UInt64(payload.count)) + le(fnv1a64(payload, seed: 0x6A09_E667_F3BC_C908)) + payload
        return out
    }

    static func decode(_ bytes: [UInt8], keyText: String) -> [UInt8]? {
        var p = 0
        func take(_ n: Int) -> ArraySlice<UInt8>? {
            guard n >= 0, p + n <= bytes.count else { return nil }
            defer { p += n }
            return bytes[p..<(p + n)]
        }
        func u64() -> UInt64? {
            guard let s = take(8) else { return nil }
            return s.reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        guard let m = take(magic.count), Array(m) == magic,
              let kl = u64(), kl < 1 << 20, let k = take(Int(kl)), Array(k) == Array(keyText.utf8),
              let pl = u64(), pl < 1 << 34, let sum = u64(), let payload = take(Int(pl)),
              p == bytes.count, !payload.isEmpty,
              fnv1a64(Array(payload), seed: 0x6A09_E667_F3BC_C908) == sum
        else { return nil }
        return Array(payload)
    }

    static func le(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}

/// 64-bit FNV-1a with an optional seed mixed into the offset basis.
func fnv1a64(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
    for b in bytes {
        h ^= UInt64(b)
        h = h &* 0x0000_0100_0000_01b3
    }
    return h
}
