import Attachments
import Cameras
import CounterKitTestSupport
import DeviceHub
import Foundation
import Scanning
import SignaturePads
import Synchronization
import Testing

@Suite struct BlockingCallsTests {
    /// How many calls run at once, and the most seen.
    final class Concurrency: Sendable {
        private let state = Mutex<(running: Int, most: Int)>((0, 0))
        func enter() { state.withLock { $0.running += 1; $0.most = max($0.most, $0.running) } }
        func leave() { state.withLock { $0.running -= 1 } }
        var most: Int { state.withLock { $0.most } }
    }

    @Test func callsPastTheThreadCountWaitTheirTurnAndAllFinish() async {
        let calls = BlockingCalls(threads: 3, name: "test-blocking")
        let concurrency = Concurrency()
        let results = await withTaskGroup(of: Int.self) { group in
            for index in 0..<20 {
                group.addTask {
                    await calls.run { () throws(Never) -> Int in
                        concurrency.enter()
                        usleep(20_000)  // a blocking device call
                        concurrency.leave()
                        return index
                    }.get()
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(results.sorted() == Array(0..<20))
        #expect(concurrency.most <= 3 && concurrency.most >= 2, "at most the limit ran at once: \(concurrency.most)")
        #expect(calls.threadCount <= 3)
    }

    @Test func anErrorComesBackTyped() async {
        let result = await BlockingCalls.shared.run { () throws(ScanError) -> Int in throw ScanError(.jammed, "paper jam") }
        #expect(throws: ScanError(.jammed, "paper jam")) { try result.get() }
    }
}

@Suite struct DeviceSummaryTests {
    @Test func padsAreNamedOneWay() {
        let stu = USBHIDInterface(id: "usb:1-1:0", vendorID: STU.vendorID, productID: 0xA5, bus: 1, address: 2, interfaceNumber: 0,
                                  inEndpoint: 0x81, maxPacketSize: 64, manufacturer: nil, product: nil, serialNumber: nil)
        #expect(DeviceSummary(pad: stu) == DeviceSummary(id: "usb:1-1:0", kind: .signaturePad, vendor: "Wacom", model: "STU-530",
                                                          type: "signature pad (Wacom STU)"))
        let pen = USBHIDInterface(id: "usb:1-2:0", vendorID: 0x1b96, productID: 0x0f00, bus: 1, address: 3, interfaceNumber: 0,
                                  inEndpoint: 0x81, maxPacketSize: 64, manufacturer: "N-Trig", product: "DuoSense", serialNumber: nil)
        #expect(DeviceSummary(pad: pen, busy: true).line == "usb:1-2:0\tsignature_pad\tN-Trig DuoSense (signature pad (HID digitizer))\tbusy")
    }

    @Test func theCatalogListsTheTestScannerAndResolvesIds() async throws {
        let directory = try TemporaryDirectory()
        let scanner = DocumentScanner(store: try AttachmentStore(directory: directory.url), worker: SANETestEnvironment.launcher)
        let counts = Mutex<[DeviceKind: Int]>([:])
        let catalog = DeviceCatalog(scanner: scanner, cameras: CameraDiscovery(deviceDirectory: directory.path("no-cameras"))) { kind, count in
            counts.withLock { $0[kind] = count }
        }
        let list = await catalog.snapshot(refresh: false).list(busy: ["test:0"])
        let first = try #require(list.devices.first)
        #expect(first.id == "test:0" && first.kind == .scanner && first.busy && list.discoveredAt != nil, "\(list)")
        #expect(!list.devices.contains { $0.kind == .camera })
        #expect(counts.withLock { $0[.scanner] } == list.devices.filter { $0.kind == .scanner }.count)
        #expect(try await catalog.resolveScanner(nil) == "test:0")
        await #expect(throws: ScanError.self) { try await catalog.resolveScanner("nope:0") }
        await #expect(throws: CameraError(.deviceNotFound, "no camera found")) { try await catalog.resolveCamera(nil) }
    }
}
