import ArgumentParser
import Foundation
import Training

/// `learner fuzz`: the seeded mutation fuzzer over the readers of untrusted input (Tools/fuzz.sh
/// runs it at 10^6 inputs per reader). The same seed replays the same inputs, so a crash is
/// reproduced by rerunning with the seed (and narrowed with --inputs).
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Fuzz the question-file reader, the tokenizer and the checkpoint reader with seeded mutations.")

    @Option(help: "questions, tokenizer, checkpoint or all.") var target = "all"
    @Option(help: "Inputs per reader.") var inputs = 100_000
    @Option(help: "Seed of the mutations (the same seed replays the same inputs).") var seed: UInt64 = 1

    func run() throws {
        guard inputs >= 1 else { throw ValidationError("--inputs \(inputs) must be at least 1") }
        let targets: [Fuzzer.Target]
        if target == "all" { targets = Fuzzer.Target.allCases } else if let t = Fuzzer.Target(rawValue: target) { targets = [t] } else {
            throw ValidationError("--target \(target) is not a reader (expected questions, tokenizer, checkpoint or all)")
        }
        setvbuf(stdout, nil, _IOLBF, 0)
        print("reader      inputs    rejected  inputs/s  slowest     peak RSS")
        for t in targets {
            var fuzzer = Fuzzer(target: t, seed: seed)
            let r = fuzzer.campaign(count: inputs)
            print(String(format: "%-10@ %8d  %8d  %8.0f  %7.4f s  %6.1f MiB", t.rawValue as NSString, r.inputs, r.rejected,
                         Double(r.inputs) / max(r.seconds, 1e-9), r.slowest, Self.peakRSSMiB()))
        }
        print("crashes: 0 (the process is still running)")
    }

    /// VmHWM from /proc (Linux): the peak resident set so far.
    static func peakRSSMiB() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
        return kb / 1024
    }
}
