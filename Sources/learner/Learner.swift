import ArgumentParser
import Compute

@main
struct Learner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learner",
        abstract: "Teaches a small model school mathematics, one grade at a time.",
        subcommands: [TrainCommand.self, EvalCommand.self, AskCommand.self, LessonsCommand.self, DevicesCommand.self])
}

/// Until the OpenCL backend lands, every request runs on the CPU backend.
func selectBackend(_ device: String, threads: Int?) throws -> (any Backend, String?) {
    switch device {
    case "cpu": return (CPUBackend(threads: threads), nil)
    case "auto": return (CPUBackend(threads: threads), "device auto: no OpenCL backend in this build; using the CPU backend")
    default: throw ValidationError("--device \(device): only auto and cpu are available in this build")
    }
}

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "devices", abstract: "List compute devices.")
    func run() throws { print(CPUBackend().description) }
}
