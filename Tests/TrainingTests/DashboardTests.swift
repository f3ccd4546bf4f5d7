import Curriculum
import Foundation
import XCTest
@testable import Training

/// The dashboard page: self-contained (no scripts, nothing fetched), with a chart per view, a
/// band per level saying whether it was mastered, a line per concept and a heat map per diagnosis.
final class DashboardTests: XCTestCase {
    func testPageStructure() throws {
        var metrics: [MetricsLine] = []
        for i in 1...20 {
            let x = Double(i)
            let norm: Float = i == 7 ? .nan : 1
            metrics.append(MetricsLine(step: i * 10, loss: 2 / x, answerLoss: 1 / x, vqLoss: 0.01, stopLoss: 0, accuracy: x / 20,
                                       lr: 1e-3, gradNorm: norm, vqUtilisation: [1], vqPerplexity: [4], examplesPerSecond: 1000, microBatch: 64))
        }
        var o = TrainOptions.quick
        o.steps = 200
        o.course = Course(name: "mini", checkEvery: 10, levels: [
            .init(name: "counting", concepts: [.countAfter, .countBefore], mastery: 0.98, maxSteps: 100, replay: 0),
            .init(name: "comparing <&>", concepts: [.greater, .smaller], mastery: 0.98, maxSteps: 50, replay: 0.2),
        ], focus: 0.2)
        var p = CourseProgress()
        p.records = [LevelRecord(level: "counting", start: 0, end: 60, mastered: true, scores: ["count_after": 0.99, "count_before": 0.985]),
                     LevelRecord(level: "comparing <&>", start: 60, end: 110, mastered: false, scores: ["greater": 0.9, "smaller": 0.95])]
        p.checks = [MasteryCheck(step: 30, level: 0, scores: ["count_after": 0.5, "count_before": 0.6]),
                    MasteryCheck(step: 60, level: 0, scores: ["count_after": 0.99, "count_before": 0.985]),
                    MasteryCheck(step: 110, level: 1, scores: ["greater": 0.9, "smaller": 0.95])]
        p.diagnoses = [DiagnosisRecord(step: 60, afterLevel: "counting",
                                       cells: [.init(concept: "count_after", category: "tens_boundary", correct: 40, total: 50),
                                               .init(concept: "count_before", category: "frame:count-name", correct: 50, total: 50)],
                                       focus: [FocusCell(concept: .countAfter, category: "tens_boundary")])]
        let html = Dashboard.html(.init(title: "run <1>", metrics: metrics, options: o, progress: p))
        func count(_ s: String) -> Int { html.components(separatedBy: s).count - 1 }
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>\n"))
        XCTAssertEqual(count("<svg "), 3, "loss, accuracy and per-concept mastery charts")
        XCTAssertEqual(count("<svg "), count("</svg>"))
        XCTAssertFalse(html.contains("<script"), "no scripts")
        XCTAssertFalse(html.contains("src=") || html.contains("href=") || html.contains("@import") || html.contains("url("), "nothing fetched")
        XCTAssertTrue(html.contains("run &lt;1&gt;") && html.contains("comparing &lt;&amp;&gt;") && !html.contains("comparing <&>"), "text is escaped")
        XCTAssertEqual(count("level 1 counting: mastered</title>"), 3, "the level band on each chart")
        XCTAssertEqual(count("NOT mastered</title>"), 3)
        for c in ["count_after", "count_before", "greater", "smaller"] { XCTAssertTrue(html.contains(">\(c)</text>"), "legend \(c)") }
        XCTAssertEqual(count("<table class=\"heat\">"), 1, "a heat map per diagnosis")
        XCTAssertTrue(html.contains("title=\"40/50\">0.800</td>"))
        XCTAssertTrue(html.contains("Focus: count_after / tens_boundary"))
        // A non-finite metric is left out of its line, never drawn as NaN.
        XCTAssertFalse(html.contains("nan") || html.contains("NaN"))
    }

    func testRunFolderWithoutMetricsIsAOneLineError() throws {
        let dir = try makeTempDir()
        XCTAssertThrowsError(try Dashboard.load(runDir: dir)) { error in
            XCTAssertTrue("\(error)".contains("has no readable metrics.jsonl"), "\(error)")
        }
    }
}
