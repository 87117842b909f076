import Foundation
import SignaturePads
import Synchronization
import SystemPackage

/// A Wacom STU pad on a real USB stack in the test VM: a FunctionFS gadget (`usb_f_fs`) whose control
/// requests this process answers from an `STUEmulator` (GET_DESCRIPTOR of the report descriptor,
/// GET_REPORT of feature reports, SET_REPORT commands), and whose interrupt IN endpoint carries the
/// pen reports queued on the emulator. libusb on the host side sees an ordinary HID device.
public final class FunctionFSPad: @unchecked Sendable {
    public let emulator: STUEmulator
    public let gadget: ConfigfsGadget
    private let mountPoint: String
    private let ep0: Int32
    private let reportDescriptor: [UInt8]
    private let stopping = Atomic<Bool>(false)
    /// Set by the ENABLE event (the host configured the device), cleared by DISABLE and UNBIND.
    private let enabled = Atomic<Bool>(false)
    /// When ep0 last saw an event (monotonic nanoseconds).
    private let lastEvent = Atomic<UInt64>(0)
    /// The ep0 thread, and since when it has been in a request's data stage (0: not in one).
    private let ep0Thread = Atomic<UInt>(0)
    private let dataStageSince = Atomic<UInt64>(0)
    private let dataStageRequest = Atomic<UInt32>(0)
    /// The last control requests and what became of each, for the report when a first session fails.
    private let controlLog = Mutex<[String]>([])
    private var threads: [Thread] = []

    /// A vendor-page report descriptor with the STU's report ids: pen data 0x01 and 0x34 in, features
    /// 0x03, 0x08, 0x09, 0x20, 0x21, 0x25…0x27, 0x2A, 0x32 (sizes as the protocol defines them).
    public static let stuReportDescriptor: [UInt8] = {
        var bytes: [UInt8] = [0x06, 0x00, 0xFF, 0x09, 0x01, 0xA1, 0x01, 0x15, 0x00, 0x26, 0xFF, 0x00, 0x75, 0x08]
        for (id, count) in [(0x01, 6), (0x34, 10)] { bytes += [0x85, UInt8(id), 0x95, UInt8(count), 0x09, 0x01, 0x81, 0x02] }
        for (id, count) in [
            (0x03, 4), (0x04, 1), (0x08, 16), (0x09, 14), (0x20, 1), (0x21, 1), (0x25, 1), (0x26, 255), (0x27, 1),
            (0x2A, 8), (0x32, 1),
        ] {
            bytes += [0x85, UInt8(id), 0x95, UInt8(count), 0x09, 0x01, 0xB1, 0x02]
        }
        return bytes + [0xC0]
    }()

    /// Creates the gadget, writes its descriptors and strings to ep0, starts answering, and plugs it in.
    public init(name: String, emulator: STUEmulator, productID: UInt16? = nil, controller index: Int = 0) throws {
        self.emulator = emulator
        reportDescriptor = Self.stuReportDescriptor
        gadget = try ConfigfsGadget(
            name: name, vendorID: STU.vendorID, productID: productID ?? emulator.model.productID,
            product: emulator.model.name, function: "ffs.\(name)", controller: index
        ) { _ in }
        mountPoint = "/dev/ffs-\(name)"
        umount2(mountPoint, Int32(MNT_DETACH))  // left by a test that crashed
        try ConfigfsGadget.makeDirectory(mountPoint)
        guard mount(name, mountPoint, "functionfs", 0, nil) == 0 else {
            throw TestVMError(message: "mount functionfs \(name): \(Errno(rawValue: errno).description)")
        }
        ep0 = open("\(mountPoint)/ep0", O_RDWR)
        guard ep0 >= 0 else { throw TestVMError(message: "open ep0: \(Errno(rawValue: errno).description)") }
        try writeAll(ep0, Self.descriptors(reportLength: reportDescriptor.count))
        try writeAll(ep0, Self.strings(interface: emulator.model.name))
        let control = Thread { [self] in answerControlRequests() }
        let pump = Thread { [self] in pumpInputReports() }
        threads = [control, pump]
        control.start()
        pump.start()
        try plug()
    }

    /// Detaches the pad: a real unplug for the host.
    public func unplug() throws { try gadget.unplug() }

