import ArgumentParser
import Foundation
import Training

/// `learner report RUN_DIR`: writes RUN_DIR/report.html, the run's dashboard (Docs/COURSES.md).
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a run's dashboard: one self-contained HTML page (curves, levels, mastery, diagnostics, focus).")

    @Argument(help: "A run folder written by learner train.") var runDir: String
    @Option(help: "Where to write the page (default RUN_DIR/report.html).") var output: String?

    func run() throws {
        let dir = URL(fileURLWithPath: runDir)
        let input: Dashboard.Input
        do { input = try Dashboard.load(runDir: dir) } catch let e as RunFolderError { throw ValidationError(e.description) }
        let url = output.map { URL(fileURLWithPath: $0) } ?? dir.appendingPathComponent("report.html")
        do { try Data(Dashboard.html(input).utf8).write(to: url, options: .atomic) } catch {
            throw ValidationError("cannot write \(url.path): \(error.localizedDescription)")
        }
        print("wrote \(url.path)")
    }
}
