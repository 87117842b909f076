import Attachments
import CounterKitTestSupport
import Foundation
import SignaturePads
import Synchronization
import Testing

/// Collects a session's events from its reader thread.
final class EventLog: Sendable {
    private let events = Mutex<[SignatureEvent]>([])
    func append(_ event: SignatureEvent) { events.withLock { $0.append(event) } }
    var all: [SignatureEvent] { events.withLock { $0 } }
    var samples: [PenSample] {
        all.flatMap { event -> [PenSample] in
            if case .samples(let batch) = event { return batch }
            return []
        }
    }
    var ended: (SignatureSession.State, SignaturePadError?)? {
        for event in all { if case .ended(let state, let error) = event { return (state, error) } }
        return nil
    }
}

func waitUntil(_ seconds: Double = 5, _ condition: () -> Bool) {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition(), Date() < deadline { usleep(5000) }
}

let stuInterface = USBHIDInterface(
    id: "usb:1-1:0", vendorID: STU.vendorID, productID: 0xA5, bus: 1, address: 2, interfaceNumber: 0,
    inEndpoint: 0x81, maxPacketSize: 64, manufacturer: "Wacom Co.,Ltd.", product: "STU-530", serialNumber: nil)

/// A stroke of pen reports with time count and sequence, 5 ms apart (200 Hz).
func stroke(from start: Int, count: Int, skipping: Set<Int> = [], milliseconds interval: Int = 5) -> [STU.PenData] {
    (start..<start + count).filter { !skipping.contains($0) }.map { index in
        STU.PenData(
            ready: true, switches: index == start + count - 1 ? 0 : 1, pressure: UInt16(200 + index % 500),
            x: UInt16(1000 + index * 20), y: UInt16(3000 + (index % 50) * 10),
            timeCount: UInt16(truncatingIfNeeded: 65_000 + index * interval), sequence: UInt16(truncatingIfNeeded: 65_530 + index))
    }
}

@Suite(.ownThreads) struct SignatureSessionTests {
    @Test func theSTUDriverReadsThePadAndPollsStatusBeforeCommands() throws {
        let pad = STUEmulator(busyPollsPerCommand: 2)
        let driver = try STUDriver(transport: pad, interface: stuInterface, model: pad.model)
        #expect(driver.description.model == "STU-530" && driver.description.firmware == "2.10")
        #expect(driver.description.areaWidth == 108 && abs(driver.description.areaHeight - 64.8) < 1e-9)
        #expect(driver.description.screenWidth == 800 && driver.description.reportRate == 200 && driver.description.maxPressure == 1023)
        try driver.begin(prompt: nil)
        #expect(pad.sentCommands == [STU.Command.timeCountSequence, STU.Command.clearScreen, STU.Command.inking(true)])
        try driver.end()
        #expect(pad.sentCommands.suffix(2) == [STU.Command.inking(false), STU.Command.clearScreen])
    }

