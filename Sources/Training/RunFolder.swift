import Foundation

/// Errors about a run folder, each one line naming the folder and what to do.
public struct RunFolderError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

/// Who may write a run folder: one `learner train` at a time (a lock file holding its pid), and a
/// new run only where no earlier run left checkpoints, unless told to resume or overwrite.
///
/// Why a pid file and not `flock`: the lock must say who holds it (the second run's error names
/// the pid), and a run killed with -9 must not leave the folder locked forever: a lock whose pid is
/// no longer running is stale and taken over, with a note. (A recycled pid would look alive; the
/// note in Docs/CLI.md says to delete `run.lock` by hand then.)
public final class RunLock {
    public static let fileName = "run.lock"
    public let url: URL
    /// Set when a stale lock was taken over: the note to print.
    public let note: String?
    private var released = false

    /// Takes the lock of `folder` (created if missing).
    public init(folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        url = folder.appendingPathComponent(Self.fileName)
        let me = ProcessInfo.processInfo.processIdentifier
        let content = "\(me)\n\(ISO8601DateFormatter().string(from: Date()))\n"
        var note: String?
        for _ in 0..<2 {
            // O_EXCL: of two runs creating the lock at once, exactly one succeeds.
            let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            if fd >= 0 {
                _ = content.withCString { write(fd, $0, strlen($0)) }
                close(fd)
                self.note = note
                return
            }
            guard errno == EEXIST else {
                throw RunFolderError(description: "cannot create \(url.path): \(String(cString: strerror(errno)))")
            }
            let held = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
            let lines = held.split(separator: "\n")
            let pid = lines.first.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
            if let pid, Self.isRunning(pid) {
                let since = lines.count > 1 ? " since \(lines[1])" : ""
                throw RunFolderError(description: "run folder \(folder.path) is in use by another learner train (pid \(pid)\(since)); wait for it to finish or choose another --save_dir")
            }
            // Stale (its process is gone) or unreadable: take it over.
            note = "note: took over the stale lock of \(folder.path) (pid \(pid.map(String.init) ?? "unknown") is no longer running)"
            try? FileManager.default.removeItem(at: url)
        }
        throw RunFolderError(description: "cannot take the lock \(url.path): another run keeps creating it")
    }

    static func isRunning(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// Removes the lock (also on deinit); only if it is still ours.
    public func release() {
        guard !released else { return }
        released = true
        let held = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        if held.split(separator: "\n").first == Substring("\(ProcessInfo.processInfo.processIdentifier)") {
            try? FileManager.default.removeItem(at: url)
        }
    }

    deinit { release() }
}

public enum RunFolder {
    /// Files an earlier run leaves: checkpoints and the metrics log.
    public static func runFiles(in folder: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".safetensors") || $0 == "metrics.jsonl" }.sorted()
    }

    /// Before a new (not resumed) run: a folder holding an earlier run's files needs `overwrite`,
    /// which removes them so the two runs' files never mix.
    public static func prepareNewRun(_ folder: URL, overwrite: Bool) throws {
        let files = runFiles(in: folder)
        guard !files.isEmpty else { return }
        guard overwrite else {
            let shown = files.prefix(3).joined(separator: ", ") + (files.count > 3 ? ", …" : "")
            throw RunFolderError(description: "run folder \(folder.path) already holds a run (\(shown)); pass --resume \(folder.appendingPathComponent("latest.safetensors").path) to continue it or --overwrite to start over")
        }
        for name in files { try FileManager.default.removeItem(at: folder.appendingPathComponent(name)) }
    }
}
