import Foundation

/// What `--device` asked for.
public enum DeviceRequest: Equatable, Sendable, CustomStringConvertible {
    /// The first OpenCL GPU or accelerator, else the CPU backend (with a one-line notice).
    case auto
    /// The native CPU backend.
    case cpu
    /// The first OpenCL device of any type (PoCL included); an error if there is none.
    case opencl
    /// `opencl:P.D`: device D of platform P as `learner devices` numbers them.
    case openclIndex(platform: Int, device: Int)

    public static let expectedForms = "auto, cpu, opencl or opencl:P.D (e.g. opencl:0.0)"

    /// Parses `auto`, `cpu`, `opencl` or `opencl:P.D` (case-insensitive, surrounding spaces ignored).
    public init(parsing text: String) throws {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        switch s {
        case "auto": self = .auto
        case "cpu": self = .cpu
        case "opencl": self = .opencl
        default:
            if s.hasPrefix("opencl:") {
                let parts = s.dropFirst("opencl:".count).split(separator: ".", omittingEmptySubsequences: false)
                if parts.count == 2, let p = Int(parts[0]), let d = Int(parts[1]), p >= 0, d >= 0,
                   parts[0].allSatisfy(\.isNumber), parts[1].allSatisfy(\.isNumber) {
                    self = .openclIndex(platform: p, device: d)
                    return
                }
            }
            throw ComputeError.invalidArgument("unknown device '\(text)'; expected \(DeviceRequest.expectedForms)")
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .cpu: return "cpu"
        case .opencl: return "opencl"
        case let .openclIndex(p, d): return "opencl:\(p).\(d)"
        }
    }
}

/// The device `auto` picks from an inventory (before any kernel is built), and why.
public func autoDeviceChoice(_ inventory: OpenCLInventory) -> (device: OpenCLDeviceInfo?, reason: String) {
    if let problem = inventory.problem, inventory.devices.isEmpty {
        return (nil, "\(problem), so auto uses the CPU backend")
    }
    if let d = inventory.devices.first(where: { ($0.type == .gpu || $0.type == .accelerator) && $0.available }) {
        return (d, "\(d.selector) is the first OpenCL \(d.type.rawValue)")
    }
    let others = inventory.devices.map { "\($0.selector) \($0.type.rawValue)" }.joined(separator: ", ")
    return (nil, "no OpenCL GPU or accelerator (only \(others.isEmpty ? "no devices" : others)), so auto uses the CPU backend")
}

/// Makes the backend for `req`. `auto` never throws for want of OpenCL: it falls back to
/// `CPUBackend` and returns a one-line notice saying why. Explicit OpenCL requests throw.
public func makeBackend(_ req: DeviceRequest, threads: Int?,
                        openCLOptions: OpenCLBackend.Options = OpenCLBackend.Options()) throws -> (backend: any Backend, notice: String?) {
    switch req {
    case .cpu:
        return (CPUBackend(threads: threads), nil)
    case .opencl:
        return (try OpenCLBackend(options: openCLOptions), nil)
    case let .openclIndex(p, d):
        return (try OpenCLBackend(platform: p, device: d, options: openCLOptions), nil)
    case .auto:
        let inventory = OpenCLRuntime.inventory()
        let choice = autoDeviceChoice(inventory)
        guard let device = choice.device else {
            return (CPUBackend(threads: threads), "device auto: \(choice.reason)")
        }
        do {
            let backend = try OpenCLBackend(device: device, options: openCLOptions)
            try backend.prepare()
            return (backend, nil)
        } catch {
            let first = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            return (CPUBackend(threads: threads),
                    "device auto: \(device.selector) \(device.name) failed (\(first)), so auto uses the CPU backend")
        }
    }
}

/// What `learner devices` prints: every platform and device with its capabilities, and what
/// `auto` picks and why. Works with no OpenCL driver installed at all.
public struct DeviceReport: Sendable {
    public let inventory: OpenCLInventory
    /// `opencl:P.D` or `cpu`.
    public let autoPick: String
    public let autoReason: String

    public init(inventory: OpenCLInventory = OpenCLRuntime.inventory()) {
        self.inventory = inventory
        let choice = autoDeviceChoice(inventory)
        autoPick = choice.device.map { "\($0.selector) (\($0.name))" } ?? "cpu"
        autoReason = choice.reason
    }

    /// The table as printed by `learner devices`.
    public var text: String {
        var lines: [String] = []
        if inventory.platforms.isEmpty {
            lines.append("OpenCL: \(inventory.problem ?? "no platform")")
        }
        let header = ["DEVICE", "TYPE", "NAME", "VENDOR", "OPENCL", "DRIVER", "GLOBAL MEM", "MAX ALLOC", "CUs", "FP16"]
        for p in inventory.platforms {
            lines.append("Platform \(p.index): \(p.name) — \(p.vendor) — \(p.version)")
            if p.devices.isEmpty { lines.append("  (no devices)"); continue }
            var rows = [header]
            for d in p.devices {
                rows.append([d.selector, d.type.rawValue + (d.available ? "" : " (unavailable)"), d.name, d.vendor,
                             d.openCLVersion.split(separator: " ").prefix(2).joined(separator: " "), d.driverVersion, Self.bytes(d.globalMemory), Self.bytes(d.maxAllocation),
                             "\(d.computeUnits)", d.hasFP16 ? "yes" : "no"])
            }
            let widths = header.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
            for r in rows {
                lines.append("  " + r.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
            }
        }
        lines.append("auto picks: \(autoPick): \(autoReason)")
        return lines.joined(separator: "\n")
    }

    static func bytes(_ b: UInt64) -> String {
        let gib = Double(b) / 1_073_741_824
        if gib >= 1 { return String(format: "%.1f GiB", gib) }
        return String(format: "%.0f MiB", Double(b) / 1_048_576)
    }
}
