import Curriculum
import Foundation

/// `learner report RUN_DIR`: one self-contained HTML page (inline SVG and CSS, no scripts, no
/// network) with the run's loss and accuracy curves, each course level's span and whether it
/// was mastered, per-concept mastery over steps, the diagnostics as a heat map per round, and
/// the focus decisions.
public enum Dashboard {
    public struct Input {
        public var title: String
        public var metrics: [MetricsLine]
        public var options: TrainOptions?
        public var progress: CourseProgress?
        public init(title: String, metrics: [MetricsLine], options: TrainOptions?, progress: CourseProgress?) {
            self.title = title; self.metrics = metrics; self.options = options; self.progress = progress
        }
    }

    /// Reads a run folder: `metrics.jsonl` (the last line per step wins, as a resumed run logs
    /// some steps twice) and the newest checkpoint's options and course progress.
    public static func load(runDir: URL) throws -> Input {
        let metricsURL = runDir.appendingPathComponent("metrics.jsonl")
        guard let text = try? String(contentsOf: metricsURL, encoding: .utf8) else {
            throw RunFolderError(description: "\(runDir.path) has no readable metrics.jsonl; expected a run folder written by learner train")
        }
        var byStep: [Int: MetricsLine] = [:]
        for (i, line) in text.split(separator: "\n").enumerated() where !line.isEmpty {
            do { let m = try JSONDecoder().decode(MetricsLine.self, from: Data(line.utf8)); byStep[m.step] = m } catch {
                throw RunFolderError(description: "\(metricsURL.path):\(i + 1): not a metrics line (\(error.localizedDescription))")
            }
        }
        var options: TrainOptions?, progress: CourseProgress?
        for name in ["latest.safetensors", "best.safetensors"] {
            let url = runDir.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let file = try SafeTensorsFile.read(url)
            options = try? Checkpoint.options(file, url: url)
            progress = file.metadata["course_progress"].flatMap { try? JSONDecoder().decode(CourseProgress.self, from: Data($0.utf8)) }
            break
        }
        return Input(title: runDir.lastPathComponent, metrics: byStep.values.sorted { $0.step < $1.step }, options: options, progress: progress)
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                          "#bcbd22", "#17becf", "#393b79", "#637939", "#843c39"]

    struct Band { let from: Double; let to: Double; let label: String; let mastered: Bool }

