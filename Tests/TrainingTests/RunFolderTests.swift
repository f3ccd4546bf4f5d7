import Foundation
import XCTest
@testable import Training

/// One run per folder: a live holder's lock stops a second run (naming its pid), a dead one's is
/// taken over with a note, and a new run does not write over an earlier run's files unless told.
final class RunFolderTests: XCTestCase {
    func startSleeper() throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sleep")
        p.arguments = ["30"]
        try p.run()
        return p
    }

    func testLiveLockStopsASecondRunAndAStaleOneIsTakenOver() throws {
        let dir = try makeTempDir()
        let holder = try startSleeper()
        try "\(holder.processIdentifier)\n2026-12-04T00:00:00Z\n".write(to: dir.appendingPathComponent(RunLock.fileName), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RunLock(folder: dir)) { error in
            let line = (error as? RunFolderError)?.description ?? "\(error)"
            XCTAssertTrue(line.contains("pid \(holder.processIdentifier)") && line.contains(dir.path), line)
        }
        holder.terminate()
        holder.waitUntilExit()
        let lock = try RunLock(folder: dir)
        XCTAssertTrue(lock.note?.contains("stale lock") == true && lock.note?.contains("\(holder.processIdentifier)") == true, lock.note ?? "no note")
        // Ours now: a second lock in this process is refused, and release frees the folder.
        XCTAssertThrowsError(try RunLock(folder: dir))
        lock.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: lock.url.path))
        let again = try RunLock(folder: dir)
        XCTAssertNil(again.note)
    }

    func testNewRunNeedsOverwriteWhereARunIsAndOverwriteRemovesOnlyRunFiles() throws {
        let dir = try makeTempDir()
        try RunFolder.prepareNewRun(dir, overwrite: false)  // empty: fine
        for name in ["latest.safetensors", "step-000400.safetensors", "metrics.jsonl", "notes.txt"] {
            try Data("x".utf8).write(to: dir.appendingPathComponent(name))
        }
        XCTAssertThrowsError(try RunFolder.prepareNewRun(dir, overwrite: false)) { error in
            let line = (error as? RunFolderError)?.description ?? "\(error)"
            XCTAssertTrue(line.contains("--resume") && line.contains("--overwrite") && line.contains("latest.safetensors"), line)
        }
        XCTAssertEqual(RunFolder.runFiles(in: dir).count, 3, "a refused run deletes nothing")
        try RunFolder.prepareNewRun(dir, overwrite: true)
        XCTAssertEqual(RunFolder.runFiles(in: dir), [])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("notes.txt").path))
    }
}