    @Test func thePromptIsDrawnOnThePadsScreenAsAOneBitImage() throws {
        let pad = STUEmulator()
        let driver = try STUDriver(transport: pad, interface: stuInterface, model: pad.model)
        try driver.begin(prompt: "I confirm the application above")
        #expect(
            pad.sentCommands == [
                STU.Command.timeCountSequence, STU.Command.startImage(.oneBit), STU.Command.endImage(commit: true),
                STU.Command.inking(true),
            ], "image blocks in between (190 of them)")
        let shown = try #require(pad.shownImage)
        #expect(shown.encoding == STU.ImageEncoding.oneBit.rawValue && shown.data.count == 800 * 480 / 8)
        func black(_ x: Int, _ y: Int) -> Bool { shown.data[y * 100 + x / 8] & (0x80 >> (x % 8)) == 0 }
        let line = PadPrompt(text: "", width: 800, height: 480).signingLineRow
        #expect((20..<780).allSatisfy { black($0, line) }, "the signing line")
        #expect((0..<800).contains { x in (20..<80).contains { black(x, $0) } }, "text near the top")
        #expect(!black(400, 300) && !black(5, 5), "white elsewhere")
        // Clearing the ink shows the prompt again.
        try driver.clear()
        #expect(pad.shownImage?.data == shown.data)
    }

    @Test func aPromptBlockThatTimesOutSendsTheImageAgainFromItsStart() throws {
        let pad = STUEmulator()
        pad.failImageBlockOnce(57)
        let driver = try STUDriver(transport: pad, interface: stuInterface, model: pad.model)
        try driver.begin(prompt: "Please sign")
        #expect(
            pad.sentCommands == [
                STU.Command.timeCountSequence, STU.Command.startImage(.oneBit), STU.Command.endImage(commit: false),
                STU.Command.startImage(.oneBit), STU.Command.endImage(commit: true), STU.Command.inking(true),
            ])
        let reference = STUEmulator()
        try STUDriver(transport: reference, interface: stuInterface, model: reference.model).begin(prompt: "Please sign")
        #expect(pad.shownImage?.data.count == 800 * 480 / 8 && pad.shownImage?.data == reference.shownImage?.data, "the whole image, once")
    }

    @Test func aSignatureArrivesWholeWithLostReportsCountedAndDeviceTime() throws {
        let pad = STUEmulator()
        let log = EventLog()
        let session = try SignatureSession(
            transport: pad, driver: STUDriver(transport: pad, interface: stuInterface, model: pad.model),
            onEvent: log.append)
        // 400 reports across the 16-bit sequence wrap, 3 of them lost on the way.
        pad.push(stroke(from: 0, count: 400, skipping: [10, 11, 250]))
        waitUntil { log.samples.count == 397 }
        let signature = try session.finish()
        #expect(signature.samples.count == 397 && signature.lostReports == 3)
        #expect(signature.samples.first?.time == 0 && signature.samples.last?.time == 399 * 5, "the pad's clock, unwrapped")
        #expect(signature.strokes.count == 1 && signature.samples[0].x == 10 && signature.samples[0].pressure == 200.0 / 1023)
        #expect(log.samples == signature.samples, "subscribers saw every sample, in order")
        #expect(log.ended?.0 == .finished && pad.isClosed)
        #expect(pad.sentCommands.last == STU.Command.clearScreen)
    }

    @Test func clearDropsTheInkAndAnUnplugKeepsTheSamplesSoFar() throws {
        let pad = STUEmulator()
        let log = EventLog()
        let session = try SignatureSession(
            transport: pad, driver: STUDriver(transport: pad, interface: stuInterface, model: pad.model),
            onEvent: log.append)
        pad.push(stroke(from: 0, count: 30))
        waitUntil { session.snapshot.samples.count == 30 }
        try session.clear()
        #expect(session.snapshot.samples.isEmpty && log.all.contains(.cleared))
        pad.push(stroke(from: 30, count: 20))
        waitUntil { session.snapshot.samples.count == 20 }
        pad.unplug()
        waitUntil { log.ended != nil }
        #expect(log.ended?.0 == .failed && log.ended?.1?.code == .deviceDisconnected)
        let error = #expect(throws: SignaturePadError.self) { try session.finish() }
        #expect(error?.code == .deviceDisconnected)
        #expect(session.partialSignature().samples.count == 20, "the failed session's data is kept")
    }

    @Test func aTimeoutFinishesAndCancelDrops() throws {
        let pad = STUEmulator()
        let log = EventLog()
        let session = try SignatureSession(
            transport: pad, driver: STUDriver(transport: pad, interface: stuInterface, model: pad.model),
            timeout: .milliseconds(200), onEvent: log.append)
        pad.push(stroke(from: 0, count: 5))
        waitUntil { log.ended != nil }
        #expect(log.ended?.0 == .finished)
        #expect(try session.finish().samples.count == 5)

        let other = STUEmulator()
        let cancelled = try SignatureSession(transport: other, driver: STUDriver(transport: other, interface: stuInterface, model: other.model))
        cancelled.cancel()
        let error = #expect(throws: SignaturePadError.self) { try cancelled.finish() }
        #expect(error?.code == .cancelled && other.isClosed)
    }

    @Test func anEndedSessionIsFreedWithItsDriverAndConnection() throws {
        // The reader thread held the session that holds the thread: every session leaked (LeakSanitizer found it).
        weak var released: SignatureSession?
        weak var releasedPad: STUEmulator?
        do {
            let pad = STUEmulator()
            let session = try SignatureSession(transport: pad, driver: STUDriver(transport: pad, interface: stuInterface, model: pad.model))
            pad.push(stroke(from: 0, count: 5))
            released = session
            releasedPad = pad
            _ = try session.finish()
        }
        waitUntil { released == nil && releasedPad == nil }
        #expect(released == nil, "the session is freed once it has ended and nobody holds it")
        #expect(releasedPad == nil, "and with it the driver and the connection")
    }

    @Test func theOutputsAreStoredAsFourAttachments() throws {
        let directory = try TemporaryDirectory("signature-outputs")
        let store = try AttachmentStore(directory: directory.url)
        let manifests = try SignatureOutputs(store: store, style: SignatureStyle(size: (600, 200))).save(sampleSignature())
        #expect(manifests.map(\.format) == [.png, .svg, .iso19794, .json])
        #expect(manifests.allSatisfy { $0.kind == .signature && $0.device == "usb:1-1:0" && $0.sha256.count == 64 })
        #expect(manifests[0].pixelWidth == 600 && manifests[0].settings["samples"] == "2000")
        let signature = sampleSignature()
        let check = SignatureFilesCheck(samples: 2000, touchingSamples: signature.samples.filter(\.touching).count, pngSize: (600, 200))
        #expect(check.problems(in: store, manifests).isEmpty, "\(check.problems(in: store, manifests))")
        // And after the store is opened again, as a restarted service would.
        let reopened = try AttachmentStore(directory: directory.url, verifyHashes: true)
        #expect(check.problems(in: reopened, manifests).isEmpty, "\(check.problems(in: reopened, manifests))")
        let empty = Signature(device: "x", model: "x", areaWidth: 1, areaHeight: 1, capturedAt: Date(), samples: [])
        #expect(throws: SignaturePadError.self) { try SignatureOutputs(store: store).save(empty) }
        #expect(store.list().count == 4, "nothing is left from the refused one")
    }
}
