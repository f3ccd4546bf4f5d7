import Foundation

public struct CheckpointError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A safetensors file: an 8-byte little-endian header length, a JSON header naming every tensor
/// (dtype F32, shape, byte offsets) plus string metadata, then the raw little-endian data.
/// Python's `safetensors` and PyTorch load it as is. Metadata holds our JSON blobs (config,
/// vocabulary, training state) and an FNV-1a checksum of the data section, verified on load.
public struct SafeTensorsFile {
    public var tensors: [String: (shape: [Int], values: [Float])] = [:]
    public var metadata: [String: String] = [:]

    public init() {}

    static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// Serialises to bytes; tensors in sorted name order so equal contents give equal files.
    public func encoded() throws -> Data {
        var data = Data()
        var header: [String: Any] = [:]
        for name in tensors.keys.sorted() {
            let (shape, values) = tensors[name]!
            guard shape.reduce(1, *) == values.count else {
                throw CheckpointError("tensor \(name) has \(values.count) values for shape \(shape)")
            }
            let begin = data.count
            values.withUnsafeBufferPointer { data.append(Data(buffer: $0)) }
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [begin, data.count]]
        }
        var meta = metadata
        meta["checksum"] = String(format: "%016llx", data.withUnsafeBytes { Self.fnv1a($0) })
        header["__metadata__"] = meta
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header so the data section starts 8-byte aligned, as the format recommends.
        while (json.count % 8) != 0 { json.append(0x20) }
        var out = Data()
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(data)
        return out
    }

    public static func decode(_ bytes: Data, name: String) throws -> SafeTensorsFile {
        func bad(_ what: String) -> CheckpointError {
            CheckpointError("\(name) is not a valid checkpoint: \(what); expected a safetensors file written by `learner train`")
        }
        guard bytes.count >= 8 else { throw bad("file is \(bytes.count) bytes, too short for a header") }
        let n = bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard n > 0, n < 100_000_000, 8 + Int(n) <= bytes.count else {
            throw bad("header length \(n) does not fit a \(bytes.count)-byte file (truncated?)")
        }
        let headerData = bytes.subdata(in: 8..<(8 + Int(n)))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        let body = bytes.subdata(in: (8 + Int(n))..<bytes.count)
        var file = SafeTensorsFile()
        file.metadata = (header["__metadata__"] as? [String: String]) ?? [:]
        if let sum = file.metadata["checksum"] {
            let actual = String(format: "%016llx", body.withUnsafeBytes { fnv1a($0) })
            guard sum == actual else { throw bad("data checksum \(actual) differs from the recorded \(sum) (corrupt or truncated)") }
        }
        for (key, value) in header where key != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offs = info["data_offsets"] as? [Int], offs.count == 2 else {
                throw bad("tensor entry \(key) is malformed")
            }
            guard dtype == "F32" else { throw bad("tensor \(key) has dtype \(dtype), only F32 is read") }
            // A header that lies (negative or overflowing sizes) is an error, never a trap.
            var count = 1
            for d in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard d >= 0, !overflow, product <= body.count / 4 else {
                    throw bad("tensor \(key) shape \(shape) does not fit a \(body.count)-byte body")
                }
                count = product
            }
            guard offs[0] >= 0, offs[0] <= offs[1], offs[1] <= body.count, offs[1] - offs[0] == count * 4 else {
                throw bad("tensor \(key) offsets \(offs) do not match shape \(shape) in a \(body.count)-byte body")
            }
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { dst in
                body.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offs[0]..<offs[1]])) }
            }
            file.tensors[key] = (shape, values)
        }
        return file
    }

    /// Atomic write: temp file in the same folder, fsync, rename over the target, fsync the folder.
    public func write(to url: URL) throws {
        let data = try encoded()
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
            throw CheckpointError("cannot create \(tmp.path)")
        }
        let fh = try FileHandle(forWritingTo: tmp)
        do {
            try fh.write(contentsOf: data)
            try fh.synchronize()
            try fh.close()
        } catch {
            try? fh.close()
            try? FileManager.default.removeItem(at: tmp)
            throw CheckpointError("cannot write \(url.path): \(error)")
        }
        guard rename(tmp.path, url.path) == 0 else {
            let err = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw CheckpointError("cannot move checkpoint into place at \(url.path): \(err)")
        }
        let dfd = open(dir.path, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    public static func read(_ url: URL) throws -> SafeTensorsFile {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CheckpointError("checkpoint \(url.path) does not exist; pass a file written by `learner train` (e.g. RUN/latest.safetensors)")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw CheckpointError("cannot read checkpoint \(url.path): \(error.localizedDescription)")
        }
        return try decode(data, name: url.path)
    }
}