    /// The error for a first request the pad did not answer: a counter PC has no automatic replug, so a test that
    /// meets it fails, and the error carries what shows where it stuck: the pad's last control requests with their fate
    /// (answered, stalled, data stage error, interrupted) and the kernel's last messages.
    public func unansweredRequest(_ what: String) -> TestVMError {
        var report = ["\(what); the pad's last control requests:"]
        report += controlLog.withLock { $0 }.map { "  \($0)" }
        if let dmesg = try? runCommand(["dmesg"]).output {
            report += dmesg.split(separator: "\n").suffix(30).map { "  dmesg \($0)" }
        }
        return TestVMError(message: report.joined(separator: "\n"))
    }

    /// Attaches it (again), and returns once the host has configured it and its drivers have done probing:
    /// usbhid asks for every feature report at bind, and a session opened in the middle of that races the
    /// kernel's requests with its own, which a real pad (plugged in long before) never meets. A loaded guest can take
    /// seconds for that; after a minute it throws, saying how far the host got, rather than let a test go on early.
    public func plug() throws {
        try gadget.plug()
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let quiet = Self.now() &- lastEvent.load(ordering: .relaxed) > 1_000_000_000
            if enabled.load(ordering: .relaxed) && quiet { return }
            usleep(20_000)
        }
        throw TestVMError(
            message: "the host did not configure the pad within 60 s (configured: \(enabled.load(ordering: .relaxed)); "
                + "last control requests: \(controlLog.withLock { $0.suffix(5) })")
    }

    /// Notes a control request's fate in the log (the last 64 are kept).
    private func log(_ entry: String) {
        let stamp = String(format: "%.3f", Double(Self.now()) / 1e9)
        controlLog.withLock { log in
            log.append("\(stamp) \(entry)")
            if log.count > 64 { log.removeFirst(log.count - 64) }
        }
    }

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Unplugs, stops answering, unmounts and removes the gadget.
    public func remove() {
        stopping.store(true, ordering: .relaxed)
        // The threads hold this pad; letting go of them breaks the cycle once they have stopped.
        threads = []
        gadget.remove()
        close(ep0)
        umount2(mountPoint, Int32(MNT_DETACH))
        rmdir(mountPoint)
    }

    deinit { if !stopping.load(ordering: .relaxed) { remove() } }

    // MARK: ep0

    /// FunctionFS events are 12 bytes: the setup packet (8), the type (1), padding (3).
    private func answerControlRequests() {
        _ = Self.interruptibleSignal
        ep0Thread.store(UInt(pthread_self()), ordering: .relaxed)
        var event = [UInt8](repeating: 0, count: 12)
        while !stopping.load(ordering: .relaxed) {
            let count = read(ep0, &event, 12)
            guard count == 12 else {
                if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if stopping.load(ordering: .relaxed) || (count < 0 && errno == EBADF) { return }
                // FunctionFS ends a read with an error when the host cancels a request or unbinds (EIDRM, ESHUTDOWN,
                // EL2HLT for a stalled one): keep answering, and say so, since a silent ep0 is what flakes look like.
                let reason = count < 0 ? Errno(rawValue: errno).description : "\(count) bytes"
                FileHandle.standardError.write(Data("FunctionFSPad: reading an ep0 event gave \(reason); going on\n".utf8))
                log("event read: \(reason)")
                usleep(10_000)
                continue
            }
            lastEvent.store(Self.now(), ordering: .relaxed)
            switch event[8] {
            case 2: enabled.store(true, ordering: .relaxed)  // ENABLE
            case 1, 3: enabled.store(false, ordering: .relaxed)  // UNBIND, DISABLE
            default: break
            }
            if event[8] != 4 { log("event \(["BIND", "UNBIND", "ENABLE", "DISABLE", "SETUP", "SUSPEND", "RESUME"][min(Int(event[8]), 6)])") }
            guard event[8] == 4 else { continue }  // SETUP; BIND, SUSPEND, RESUME need nothing here
            let requestType = event[0], request = event[1]
            let value = UInt16(event[2]) | UInt16(event[3]) << 8, length = Int(UInt16(event[6]) | UInt16(event[7]) << 8)
            dataStageRequest.store(UInt32(requestType) << 24 | UInt32(request) << 16 | UInt32(value), ordering: .relaxed)
            dataStageSince.store(Self.now(), ordering: .relaxed)
            defer { dataStageSince.store(0, ordering: .relaxed) }
            if requestType & 0x80 != 0 {
                var answer: [UInt8]?
                if requestType == 0x81 && request == 0x06 && value >> 8 == 0x22 { answer = reportDescriptor }
                if requestType == 0xA1 && request == 0x01 && value >> 8 == 3 { answer = emulator.featureAnswer(UInt8(value & 0xFF)) }
                let setup = String(format: "SETUP %02x %02x %04x len %d", requestType, request, value, length)
                if let answer {
                    let written = answer.prefix(length).withUnsafeBytes { write(ep0, $0.baseAddress, $0.count) }
                    log("\(setup): answered \(written < 0 ? Errno(rawValue: errno).description : "\(written) bytes")")
                } else {
                    var stall: UInt8 = 0
                    _ = read(ep0, &stall, 0)  // a read in the data-in stage stalls the request
                    log("\(setup): stalled")
                }
            } else {
                var data = [UInt8](repeating: 0, count: length)
                let received = length > 0 ? read(ep0, &data, length) : read(ep0, &data, 0)
                log(
                    String(format: "SETUP %02x %02x %04x len %d: ", requestType, request, value, length)
                        + (received < 0 ? "data stage \(Errno(rawValue: errno).description)" : "received \(received) bytes"))
                if requestType == 0x21 && request == 0x09 && received > 0 {
                    try? emulator.sendFeatureReport(Array(data[0..<received]))
                }
            }
        }
    }

    /// A data stage the host gave up on (its transfer cancelled, say when a driver was detached mid-request) can
    /// leave the ep0 thread blocked in write or read while the host's next requests go unanswered. After a
    /// second, a signal interrupts the wait: FunctionFS then dequeues the request and the thread reads the next event.
    private func interruptStuckDataStage() {
        let since = dataStageSince.load(ordering: .relaxed)
        guard since != 0, Self.now() &- since > 1_000_000_000 else { return }
        dataStageSince.store(Self.now(), ordering: .relaxed)  // at most one signal a second
        let request = dataStageRequest.load(ordering: .relaxed)
        FileHandle.standardError.write(Data("FunctionFSPad: ep0 data stage of request \(String(request, radix: 16)) stuck for 1 s; interrupting it\n".utf8))
        log("data stage of \(String(request, radix: 16)) stuck for 1 s: interrupted")
        pthread_kill(pthread_t(ep0Thread.load(ordering: .relaxed)), SIGUSR1)
    }

    /// SIGUSR1 with a handler that does nothing and no SA_RESTART: it only ends a blocking system call with EINTR.
    private static let interruptibleSignal: Void = {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGUSR1, &action, nil)
    }()

    /// Sends queued pen reports on the interrupt IN endpoint (ep1), waiting for the host when needed.
    private func pumpInputReports() {
        var endpoint: Int32 = -1
        defer { if endpoint >= 0 { close(endpoint) } }
        while !stopping.load(ordering: .relaxed) {
            interruptStuckDataStage()
            guard let report = emulator.takeQueuedReport() else { usleep(1000); continue }
            if endpoint < 0 { endpoint = open("\(mountPoint)/ep1", O_RDWR) }
            guard endpoint >= 0 else { usleep(10_000); continue }
            _ = report.withUnsafeBytes { write(endpoint, $0.baseAddress, $0.count) }
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw TestVMError(message: "writing to ep0: \(Errno(rawValue: errno).description)") }
    }

    // MARK: Descriptors (linux/usb/functionfs.h)

    /// `usb_functionfs_descs_head_v2` with full- and high-speed descriptors: a HID interface, its HID class
    /// descriptor (one report descriptor of `reportLength` bytes) and an interrupt IN endpoint of 64 bytes.
    static func descriptors(reportLength: Int) -> [UInt8] {
        func interfaceSet(interval: UInt8) -> [UInt8] {
            [9, 0x04, 0, 0, 1, 0x03, 0, 0, 1]  // interface: 1 endpoint, class HID, string 1
                + [9, 0x21, 0x11, 0x01, 0, 1, 0x22, UInt8(reportLength & 0xFF), UInt8(reportLength >> 8)]  // HID 1.11
                + [7, 0x05, 0x81, 0x03, 64, 0, interval]  // endpoint 1 IN, interrupt
        }
        let body = le32(3) + le32(3) + interfaceSet(interval: 5) + interfaceSet(interval: 4)  // fs and hs counts, then the sets
        let flags: UInt32 = 0x1 | 0x2  // FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC
        return le32(3) + le32(UInt32(12 + body.count)) + le32(flags) + body  // FUNCTIONFS_DESCRIPTORS_MAGIC_V2
    }

    /// `usb_functionfs_strings_head` with one US-English string (the interface's name).
    static func strings(interface: String) -> [UInt8] {
        let body: [UInt8] = [0x09, 0x04] + Array(interface.utf8) + [0]
        return le32(2) + le32(UInt32(16 + body.count)) + le32(1) + le32(1) + body  // FUNCTIONFS_STRINGS_MAGIC
    }

    private static func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}
