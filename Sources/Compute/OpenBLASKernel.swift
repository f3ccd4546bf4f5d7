import CBLAS
import Foundation

/// Which GEMM kernel OpenBLAS runs, and getting the right one on CPUs it does not recognise.
///
/// Why: Debian 12's OpenBLAS (0.3.21, a DYNAMIC_ARCH build) picks its kernel from the CPU model
/// at load time and falls back to the generic SSE3 "Prescott" kernel on models newer than it
/// knows, even when the CPU has AVX-512. On this project's 2-core Xeon that ran SGEMM at 30–40
/// GFLOP/s instead of 140–270 (Docs/BENCHMARKS.md). OpenBLAS reads `OPENBLAS_CORETYPE` only
/// when the library loads, so the fix is to set it and start the process again, once.
public enum OpenBLASKernel {
    /// The kernel OpenBLAS chose, e.g. "SkylakeX", "Haswell", "Prescott".
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// Generic kernels OpenBLAS falls back to.
    static let generic: Set<String> = ["prescott", "core2", "katmai", "coppermine", "northwood", "banias", "atom", "nano"]

    /// The best kernel the CPU's flags (/proc/cpuinfo) support, or nil if none better than generic.
    static func bestCore(flags: Set<Substring>) -> String? {
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        if flags.contains("avx") { return "Sandybridge" }
        return nil
    }

    static func cpuFlags() -> Set<Substring> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(separator: " "))
    }

    /// If OpenBLAS fell back to a generic kernel on a CPU that supports a better one and the
    /// user chose none, re-executes this process with `OPENBLAS_CORETYPE` set (Linux only).
    /// Returns only when nothing needs doing or the re-exec failed.
    public static func reexecWithBestKernelIfGeneric() {
        guard getenv("OPENBLAS_CORETYPE") == nil, generic.contains(coreName.lowercased()),
              let best = bestCore(flags: cpuFlags()) else { return }
        setenv("OPENBLAS_CORETYPE", best, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returns only on failure: carry on with the generic kernel.
        unsetenv("OPENBLAS_CORETYPE")
    }
}
