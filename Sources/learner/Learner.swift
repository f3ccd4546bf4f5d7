import ArgumentParser
import Compute
import Foundation

@main
struct Learner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learner",
        abstract: "Teaches a small model school mathematics, one grade at a time.",
        subcommands: [TrainCommand.self, EvalCommand.self, AskCommand.self, LessonsCommand.self, DevicesCommand.self,
                      BenchCommand.self, ProfileCommand.self, FuzzCommand.self, CourseCommand.self, ReportCommand.self, GoldenCommand.self])

    /// Before anything runs: make sure OpenBLAS uses the GEMM kernel this CPU supports
    /// (see `OpenBLASKernel`), then parse the command line as usual.
    static func main() {
        OpenBLASKernel.reexecWithBestKernelIfGeneric()
        Self.main(nil)
    }
}

/// Parses --device and makes the backend; `auto` falls back to the CPU with a one-line notice.
func selectBackend(_ device: String, threads: Int?, options: OpenCLBackend.Options = OpenCLBackend.Options())
    throws -> (any Backend, String?) {
    let request: DeviceRequest
    do { request = try DeviceRequest(parsing: device) } catch { throw ValidationError("--device: \(error)") }
    let made = try makeBackend(request, threads: threads, openCLOptions: options)
    return (made.backend, made.notice)
}

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List every OpenCL platform and device, and what --device auto picks and why.")

    func run() throws {
        print(DeviceReport().text)
    }
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (figures, not tests).", subcommands: [GemmBench.self, TrainBench.self, HalfBench.self, GeluBench.self])

    struct GemmBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gemm", abstract: "GEMM GFLOP/s of the CPU backend and OpenCL+CLBlast side by side.")
        @Option(help: "Square sizes, comma separated.") var sizes = "256,512,1024,2048"
        @Option(help: "Timed runs per size (the median is reported).") var repeats = 5
        @Option(help: "OpenCL device for the peer column: opencl or opencl:P.D.") var device = "opencl"
        @Option(help: "CPU threads.") var threads: Int?

        func run() throws {
            let list = try sizes.split(separator: ",").map { s -> Int in
                guard let n = Int(s.trimmingCharacters(in: .whitespaces)), n > 0 else {
                    throw ValidationError("--sizes '\(sizes)' must be positive integers separated by commas")
                }
                return n
            }
            guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
            let cpu = CPUBackend(threads: threads)
            var peer: (any Backend)?
            do {
                let (b, _) = try selectBackend(device, threads: threads)
                peer = b.kind == .opencl ? b : nil
            } catch {
                FileHandle.standardError.write(Data("no OpenCL peer: \(error)\n".utf8))
            }
            let rows = try GemmBenchmark.run(sizes: list, repeats: repeats, cpu: cpu, opencl: peer)
            print(GemmBenchmark.table(rows, cpuName: cpu.description, openclName: peer?.description))
        }
    }

    struct GeluBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gelu", abstract: "CPU GELU forward and backward: the vectorised kernel beside the scalar erff loop.")
        @Option(help: "Elements per run.") var count = 1 << 20
        @Option(help: "Interleaved rounds (medians are reported).") var rounds = 9

        func run() throws {
            guard count >= 1, rounds >= 1 else { throw ValidationError("--count and --rounds must be at least 1") }
            print(GeluBenchmark.table(GeluBenchmark.run(count: count, rounds: rounds), count: count), terminator: "")
        }
    }

    struct HalfBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "half", abstract: "CPU fp32<->fp16 conversions: Swift Float16 beside the backend's integer code.")
        @Option(help: "Elements per conversion run.") var count = 1 << 22
        @Option(help: "Timed runs (the median is reported).") var repeats = 7

        func run() throws {
            guard count >= 1, repeats >= 1 else { throw ValidationError("--count and --repeats must be at least 1") }
            print(HalfConversionBenchmark.table(HalfConversionBenchmark.run(count: count, repeats: repeats), count: count))
        }
    }
}
