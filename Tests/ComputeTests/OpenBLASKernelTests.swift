import XCTest
@testable import Compute

final class OpenBLASKernelTests: XCTestCase {
    /// The kernel chosen from CPU flags: AVX-512 (F, BW, DQ, VL) -> SkylakeX, AVX2+FMA -> Haswell,
    /// AVX -> Sandybridge, none -> keep OpenBLAS's own choice.
    func testBestCoreFromFlags() {
        XCTAssertEqual(OpenBLASKernel.bestCore(flags: ["sse2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"]), "SkylakeX")
        XCTAssertEqual(OpenBLASKernel.bestCore(flags: ["avx", "avx2", "fma", "avx512f"]), "Haswell", "AVX-512F alone is not SkylakeX")
        XCTAssertEqual(OpenBLASKernel.bestCore(flags: ["avx", "avx2"]), "Sandybridge", "AVX2 without FMA")
        XCTAssertNil(OpenBLASKernel.bestCore(flags: ["sse2", "sse3"]))
        XCTAssertFalse(OpenBLASKernel.coreName.isEmpty)
    }
}
