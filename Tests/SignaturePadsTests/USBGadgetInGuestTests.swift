import CounterKitTestSupport
import Foundation
import SignaturePads
import Testing

/// The libusb transport and the generic digitizer driver against a real USB HID device: a kernel
/// gadget on dummy_hcd in the test VM, described by a real pen's report descriptor.
@Suite(.ownThreads, .serialized, .enabled(if: insideTestVM, "runs in the test VM (scripts/vm-run)"))
struct USBGadgetInGuestTests {
    static let goodix = (vendor: GoodixPen.vendor, product: GoodixPen.product)

    /// Waits for the gadget to show up on the bus (enumeration takes a moment after plugging).
    func waitForInterface(vendor: UInt16, product: UInt16, excluding: Set<UInt8> = []) throws -> USBHIDInterface {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let found = try USBTransport.hidInterfaces().first(where: {
                $0.vendorID == vendor && $0.productID == product && !excluding.contains($0.address)
            }) {
                return found
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw TestVMError(message: "the gadget \(String(vendor, radix: 16)):\(String(product, radix: 16)) did not appear on the bus")
    }

    @Test func aPenGadgetIsFoundReadAndDecoded() throws {
        let descriptorBytes = try GoodixPen.descriptor()
        let gadget = try HIDGadget(
            name: "pen", vendorID: Self.goodix.vendor, productID: Self.goodix.product,
            product: "Test pen", reportDescriptor: descriptorBytes)
        defer { gadget.remove() }
        let interface = try waitForInterface(vendor: Self.goodix.vendor, product: Self.goodix.product)
        #expect(interface.product == "Test pen" && interface.manufacturer == "CounterKit tests")
        #expect(interface.id.hasPrefix("usb:") && interface.inEndpoint & 0x80 != 0)

        let connection = try HIDConnection(interface)
        defer { connection.close() }
        #expect(try connection.reportDescriptor() == descriptorBytes, "GET_DESCRIPTOR 0x22 returns the gadget's descriptor")
        let pen = try PenDigitizer(descriptor: HIDReportDescriptor(try connection.reportDescriptor()))

        let strokes: [(UInt16, UInt16, UInt16)] = [(100, 200, 1000), (2560, 1600, 2048), (5120, 3200, 4095)]
        let sender = Thread { for (x, y, p) in strokes { try? gadget.send(GoodixPen.report(x: x, y: y, pressure: p)) } }
        sender.start()
        var samples: [PenSample] = []
        while samples.count < strokes.count {
            guard let report = try connection.readInputReport(timeoutMilliseconds: 5000) else { break }
            if let sample = try pen.decode(report, time: Double(samples.count)) { samples.append(sample) }
        }
        #expect(samples.count == 3)
        #expect(samples.allSatisfy { $0.touching && $0.inRange })
        #expect(abs(samples[1].x - 91.15) < 1e-6 && abs(samples[2].pressure - 1) < 1e-9)
        #expect(abs(samples[0].pressure - 1000.0 / 4095) < 1e-9)
    }

    @Test func unplugGivesDeviceDisconnectedAndAReplugWorksAgain() throws {
        let gadget = try HIDGadget(
            name: "replug", vendorID: Self.goodix.vendor, productID: Self.goodix.product,
            product: "Replug pen", reportDescriptor: try GoodixPen.descriptor())
        defer { gadget.remove() }
        let first = try waitForInterface(vendor: Self.goodix.vendor, product: Self.goodix.product)
        let connection = try HIDConnection(first)
        try gadget.unplug()
        let error = #expect(throws: SignaturePadError.self) {
            for _ in 0..<50 { _ = try connection.readInputReport(timeoutMilliseconds: 100) }
        }
        #expect(error?.code == .deviceDisconnected)
        connection.close()

        try gadget.plug()
        let again = try waitForInterface(vendor: Self.goodix.vendor, product: Self.goodix.product)
        #expect(again.id == first.id, "the same port gives the same id")
        let reconnected = try HIDConnection(again)
        defer { reconnected.close() }
        let sender = Thread { try? gadget.send(GoodixPen.report(x: 5120, y: 0, pressure: 10)) }
        sender.start()
        let report = try #require(try reconnected.readInputReport(timeoutMilliseconds: 5000))
        #expect(report.first == 0x08 && report.count == 13)
    }

