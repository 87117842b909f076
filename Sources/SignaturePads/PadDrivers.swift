import Synchronization

/// What a pad driver needs from the USB side. `HIDConnection` is the real one; a device emulator
/// can stand in for unit tests.
public protocol HIDTransport: AnyObject, Sendable {
    /// The HID report descriptor.
    func reportDescriptor() throws(SignaturePadError) -> [UInt8]
    /// GET_REPORT of a feature report: `length` bytes, the report id first.
    func featureReport(_ id: UInt8, length: Int) throws(SignaturePadError) -> [UInt8]
    /// SET_REPORT of a feature report, the report id first.
    func sendFeatureReport(_ report: [UInt8]) throws(SignaturePadError)
    /// The next input report, or nil when none came within the timeout.
    func readInputReport(timeoutMilliseconds: UInt32) throws(SignaturePadError) -> [UInt8]?
    /// Releases the device.
    func close()
}

extension HIDConnection: HIDTransport {}

/// A pad as its driver describes it after opening.
public struct PadDescription: Sendable, Equatable, Codable {
    /// The pad's id (`usb:<bus>-<ports>:<interface>`), stable across replugs into the same port.
    public var id: String
    /// `stu` for Wacom STU pads, `hid` for generic HID digitizers.
    public var driver: String
    /// The model name.
    public var model: String
    /// The USB vendor id.
    public var vendorID: UInt16
    /// The USB product id.
    public var productID: UInt16
    /// The active area in millimetres.
    public var areaWidth: Double
    /// Height of the sensing area in millimetres.
    public var areaHeight: Double
    /// Pressure levels above zero.
    public var maxPressure: Int
    /// The screen in pixels, for pads with one.
    public var screenWidth: Int?
    /// Screen height in pixels (pads with a screen).
    public var screenHeight: Int?
    /// Firmware version, when the pad reports it.
    public var firmware: String?
    /// Reports per second the pad sends, when it says.
    public var reportRate: Int?

    /// A pad's description (drivers make these; fakes and tests may too).
    public init(
        id: String, driver: String, model: String, vendorID: UInt16, productID: UInt16, areaWidth: Double, areaHeight: Double,
        maxPressure: Int, screenWidth: Int? = nil, screenHeight: Int? = nil, firmware: String? = nil, reportRate: Int? = nil
    ) {
        self.id = id
        self.driver = driver
        self.model = model
        self.vendorID = vendorID
        self.productID = productID
        self.areaWidth = areaWidth
        self.areaHeight = areaHeight
        self.maxPressure = maxPressure
        self.screenWidth = screenWidth
        self.screenHeight = screenHeight
        self.firmware = firmware
        self.reportRate = reportRate
    }
}

/// One decoded pen report: the sample, and the pad's sequence number when it numbers reports.
public struct PadReport: Sendable, Equatable {
    /// The decoded sample.
    public var sample: PenSample
    /// The pad's report sequence number, when it sends one.
    public var sequence: UInt16?
    /// The pad's own millisecond clock (16-bit, wrapping), when it has one.
    public var deviceTime: UInt16?
}

/// A signature-pad protocol: set up a capture, decode pen reports, clear, end.
public protocol PadDriver: AnyObject, Sendable {
    /// What the pad is.
    var description: PadDescription { get }
    /// Prepares a capture: clears the screen, shows the prompt where there is a screen, turns inking on.
    func begin(prompt: String?) throws(SignaturePadError)
    /// A pen report as a sample, nil for reports that carry no pen data. `time` is host milliseconds.
    func decode(_ report: [UInt8], time: Double) throws(SignaturePadError) -> PadReport?
    /// Clears the ink on the pad's screen (the session drops its samples).
    func clear() throws(SignaturePadError)
    /// Ends a capture: inking off and the screen cleared.
    func end() throws(SignaturePadError)
}

/// A generic HID digitizer: its report descriptor says where the pen is; it has no screen and no commands.
public final class HIDDigitizerDriver: PadDriver {
    /// What the pad is.
    public let description: PadDescription
    private let pen: PenDigitizer

