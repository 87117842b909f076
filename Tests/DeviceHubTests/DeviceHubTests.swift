import Attachments
import Cameras
import CounterKitCore
import CounterKitTestSupport
import DeviceHub
import DeviceHubTesting
import Foundation
import Scanning
import SignaturePads
import Synchronization
import Testing

@Suite struct BlockingCallsTests {
    /// How many calls run at once, and the most seen.
    final class Concurrency: Sendable {
        private let state = Mutex<(running: Int, most: Int)>((0, 0))
        func enter() {
            state.withLock {
                $0.running += 1; $0.most = max($0.most, $0.running)
            }
        }
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
        let stu = USBHIDInterface(
            id: "usb:1-1:0", vendorID: STU.vendorID, productID: 0xA5, bus: 1, address: 2, interfaceNumber: 0,
            inEndpoint: 0x81, maxPacketSize: 64, manufacturer: nil, product: nil, serialNumber: nil)
        #expect(
            DeviceSummary(pad: stu)
                == DeviceSummary(
                    id: "usb:1-1:0", kind: .signaturePad, vendor: "Wacom", model: "STU-530",
                    type: "signature pad (Wacom STU)"))
        let pen = USBHIDInterface(
            id: "usb:1-2:0", vendorID: 0x1b96, productID: 0x0f00, bus: 1, address: 3, interfaceNumber: 0,
            inEndpoint: 0x81, maxPacketSize: 64, manufacturer: "N-Trig", product: "DuoSense", serialNumber: nil)
        #expect(DeviceSummary(pad: pen, busy: true).line == "usb:1-2:0\tsignature_pad\tN-Trig DuoSense (signature pad (HID digitizer))\tbusy")
    }

    @Test func theCatalogListsTheTestScannerAndResolvesIds() async throws {
        let directory = try TemporaryDirectory()
        let scanner = SANEScanner(store: try AttachmentStore(directory: directory.url), worker: SANETestEnvironment.launcher)
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

/// The fake an integrator tests against: real files, real codes, a record of requests.
@Suite struct FakeDeviceHubTests {
    @Test func itListsScansPhotographsAndExportsRealFiles() async throws {
        let directory = try TemporaryDirectory()
        let hub = FakeDeviceHub(store: try AttachmentStore(directory: directory.url))
        #expect(try await hub.devices(refresh: false).devices.map(\.id) == ["fake:scanner", "fake:camera", "fake:pad"])

        let png = try await hub.scan(ScanRequest(resolution: 100, format: .png)) { _ in }
        #expect(png.device == "fake:scanner" && png.pages == 1 && png.attachments.count == 1)
        let path = directory.path("page.png")
        try await hub.export(png.attachments[0], to: path)
        let image = try DecodedImage.png(atPath: path)
        #expect(image.width == 200 && image.height == 300 && image.channels == 3)
        #expect(try AttachmentStore.hashFile(atPath: path).sha256 == png.attachments[0].sha256)

        let feeder = try await hub.scan(ScanRequest(source: .adf, mode: .gray, resolution: 50, format: .pdf, maxPages: 3)) { _ in }
        #expect(feeder.pages == 3 && feeder.attachments.count == 1 && feeder.attachments[0].pages == 3)
        let pdf = try Data(contentsOf: hub.store.fileURL(id: feeder.attachments[0].id))
        #expect(pdf.starts(with: Data("%PDF-".utf8)) && String(decoding: pdf, as: UTF8.self).contains("/Count 3"))

        let photo = try await hub.photo(PhotoRequest())
        let jpeg = try DecodedImage.jpeg([UInt8](try Data(contentsOf: hub.store.fileURL(id: photo.attachments[0].id))))
        #expect(jpeg.width == 640 && jpeg.height == 480 && photo.device == "fake:camera")
        #expect(hub.scanRequests.count == 2 && hub.photoRequests.count == 1)
    }

    /// A session on the fake pad: its ink arrives as events, finishing stores the four real signature files (read back
    /// and checked), one session per pad, and an ended session refuses more.
    @Test func aSignatureSessionStreamsItsInkAndStoresTheFourFiles() async throws {
        let directory = try TemporaryDirectory()
        let hub = FakeDeviceHub(store: try AttachmentStore(directory: directory.url))
        let session = try await hub.startSignature(SignatureRequest(prompt: "Sign here", style: SignatureStyle(size: (600, 200))))
        #expect(session.device == "fake:pad" && session.state == .capturing && hub.signatureRequests.first?.prompt == "Sign here")
        await #expect(throws: DeviceHubError(.deviceBusy, "fake:pad has a signature session; finish or cancel it first")) {
            try await hub.startSignature(SignatureRequest())
        }
        let events = try await hub.signatureEvents(session.id)
        let collected = Task {
            var all: [SignatureStreamEvent] = []; for try await event in events { all.append(event) }; return all
        }
        let finished = try await hub.finishSignature(session.id)
        let seen = try await collected.value
        #expect(seen.count == 3 && seen.first == .state(session) && seen.last == .ended(finished), "\(seen.count) events")
        if case .points(let points) = seen[1] {
            #expect(points.count == 401 && points.filter(\.touching).count == 400)
        } else {
            Issue.record("the second event is not the ink: \(seen[1])")
        }
        #expect(finished.state == .finished && finished.attachments.map(\.format) == [.png, .svg, .iso19794, .json])
        let problems = SignatureFilesCheck(samples: 401, touchingSamples: 400, pngSize: (600, 200)).problems(in: hub.store, finished.attachments)
        #expect(problems.isEmpty, "\(problems)")
        await #expect(throws: DeviceHubError(.sessionFinished, "the session has already finished")) { try await hub.cancelSignature(session.id) }
        let next = try await hub.startSignature(SignatureRequest())
        #expect(try await hub.cancelSignature(next.id).state == .cancelled && hub.store.list().count == 4, "a cancel stores nothing")
        let rate = try await hub.measureFrameRate(PhotoRequest(), duration: .seconds(2))
        #expect(rate.framesPerSecond == 30 && rate.size == FrameSize(width: 640, height: 480))
    }

    @Test func aScriptedFailureComesOnceWithItsCodeAndStoresNothing() async throws {
        let directory = try TemporaryDirectory()
        let hub = FakeDeviceHub(store: try AttachmentStore(directory: directory.url))
        hub.failNext(on: "fake:scanner", with: DeviceHubError(.jammed, "paper jam"))
        await #expect(throws: DeviceHubError(.jammed, "paper jam")) { try await hub.scan(ScanRequest()) { _ in } }
        #expect(hub.store.list().isEmpty)
        #expect(try await hub.scan(ScanRequest(resolution: 50)) { _ in }.attachments.count == 1)
        await #expect(throws: DeviceHubError(.deviceNotFound, "no scanner 'nope'")) { try await hub.scan(ScanRequest(device: "nope")) { _ in } }
    }
}