    @Test func twoPadsCaptureAtOnceAndAnUnplugFailsOnlyItsSession() throws {
        let descriptor = try GoodixPen.descriptor()
        let left = try HIDGadget(
            name: "left", vendorID: Self.goodix.vendor, productID: Self.goodix.product,
            product: "Left pen", reportDescriptor: descriptor, controller: 0)
        defer { left.remove() }
        let right = try HIDGadget(
            name: "right", vendorID: Self.goodix.vendor, productID: 0x0114,
            product: "Right pen", reportDescriptor: descriptor, controller: 1)
        defer { right.remove() }
        let leftInterface = try waitForInterface(vendor: Self.goodix.vendor, product: Self.goodix.product)
        let rightInterface = try waitForInterface(vendor: Self.goodix.vendor, product: 0x0114)
        #expect(leftInterface.id != rightInterface.id)

        let (leftConnection, leftDriver) = try SignaturePadDrivers.open(leftInterface)
        let (rightConnection, rightDriver) = try SignaturePadDrivers.open(rightInterface)
        #expect(leftDriver.description.driver == "hid" && abs(leftDriver.description.areaWidth - 182.3) < 1e-6)
        let leftSession = try SignatureSession(transport: leftConnection, driver: leftDriver)
        let rightSession = try SignatureSession(transport: rightConnection, driver: rightDriver)

        let leftSender = Thread { for index in 0..<100 { try? left.send(GoodixPen.report(x: UInt16(index * 50), y: 100, pressure: 2000)) } }
        let rightSender = Thread { for index in 0..<60 { try? right.send(GoodixPen.report(x: 100, y: UInt16(index * 50), pressure: 1000)) } }
        leftSender.start()
        rightSender.start()
        let deadline = Date().addingTimeInterval(10)
        while (leftSession.snapshot.samples.count < 100 || rightSession.snapshot.samples.count < 60) && Date() < deadline { usleep(10_000) }

        // The right pad is unplugged mid-session: its session fails and keeps what arrived; the left one is unaffected.
        try right.unplug()
        let rightDeadline = Date().addingTimeInterval(5)
        while rightSession.snapshot.state == .capturing && Date() < rightDeadline { usleep(10_000) }
        #expect(rightSession.snapshot.state == .failed && rightSession.snapshot.error?.code == .deviceDisconnected)
        #expect(rightSession.partialSignature().samples.count == 60)
        let signature = try leftSession.finish()
        #expect(signature.samples.count == 100 && signature.strokes.count == 1)
        #expect(signature.samples.map(\.x) == signature.samples.map(\.x).sorted(), "in order")
        #expect(signature.device == leftInterface.id)
    }

    @Test func theNTrigDescriptorWorksThroughTheGadgetToo() throws {
        let descriptor = try descriptorFixture("ntrig-1b96-0f00")
        let gadget = try HIDGadget(name: "ntrig", vendorID: 0x1B96, productID: 0x0F00, product: "N-Trig pen", reportDescriptor: descriptor)
        defer { gadget.remove() }
        let interface = try waitForInterface(vendor: 0x1B96, product: 0x0F00)
        let (connection, driver) = try SignaturePadDrivers.open(interface)
        #expect(driver.description.driver == "hid" && abs(driver.description.areaWidth - 256.3) < 1e-6 && driver.description.maxPressure == 256)
        let session = try SignatureSession(transport: connection, driver: driver)
        // Report 1: in range + tip, X, Y, pressure (16-bit each), 16 vendor bits.
        let sender = Thread {
            for index in 0..<40 {
                let x = UInt16(index * 200), pressure = UInt16(index == 39 ? 0 : 128)
                try? gadget.send([
                    0x01, index == 39 ? 0x01 : 0x03, UInt8(x & 0xFF), UInt8(x >> 8), 0x10, 0x0E,
                    UInt8(pressure & 0xFF), UInt8(pressure >> 8), 0, 0,
                ])
            }
        }
        sender.start()
        let deadline = Date().addingTimeInterval(10)
        while session.snapshot.samples.count < 40 && Date() < deadline { usleep(10_000) }
        let signature = try session.finish()
        #expect(signature.samples.count == 40 && signature.strokes.count == 1 && signature.strokes[0].count == 39)
        #expect(abs(signature.samples[10].x - 2000.0 / 9600 * 256.3) < 1e-6 && signature.samples[10].pressure == 0.5)
    }

    @Test func hotplugReportsArrivalAndDeparture() throws {
        final class Changes: @unchecked Sendable {
            let lock = NSLock()
            var list: [USBHotplugMonitor.Change] = []
            func add(_ change: USBHotplugMonitor.Change) { lock.withLock { list.append(change) } }
            var all: [USBHotplugMonitor.Change] { lock.withLock { list } }
        }
        let changes = Changes()
        let monitor = USBHotplugMonitor(interval: .milliseconds(200), filter: { $0.vendorID == Self.goodix.vendor }, onChange: changes.add)
        monitor.start()
        defer { monitor.stop() }
        let gadget = try HIDGadget(
            name: "hotplug", vendorID: Self.goodix.vendor, productID: Self.goodix.product,
            product: "Hotplug pen", reportDescriptor: try GoodixPen.descriptor())
        defer { gadget.remove() }
        func wait(_ condition: () -> Bool) { let deadline = Date().addingTimeInterval(10); while !condition() && Date() < deadline { usleep(20_000) } }
        wait { changes.all.count >= 1 }
        guard case .arrived(let arrived)? = changes.all.first else { Issue.record("no arrival: \(changes.all)"); return }
        #expect(arrived.product == "Hotplug pen")
        try gadget.unplug()
        wait { changes.all.count >= 2 }
        #expect(changes.all.count == 2 && changes.all.last == .left(arrived))
        try gadget.plug()
        wait { changes.all.count >= 3 }
        if case .arrived(let again)? = changes.all.last { #expect(again.id == arrived.id) } else { Issue.record("no second arrival: \(changes.all)") }
    }
}