    /// Reads the report descriptor and finds the pen (`unsupported_device` when there is none).
    public init(transport: HIDTransport, interface: USBHIDInterface) throws(SignaturePadError) {
        pen = try PenDigitizer(descriptor: HIDReportDescriptor(transport.reportDescriptor()))
        let size = pen.size
        let maxPressure = pen.pressure.map { Int($0.logicalMaximum - $0.logicalMinimum) } ?? 1
        description = PadDescription(
            id: interface.id, driver: "hid", model: interface.product ?? "HID digitizer",
            vendorID: interface.vendorID, productID: interface.productID, areaWidth: size.width,
            areaHeight: size.height, maxPressure: maxPressure)
    }

    public func begin(prompt: String?) throws(SignaturePadError) {}
    public func decode(_ report: [UInt8], time: Double) throws(SignaturePadError) -> PadReport? {
        try pen.decode(report, time: time).map { PadReport(sample: $0, sequence: nil, deviceTime: nil) }
    }
    public func clear() throws(SignaturePadError) {}
    public func end() throws(SignaturePadError) {}
}

/// Wacom STU pads: Information and Capability at open, Status polled before commands, report 0x34
/// (time count and sequence) where the model has it, the screen cleared and inking switched.
public final class STUDriver: PadDriver {
    /// What the pad is.
    public let description: PadDescription
    /// The pad's Capability report.
    public let capability: STU.Capability
    /// The pad's Information report.
    public let information: STU.Information
    private let transport: HIDTransport
    private let model: STU.Model
    private let promptText = Mutex<String?>(nil)

    /// Reads Information and Capability; a pad that does not answer them is `unsupported_device`.
    public init(transport: HIDTransport, interface: USBHIDInterface, model: STU.Model) throws(SignaturePadError) {
        self.transport = transport
        self.model = model
        information = try STU.Information(report: transport.featureReport(STU.ReportID.information.rawValue, length: 17))
        capability = try STU.Capability(report: transport.featureReport(STU.ReportID.capability.rawValue, length: 15))
        guard capability.maxX > 0, capability.maxY > 0 else {
            throw SignaturePadError(.unsupportedDevice, "\(model.name) reports an empty digitizer (\(capability.maxX)x\(capability.maxY))")
        }
        description = PadDescription(
            id: interface.id, driver: "stu", model: information.modelName.isEmpty ? model.name : information.modelName,
            vendorID: interface.vendorID, productID: interface.productID,
            areaWidth: Double(capability.maxX) * STU.millimetresPerUnit, areaHeight: Double(capability.maxY) * STU.millimetresPerUnit,
            maxPressure: Int(capability.maxPressure), screenWidth: Int(capability.screenWidth), screenHeight: Int(capability.screenHeight),
            firmware: information.firmware, reportRate: Int(capability.maxReportRate))
    }

    /// Waits (up to 2 s) for the pad to be Ready before a command that needs it.
    func waitUntilReady() throws(SignaturePadError) {
        for _ in 0..<200 {
            let status = try STU.Status(report: transport.featureReport(STU.ReportID.status.rawValue, length: 5))
            if status.state == .ready { return }
            usleep(10_000)
        }
        throw SignaturePadError(.timeout, "\(description.model) stayed busy for 2 s")
    }

    public func begin(prompt: String?) throws(SignaturePadError) {
        if model.timeCountSequence { try transport.sendFeatureReport(STU.Command.timeCountSequence) }
        promptText.withLock { $0 = prompt }
        try showScreen()
        try transport.sendFeatureReport(STU.Command.inking(true))
    }

