import Foundation
import XCTest
@testable import Compute

/// Error paths and the program cache of the OpenCL runtime layer.
final class OpenCLRuntimeTests: XCTestCase {
    static let tinyKernel = """
    // y: [n] = x * 2
    __kernel void twice(__global const float* x, __global float* y, int n) {
        int i = get_global_id(0);
        if (i < n) y[i] = 2.0f * x[i];
    }
    """

    func testSyntaxErrorCarriesBuildLog() throws {
        let backend = try Shared.opencl()
        let source = "__kernel void broken(__global float* x) { x[0] = undefined_thing + ; }"
        XCTAssertThrowsError(try backend.context.program(source: source, file: "broken.cl", options: "")) { error in
            guard case let ComputeError.buildFailed(file, device, log) = error else {
                return XCTFail("expected buildFailed, got \(error)")
            }
            XCTAssertEqual(file, "broken.cl")
            XCTAssertEqual(device, backend.device.name)
            XCTAssertFalse(log.isEmpty)
            let text = "\(error)"
            XCTAssertTrue(text.contains("broken.cl"), text)
            XCTAssertTrue(text.contains(log), text)
            XCTAssertTrue(log.contains("undefined_thing") || log.lowercased().contains("error"), log)
        }
    }

    func testBufferAboveMaxAllocIsOutOfMemory() throws {
        let backend = try Shared.opencl()
        let limit = backend.device.maxAllocation
        XCTAssertThrowsError(try backend.makeBuffer(count: Int(limit / 4) + 1, dtype: .float32)) { error in
            guard let e = error as? ComputeError else { return XCTFail("\(error)") }
            XCTAssertTrue(e.isOutOfMemory, "\(e)")
            XCTAssertTrue("\(e)".contains("CL_DEVICE_MAX_MEM_ALLOC_SIZE"), "\(e)")
            XCTAssertTrue("\(e)".contains("\(limit)"), "\(e)")
        }
    }

    func testMemoryBudget() throws {
        let backend = try Shared.opencl()
        let context = try CLContext(device: backend.device, memoryLimit: 1 << 20)
        XCTAssertEqual(context.budget.limit, 1 << 20)
        var first: CLBuffer? = try context.makeBuffer(count: 150_000, dtype: .float32)
        XCTAssertEqual(context.budget.bytesInUse, 600_000)
        XCTAssertThrowsError(try context.makeBuffer(count: 150_000, dtype: .float32)) { error in
            XCTAssertTrue((error as? ComputeError)?.isOutOfMemory ?? false, "\(error)")
        }
        XCTAssertNotNil(first)
        first = nil
        XCTAssertEqual(context.budget.bytesInUse, 0)
        _ = try context.makeBuffer(count: 150_000, dtype: .float32)
    }

    func testStatusNamesAndOutOfMemoryCodes() {
        let e = ComputeError.openCL(call: "clEnqueueNDRangeKernel(attention_fwd)", status: -4)
        XCTAssertEqual(e.description, "CL_MEM_OBJECT_ALLOCATION_FAILURE (-4) in clEnqueueNDRangeKernel(attention_fwd)")
        for s: Int32 in [-4, -5, -61] { XCTAssertTrue(ComputeError.openCL(call: "x", status: s).isOutOfMemory) }
        XCTAssertFalse(ComputeError.openCL(call: "x", status: -11).isOutOfMemory)
    }

    func testDiskCacheEntryIsReusedAndCorruptionRebuilt() throws {
        let backend = try Shared.opencl()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cl-cache-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }

        func build() throws -> (ProgramDiskCache, CLProgram) {
            let context = try CLContext(device: backend.device)
            let cache = ProgramDiskCache(directory: dir)
            context.diskCache = cache
            let p = try context.program(source: Self.tinyKernel, file: "tiny.cl", options: "-D TINY=1")
            _ = try p.kernel("twice")
            return (cache, p)
        }

        let (c1, _) = try build()
        XCTAssertEqual(c1.misses, 1)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".clbin") }
        XCTAssertEqual(files.count, 1, "one entry written, no temp files left: \(files)")
        let entry = dir.appendingPathComponent(files[0])

        let (c2, _) = try build()
        XCTAssertEqual(c2.hits, 1, "second build loads the binary from disk")

        // Flip one payload byte: the checksum must catch it.
        var bytes = [UInt8](try Data(contentsOf: entry))
        bytes[bytes.count - 10] ^= 0x5A
        try Data(bytes).write(to: entry)
        let (c3, p3) = try build()
        XCTAssertEqual(c3.corrupt, 1, "a corrupt entry is detected")
        XCTAssertEqual(c3.hits, 0)
        _ = try p3.kernel("twice")

        // Truncate: detected likewise; the rebuilt entry is then valid again.
        let good = try Data(contentsOf: entry)
        try good.prefix(good.count / 2).write(to: entry)
        let (c4, _) = try build()
        XCTAssertEqual(c4.corrupt, 1)
        let (c5, _) = try build()
        XCTAssertEqual(c5.hits, 1)
    }

    func testDiskCacheEntryFormatRejectsWrongKey() {
        let payload: [UInt8] = Array(repeating: 7, count: 100)
        let bytes = ProgramDiskCache.encode(payload, keyText: "a")
        XCTAssertEqual(ProgramDiskCache.decode(bytes, keyText: "a"), payload)
        XCTAssertNil(ProgramDiskCache.decode(bytes, keyText: "b"))
        XCTAssertNil(ProgramDiskCache.decode(bytes + [0], keyText: "a"))
        XCTAssertNil(ProgramDiskCache.decode(Array(bytes.dropLast()), keyText: "a"))
    }

    func testReductionsAreDeterministic() throws {
        let backend = try Shared.opencl()
        var rng = Shared.rng("determinism")
        let values = (0..<50_000).map { _ in Float.random(in: -1...1, using: &rng) }
        let x = try backend.makeBuffer(values), out = try backend.makeBuffer(count: 1, dtype: .float32)
        var seen: Set<UInt32> = []
        for _ in 0..<3 {
            try backend.sum(x, count: values.count, out: out)
            seen.insert(try backend.download(out)[0].bitPattern)
        }
        XCTAssertEqual(seen.count, 1)
    }

    func testProfilingCollectsKernelTimes() throws {
        let shared = try Shared.opencl()
        let backend = try OpenCLBackend(device: shared.device, options: .init(profiling: true))
        let x = try backend.makeBuffer([Float](repeating: 1, count: 1000))
        try backend.scale(x, by: 2, count: 1000)
        try backend.synchronize()
        XCTAssertEqual(backend.kernelProfile["scale"]?.calls, 1)
        XCTAssertEqual(try backend.download(x)[999], 2)
    }

    func testBuffersFromAnotherBackendAreRejected() throws {
        let backend = try Shared.opencl()
        let cpuBuffer = try Shared.cpu.makeBuffer([Float](repeating: 1, count: 4))
        XCTAssertThrowsError(try backend.scale(cpuBuffer, by: 2, count: 4))
    }
}