/// The devices of this process: the SANE test backend.
@Suite struct LocalDeviceHubTests {
    @Test func itScansTheTestScannerAndOneCaptureHoldsTheDevice() async throws {
        let directory = try TemporaryDirectory()
        let store = try AttachmentStore(directory: directory.url)
        let hub = LocalDeviceHub(
            store: store, scanner: SANEScanner(store: store, worker: SANETestEnvironment.launcher),
            cameras: CameraDiscovery(deviceDirectory: directory.path("no-cameras")))
        #expect(try await hub.devices(refresh: false).devices.first?.id == "test:0")
        let detail = try await hub.scanner("test:0")
        #expect(detail.device.id == "test:0" && !detail.options.isEmpty && detail.capabilities.resolutions != nil)

        // A slow scan holds test:0; a second capture on it in this process is refused, not queued.
        var slow = ScanRequest(device: "test:0", resolution: 50, options: ["read-delay": "yes", "read-delay-duration": "100000"])
        slow.idleTimeout = 30
        let request = slow
        let first = Task { try await hub.scan(request) { _ in } }
        #expect(await eventually(within: .seconds(30)) { await hub.busyDevices().contains("test:0") }, "the slow scan holds test:0")
        await #expect(throws: DeviceHubError.self) { try await hub.scan(ScanRequest(device: "test:0", resolution: 50)) { _ in } }
        let capture = try await first.value
        #expect(capture.device == "test:0" && capture.pages == 1 && capture.settings["resolution"] == "50")
        let path = directory.path("page.jpg")
        try await hub.export(capture.attachments[0], to: path)
        #expect(try AttachmentStore.hashFile(atPath: path).sha256 == capture.attachments[0].sha256)
        #expect(try await hub.scan(ScanRequest(device: "test:0", resolution: 50)) { _ in }.attachments.count == 1, "released after")
        // Scans here are the hub's jobs, as in the service: the same records, the device named, settings kept.
        let jobs = await hub.jobs.jobs()
        #expect(jobs.count == 2 && jobs.allSatisfy { $0.kind == .scan && $0.device == "test:0" && $0.state == .completed })
    }

    /// The scanner's defaults from configuration apply under the request's own options.
    @Test func deviceDefaultsApplyUnderTheRequestsOwnOptions() async throws {
        let directory = try TemporaryDirectory()
        let store = try AttachmentStore(directory: directory.url)
        let hub = LocalDeviceHub(
            store: store, scanner: SANEScanner(store: store, worker: SANETestEnvironment.launcher),
            cameras: CameraDiscovery(deviceDirectory: directory.path("no-cameras")),
            deviceOptions: ["test:0": ["test-picture": "Color pattern"]])
        let capture = try await hub.scan(ScanRequest(device: "test:0", mode: .color, resolution: 50)) { _ in }
        #expect(capture.settings["option.test-picture"] == "Color pattern" && capture.settings["mode"] == "color", "\(capture.settings)")
        await #expect(throws: DeviceHubError.self) { try await hub.measureFrameRate(PhotoRequest(), duration: .seconds(1)) }
    }
}