    /// The prompt screen when there is a prompt and a screen, else a cleared screen.
    private func showScreen() throws(SignaturePadError) {
        try waitUntilReady()
        guard let text = promptText.withLock({ $0 }), capability.screenWidth > 0, capability.screenHeight > 0 else {
            try transport.sendFeatureReport(STU.Command.clearScreen)
            return
        }
        let width = Int(capability.screenWidth), height = Int(capability.screenHeight)
        let gray = try PadPrompt(text: text, width: width, height: height).render()
        // 1-bit when the pad takes it (all STU-430s and 500s, and the colour pads that say so): 24x less to send.
        let oneBit = model.monochrome || capability.encodingFlags & 0x02 != 0
        let data = oneBit ? STU.oneBitImage(gray: gray, width: width, height: height) : gray.flatMap { [$0, $0, $0] }
        let blocks = STU.Command.imageBlocks(data)
        do throws(SignaturePadError) {
            try upload(blocks, encoding: oneBit ? .oneBit : .bgr24)
        } catch  where error.code == .timeout || error.code == .ioError {
            // A block that got no answer may or may not have reached the pad, so the image is sent again
            // from its start (StartImageData resets the pad's buffer) rather than block by block.
            try? transport.sendFeatureReport(STU.Command.endImage(commit: false))
            try waitUntilReady()
            try upload(blocks, encoding: oneBit ? .oneBit : .bgr24)
        }
    }

    /// StartImageData, the blocks, and EndImageData committing the image to the screen.
    private func upload(_ blocks: [[UInt8]], encoding: STU.ImageEncoding) throws(SignaturePadError) {
        try transport.sendFeatureReport(STU.Command.startImage(encoding))
        for block in blocks { try transport.sendFeatureReport(block) }
        try transport.sendFeatureReport(STU.Command.endImage(commit: true))
    }

    public func decode(_ report: [UInt8], time: Double) throws(SignaturePadError) -> PadReport? {
        guard let pen = try STU.PenData(report: report) else { return nil }
        return PadReport(sample: pen.sample(time: time, maxPressure: capability.maxPressure), sequence: pen.sequence, deviceTime: pen.timeCount)
    }

    /// Clears the ink: the prompt screen is shown again (or the screen cleared).
    public func clear() throws(SignaturePadError) {
        try showScreen()
    }

    public func end() throws(SignaturePadError) {
        try transport.sendFeatureReport(STU.Command.inking(false))
        try waitUntilReady()
        try transport.sendFeatureReport(STU.Command.clearScreen)
    }
}

/// Opens pads: the STU driver for known Wacom STU models, the generic digitizer driver otherwise.
public enum SignaturePadDrivers: Sendable {
    /// HID interfaces that may be pads: every Wacom STU model, and HID interfaces without a boot protocol
    /// (keyboards and mice have one). Whether a generic one has a pen shows when it is opened.
    public static func candidates() throws(SignaturePadError) -> [USBHIDInterface] {
        try USBTransport.hidInterfaces().filter(isCandidate)
    }

    /// Whether an interface may be a pad (see `candidates()`).
    @Sendable public static func isCandidate(_ interface: USBHIDInterface) -> Bool {
        STU.model(vendorID: interface.vendorID, productID: interface.productID) != nil || interface.bootProtocol == 0
    }

    /// The pad for a request: an id from `candidates()`, or nil for the first that opens with a pen.
    public static func openPad(_ id: String?) throws(SignaturePadError) -> (HIDConnection, PadDriver) {
        let found = try candidates()
        if let id {
            guard let interface = found.first(where: { $0.id == id }) else {
                let known = found.map(\.id).joined(separator: ", ")
                throw SignaturePadError(.deviceNotFound, "no signature pad \(id)" + (known.isEmpty ? "; none found" : "; found: \(known)"))
            }
            return try open(interface)
        }
        var lastError: SignaturePadError?
        for interface in found {
            do throws(SignaturePadError) { return try open(interface) } catch { lastError = error }
        }
        throw lastError.map { SignaturePadError($0.code == .unsupportedDevice ? .deviceNotFound : $0.code, "no usable signature pad: \($0.message)") }
            ?? SignaturePadError(.deviceNotFound, "no signature pad found (USB HID)")
    }

    /// Opens `interface` and its driver; the connection is closed again if the driver cannot start.
    public static func open(_ interface: USBHIDInterface) throws(SignaturePadError) -> (HIDConnection, PadDriver) {
        let connection = try HIDConnection(interface)
        do throws(SignaturePadError) {
            if let model = STU.model(vendorID: interface.vendorID, productID: interface.productID) {
                return (connection, try STUDriver(transport: connection, interface: interface, model: model))
            }
            return (connection, try HIDDigitizerDriver(transport: connection, interface: interface))
        } catch {
            connection.close()
            throw error
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
