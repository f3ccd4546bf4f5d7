import XCTest
@testable import Compute

final class DeviceSelectionTests: XCTestCase {
    func testParsesTheAcceptedForms() throws {
        XCTAssertEqual(try DeviceRequest(parsing: "auto"), .auto)
        XCTAssertEqual(try DeviceRequest(parsing: "cpu"), .cpu)
        XCTAssertEqual(try DeviceRequest(parsing: " OpenCL "), .opencl)
        XCTAssertEqual(try DeviceRequest(parsing: "opencl:1.2"), .openclIndex(platform: 1, device: 2))
        XCTAssertEqual(DeviceRequest.openclIndex(platform: 0, device: 3).description, "opencl:0.3")
    }

    func testRejectsBadFormsWithOneLine() {
        for bad in ["gpu", "", "opencl:", "opencl:1", "opencl:a.b", "opencl:0.0.1", "opencl:-1.0", "opencl:+1.0", "cuda:0"] {
            XCTAssertThrowsError(try DeviceRequest(parsing: bad), bad) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("'\(bad)'"), text)
                XCTAssertTrue(text.contains("opencl:P.D"), text)
                XCTAssertFalse(text.contains("\n"), text)
            }
        }
    }

    func testCPURequest() throws {
        let (backend, notice) = try makeBackend(.cpu, threads: 1)
        XCTAssertEqual(backend.kind, .cpu)
        XCTAssertNil(notice)
    }

    func testAutoFallsBackWithOneLineNoticeWithoutGPU() throws {
        let inventory = Shared.inventory
        if inventory.devices.contains(where: { $0.type == .gpu || $0.type == .accelerator }) {
            throw XCTSkip("this machine has an OpenCL GPU or accelerator")
        }
        let (backend, notice) = try makeBackend(.auto, threads: 1)
        XCTAssertEqual(backend.kind, .cpu)
        let line = try XCTUnwrap(notice)
        XCTAssertFalse(line.contains("\n"), line)
        XCTAssertTrue(line.contains("CPU backend"), line)
    }

    func testExplicitOpenCLUsesFirstDeviceOfAnyType() throws {
        _ = try Shared.opencl() // skips without a platform
        let (backend, _) = try makeBackend(.opencl, threads: nil, openCLOptions: .init(diskCache: false))
        XCTAssertEqual(backend.kind, .opencl)
        XCTAssertTrue(backend.description.hasPrefix("opencl:0.0"), backend.description)
        XCTAssertThrowsError(try makeBackend(.openclIndex(platform: 99, device: 0), threads: nil)) { error in
            XCTAssertTrue("\(error)".contains("opencl:99.0"), "\(error)")
        }
    }

    func testReportListsDevicesAndAutoChoice() throws {
        let report = DeviceReport(inventory: Shared.inventory)
        let text = report.text
        for d in Shared.inventory.devices {
            XCTAssertTrue(text.contains(d.selector), text)
            XCTAssertTrue(text.contains(d.name), text)
        }
        XCTAssertTrue(text.contains("auto picks: "), text)
        if !Shared.inventory.devices.contains(where: { $0.type == .gpu || $0.type == .accelerator }) {
            XCTAssertEqual(report.autoPick, "cpu")
        }
    }

    func testReportWithoutAnyOpenCLDriver() {
        let report = DeviceReport(inventory: OpenCLInventory(platforms: [], problem: "no OpenCL platform (no ICD installed or none registered)"))
        XCTAssertEqual(report.autoPick, "cpu")
        XCTAssertTrue(report.text.contains("no OpenCL platform"), report.text)
        XCTAssertTrue(report.text.contains("auto picks: cpu"), report.text)
    }
}
