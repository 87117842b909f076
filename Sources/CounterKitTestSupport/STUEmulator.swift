import Foundation
import SignaturePads

/// A Wacom STU pad's protocol side, for tests: it answers Information, Capability and Status,
/// records the commands the host sends, reports Busy for a number of Status polls after a command,
/// and hands out the pen reports a test queues. It serves as a `HIDTransport` in unit tests.
public final class STUEmulator: HIDTransport, @unchecked Sendable {
    public let model: STU.Model
    public let capability: STU.Capability
    /// Status polls answered with Image (busy) after each command before Ready.
    public var busyPollsPerCommand: Int
    private let lock = NSLock()
    private var queue: [[UInt8]] = []
    private var commands: [[UInt8]] = []
    private var busyPolls = 0
    private var unplugged = false
    private var closed = false
    private var imageEncoding: UInt8?
    private var imageData: [UInt8] = []
    private var shown: (encoding: UInt8, data: [UInt8])?
    private var imageBlocksReceived = 0
    private var failingImageBlock: Int?

    /// An STU-530 by default: 108 x 64.8 mm, 10-bit pressure, an 800x480 colour screen, 200 reports/s.
    public init(
        model: STU.Model = STU.model(vendorID: STU.vendorID, productID: 0xA5)!,
        capability: STU.Capability = STU.Capability(
            maxX: 10_800, maxY: 6480, maxPressure: 1023, screenWidth: 800,
            screenHeight: 480, maxReportRate: 200, resolution: 2540, encodingFlags: 0x0F),
        busyPollsPerCommand: Int = 1
    ) {
        self.model = model
        self.capability = capability
        self.busyPollsPerCommand = busyPollsPerCommand
    }

    /// The feature reports sent so far, in order.
    public var sentCommands: [[UInt8]] { lock.withLock { commands } }
    /// The last image committed to the screen (StartImageData, ImageDataBlock…, EndImageData 0): encoding and bytes.
    public var shownImage: (encoding: UInt8, data: [UInt8])? { lock.withLock { shown } }

    /// Makes image data block number `index` (0-based, counted from the next StartImageData) time out once,
    /// as a block whose answer is lost on the bus.
    public func failImageBlockOnce(_ index: Int) { lock.withLock { failingImageBlock = index } }

    /// Whether the host closed the connection.
    public var isClosed: Bool { lock.withLock { closed } }

    /// The next queued pen report, taken off the queue (a USB gadget sends it on its interrupt endpoint).
    public func takeQueuedReport() -> [UInt8]? { lock.withLock { queue.isEmpty ? nil : queue.removeFirst() } }

    /// Queues pen reports for the host to read.
    public func push(_ reports: [STU.PenData]) { lock.withLock { queue += reports.map(\.report) } }
    /// From now on every read fails as an unplugged device does.
    public func unplug() { lock.withLock { unplugged = true } }

    /// The answer to GET_REPORT for a feature report.
    public func featureAnswer(_ id: UInt8) -> [UInt8]? {
        switch id {
        case STU.ReportID.information.rawValue:
            let name = Array(model.name.utf8.prefix(9)) + [UInt8](repeating: 0, count: max(0, 9 - model.name.utf8.count))
            return [id] + name + [0x02, 0x10, 0x00, 0x00, 0x00, 0x02, 0x0A]
        case STU.ReportID.capability.rawValue:
            return capability.report
        case STU.ReportID.status.rawValue:
            return lock.withLock {
                if busyPolls > 0 {
                    busyPolls -= 1
                    return [id, STU.Status.State.image.rawValue, 0, 0, 0]
                }
                return [id, STU.Status.State.ready.rawValue, 0, 0, 0]
            }
        default:
            return nil
        }
    }

    // MARK: HIDTransport

    public func reportDescriptor() throws(SignaturePadError) -> [UInt8] { [] }

    public func featureReport(_ id: UInt8, length: Int) throws(SignaturePadError) -> [UInt8] {
        if lock.withLock({ unplugged }) { throw SignaturePadError(.deviceDisconnected, "emulated unplug") }
        guard let answer = featureAnswer(id) else { throw SignaturePadError(.ioError, "feature report 0x\(String(id, radix: 16)): stall") }
        return Array(answer.prefix(length))
    }

    public func sendFeatureReport(_ report: [UInt8]) throws(SignaturePadError) {
        lock.lock()
        defer { lock.unlock() }
        if unplugged { throw SignaturePadError(.deviceDisconnected, "emulated unplug") }
        switch report.first {
        case STU.ReportID.imageDataBlock.rawValue:
            // Blocks are not recorded one by one; their data is collected for the screen.
            guard report.count >= 3, imageEncoding != nil else { throw SignaturePadError(.ioError, "image data without StartImageData: stall") }
            defer { imageBlocksReceived += 1 }
            if failingImageBlock == imageBlocksReceived {
                failingImageBlock = nil
                throw SignaturePadError(.timeout, "sending feature report 0x26: LIBUSB_ERROR_TIMEOUT")
            }
            let length = Int(report[1]) | Int(report[2]) << 8
            guard length <= 253, report.count >= 3 + length else { throw SignaturePadError(.ioError, "image block of \(length) bytes: stall") }
            imageData += report[3..<3 + length]
            return
        case STU.ReportID.startImageData.rawValue:
            imageEncoding = report.count > 1 ? report[1] : 0
            imageData = []
            imageBlocksReceived = 0
        case STU.ReportID.endImageData.rawValue:
            if let encoding = imageEncoding, report.count > 1, report[1] == 0 { shown = (encoding, imageData) }
            imageEncoding = nil
        case STU.ReportID.clearScreen.rawValue:
            shown = nil
        default:
            break
        }
        commands.append(report)
        busyPolls = busyPollsPerCommand
    }

    public func readInputReport(timeoutMilliseconds: UInt32) throws(SignaturePadError) -> [UInt8]? {
        lock.lock()
        if unplugged {
            lock.unlock()
            throw SignaturePadError(.deviceDisconnected, "reading input reports: LIBUSB_ERROR_NO_DEVICE")
        }
        let next = queue.isEmpty ? nil : queue.removeFirst()
        lock.unlock()
        if next == nil { usleep(min(timeoutMilliseconds, 5) * 1000) }
        return next
    }

    public func close() { lock.withLock { closed = true } }
}