    /// A line chart: series of (x, y) points, shaded level bands behind them, axes with ticks.
    static func chart(title: String, series: [(name: String, points: [(Double, Double)])], xMax: Double,
                      yRange: ClosedRange<Double>, logY: Bool = false, bands: [Band] = [], bar: Double? = nil) -> String {
        let w = 880.0, h = 260.0, left = 60.0, right = 170.0, top = 28.0, bottom = 36.0
        let pw = w - left - right, ph = h - top - bottom
        func fy(_ y: Double) -> Double {
            let v = logY ? log10(max(y, 1e-6)) : y
            let lo = logY ? log10(max(yRange.lowerBound, 1e-6)) : yRange.lowerBound
            let hi = logY ? log10(yRange.upperBound) : yRange.upperBound
            return top + ph - (min(max(v, lo), hi) - lo) / max(hi - lo, 1e-9) * ph
        }
        func fx(_ x: Double) -> Double { left + x / max(xMax, 1) * pw }
        var s = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\">\n"
        s += "<text x=\"\(Int(left))\" y=\"18\" class=\"title\">\(esc(title))</text>\n"
        for (i, b) in bands.enumerated() {
            let x0 = fx(b.from), x1 = fx(b.to)
            s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\" opacity=\"0.18\"><title>%@</title></rect>\n",
                        x0, top, max(1, x1 - x0), ph, (b.mastered ? "#2ca02c" : "#d62728") as NSString, esc(b.label) as NSString)
            // Labels step down a line per level, so short levels' labels do not overlap.
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" class=\"band\">%@</text>\n", x0 + 3, top + 12 + Double(i % 4) * 12,
                        esc(b.label) as NSString)
        }
        s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999\"/>\n", left, top, pw, ph)
        var ticks: [Double] = []
        if logY {
            let first = floor(log10(max(yRange.lowerBound, 1e-6))), last = ceil(log10(yRange.upperBound))
            for e in stride(from: first, through: last, by: 1) {
                let decade: Double = pow(10, e)
                ticks += [decade, 2 * decade, 5 * decade]
            }
        } else {
            let span = yRange.upperBound - yRange.lowerBound
            ticks = (0...4).map { yRange.lowerBound + Double($0) / 4 * span }
        }
        for t in ticks where t >= yRange.lowerBound * 0.999 && t <= yRange.upperBound * 1.001 {
            s += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/><text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%@</text>\n",
                        left, left + pw, fy(t), fy(t), left - 4, fy(t) + 4, (logY ? String(format: "%g", t) : String(format: "%.2f", t)) as NSString)
        }
        for i in 0...4 {
            let x = xMax * Double(i) / 4
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">%d</text>\n", fx(x), top + ph + 16, Int(x))
        }
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" text-anchor=\"middle\">step</text>\n", left + pw / 2, h - 4)
        if let bar {
            s += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" stroke-dasharray=\"4 3\"><title>mastery bar %.2f</title></line>\n",
                        left, left + pw, fy(bar), fy(bar), bar)
        }
        for (i, line) in series.enumerated() {
            let color = palette[i % palette.count]
            let pts = line.points.filter { $0.1.isFinite }.map { String(format: "%.1f,%.1f", fx($0.0), fy($0.1)) }.joined(separator: " ")
            if !pts.isEmpty {
                s += "<polyline class=\"series\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\" points=\"\(pts)\"><title>\(esc(line.name))</title></polyline>\n"
            }
            let ly = top + 8 + Double(i) * 15
            s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%@\"/><text x=\"%.1f\" y=\"%.1f\" class=\"legend\">%@</text>\n",
                        left + pw + 12, ly - 9, color as NSString, left + pw + 26, ly, esc(line.name) as NSString)
        }
        return s + "</svg>\n"
    }

    static func heatColor(_ a: Double) -> String {
        // Red under 0.9, through yellow, to green at 1.0.
        let t = max(0, min(1, (a - 0.9) / 0.1))
        let r = Int(t < 0.5 ? 230 : 230 - (t - 0.5) * 2 * 150), g = Int(t < 0.5 ? 80 + t * 2 * 140 : 220)
        return String(format: "#%02x%02x60", r, g)
    }

    public static func html(_ input: Input) -> String {
        let metrics = input.metrics
        let xMax = Double(max(input.options?.steps ?? 0, metrics.last?.step ?? 1))
        let course = input.options?.course
        let progress = input.progress
        let bands = (progress?.records ?? []).enumerated().map { i, r in
            Band(from: Double(r.start), to: Double(r.end), label: "level \(i + 1) \(r.level): " + (r.mastered ? "mastered" : "NOT mastered"), mastered: r.mastered)
        }
        var out = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(esc(input.title)) - Concept Learner run</title>
        <style>
        body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #222; max-width: 1100px; }
        h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
        .title { font-size: 14px; font-weight: 600; } .tick, .legend, .band { font-size: 11px; fill: #444; }
        table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #ddd; padding: 3px 6px; }
        table.heat td { text-align: center; min-width: 44px; } .muted { color: #888; }
        </style></head><body>
        <h1>Run \(esc(input.title))</h1>

        """
        if let o = input.options {
            out += "<p>\(o.steps) steps, batch \(o.batchSize), d_model \(o.dModel), seed \(o.seed)"
                + (course.map { ", course <b>\(esc($0.name))</b>" + ($0.focus > 0 ? String(format: " with the focus loop (%.0f%%)", $0.focus * 100) : "") } ?? ", uniform training (no course)")
                + "</p>\n"
        }
        out += "<h2>Training curves</h2>\n"
        let losses = metrics.map { (Double($0.step), $0.loss) }.filter { $0.1.isFinite && $0.1 > 0 }
        let lo = max(1e-4, losses.map(\.1).min() ?? 0.01), hi = max(lo * 10, losses.map(\.1).max() ?? 1)
        out += chart(title: "loss (log scale)", series: [("loss", losses), ("answer loss", metrics.map { (Double($0.step), $0.answerLoss) })],
                     xMax: xMax, yRange: lo...hi, logY: true, bands: bands)
        out += chart(title: "training-batch accuracy", series: [("accuracy", metrics.map { (Double($0.step), $0.accuracy) })],
                     xMax: xMax, yRange: 0...1, bands: bands)
        if let course, let progress {
            out += "<h2>Levels</h2>\n<table><tr><th>level</th><th>concepts</th><th>steps</th><th>result</th><th>weakest at the end</th></tr>\n"
            for (i, level) in course.levels.enumerated() {
                let r = i < progress.records.count ? progress.records[i] : nil
                let weakest = r?.scores.min { $0.value < $1.value }.map { String(format: "%@ %.3f", $0.key as NSString, $0.value) } ?? ""
                out += "<tr><td>\(i + 1) \(esc(level.name))</td><td>\(level.concepts.map(\.rawValue).joined(separator: ", "))</td>"
                    + "<td>\(r.map { "\($0.start)–\($0.end) (\($0.end - $0.start))" } ?? "not reached")</td>"
                    + "<td>\(r.map { $0.mastered ? "mastered" : "<b>NOT mastered</b> (cap \(level.maxSteps))" } ?? "")</td><td>\(esc(weakest))</td></tr>\n"
            }
            out += "</table>\n"
            let concepts = course.concepts.map(\.rawValue)
            let series = concepts.map { c in (c, progress.checks.compactMap { ch in ch.scores[c].map { (Double(ch.step), $0) } }) }
            out += "<h2>Mastery per concept</h2>\n"
            out += chart(title: "per-concept score at each mastery check (held-out numbers and phrasings, the lower)",
                         series: series, xMax: xMax, yRange: 0...1, bands: bands, bar: course.levels.map(\.mastery).max())
            out += "<h2>Diagnostics</h2>\n"
            if progress.diagnoses.isEmpty { out += "<p class=\"muted\">No diagnosis recorded in this run.</p>\n" }
            for d in progress.diagnoses {
                let categories = Array(Set(d.cells.map(\.category).filter { !$0.hasPrefix("frame:") })).sorted()
                out += "<p>After level <b>\(esc(d.afterLevel))</b> (step \(d.step)):</p>\n<table class=\"heat\"><tr><th>concept</th>"
                    + categories.map { "<th>\(esc($0))</th>" }.joined() + "<th>weakest frame</th></tr>\n"
                for c in Concept.allCases.map(\.rawValue) where d.cells.contains(where: { $0.concept == c }) {
                    out += "<tr><td>\(c)</td>"
                    for cat in categories {
                        if let cell = d.cells.first(where: { $0.concept == c && $0.category == cat }) {
                            out += String(format: "<td style=\"background:%@\" title=\"%d/%d\">%.3f</td>", heatColor(cell.accuracy) as NSString, cell.correct, cell.total, cell.accuracy)
                        } else { out += "<td class=\"muted\">–</td>" }
                    }
                    if let f = d.cells.filter({ $0.concept == c && $0.category.hasPrefix("frame:") }).min(by: { $0.accuracy < $1.accuracy }) {
                        out += String(format: "<td style=\"background:%@\">%@ %.3f</td>", heatColor(f.accuracy) as NSString, esc(String(f.category.dropFirst(6))) as NSString, f.accuracy)
                    } else { out += "<td class=\"muted\">–</td>" }
                    out += "</tr>\n"
                }
                out += "</table>\n<p>Focus: " + (d.focus.isEmpty ? (course.focus > 0 ? "nothing under the bar" : "focus loop off")
                    : d.focus.map { "\($0.concept.rawValue) / \(esc($0.category))" }.joined(separator: ", ")) + "</p>\n"
            }
        } else {
            out += "<p class=\"muted\">This run followed no course: no levels, mastery checks or diagnoses to show.</p>\n"
        }
        return out + "</body></html>\n"
    }
}
