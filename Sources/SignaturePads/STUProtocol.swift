/// Wacom STU signature pads (USB vendor 0x056A): models, report ids, and the decoders and encoders
/// of the reports CounterKit uses. Multi-byte values are big-endian unless a report says otherwise.
public enum STU: Sendable {
    /// The USB vendor id of Wacom.
    public static let vendorID: UInt16 = 0x056A

    /// A known STU model.
    public struct Model: Sendable, Equatable {
        /// The USB product id.
        public var productID: UInt16
        /// The model name (`STU-530`).
        public var name: String
        /// Bits of pressure resolution: 9 on STU-300/500/520, 10 on the others.
        public var pressureBits: Int
        /// Whether the screen takes only 1-bit images (STU-300, STU-430, STU-500).
        public var monochrome: Bool
        /// Whether report 0x34 (pen data with time count and sequence) can be enabled through feature 0x32.
        public var timeCountSequence: Bool
    }

    /// The models by USB product id.
    public static let models: [Model] = [
        Model(productID: 0xA1, name: "STU-500", pressureBits: 9, monochrome: true, timeCountSequence: false),
        Model(productID: 0xA2, name: "STU-300", pressureBits: 9, monochrome: true, timeCountSequence: false),
        Model(productID: 0xA3, name: "STU-520A", pressureBits: 9, monochrome: false, timeCountSequence: false),
        Model(productID: 0xA4, name: "STU-430", pressureBits: 10, monochrome: true, timeCountSequence: true),
        Model(productID: 0xA5, name: "STU-530", pressureBits: 10, monochrome: false, timeCountSequence: true),
        // The STU-430V and STU-541 are variants of the STU-430 and STU-540.
        Model(productID: 0xA6, name: "STU-430V", pressureBits: 10, monochrome: true, timeCountSequence: true),
        Model(productID: 0xA8, name: "STU-540", pressureBits: 10, monochrome: false, timeCountSequence: true),
        Model(productID: 0xA9, name: "STU-541", pressureBits: 10, monochrome: false, timeCountSequence: true),
    ]

    /// The model for a USB vendor and product id, nil when it is not an STU pad.
    public static func model(vendorID: UInt16, productID: UInt16) -> Model? {
        vendorID == Self.vendorID ? models.first { $0.productID == productID } : nil
    }

    /// Report ids.
    public enum ReportID: UInt8, Sendable {
        /// Pen data (input).
        case penData = 0x01
        /// Status (feature).
        case status = 0x03
        /// Reset (feature).
        case reset = 0x04
        /// Information: model and firmware (feature).
        case information = 0x08
        /// Capability: ranges and screen (feature).
        case capability = 0x09
        /// Clear screen (feature).
        case clearScreen = 0x20
        /// Inking mode on or off (feature).
        case inkingMode = 0x21
        /// Start of an image upload (feature).
        case startImageData = 0x25
        /// One block of image data (feature).
        case imageDataBlock = 0x26
        /// End of an image upload (feature).
        case endImageData = 0x27
        /// The area where ink is drawn (feature).
        case handwritingDisplayArea = 0x2A
        /// Pen data option mode: time count and sequence (feature).
        case penDataOptionMode = 0x32
        /// Pen data with time count and sequence number (input).
        case penDataTimeCountSequence = 0x34
    }

    /// Coordinates are in units of 0.01 mm.
    public static let millimetresPerUnit = 0.01

    // MARK: Input reports

    /// Pen data from report 0x01 (6 bytes) or 0x34 (10 bytes, adding time count and sequence).
    public struct PenData: Sendable, Equatable {
        /// The pen is in proximity ("rdy").
        public var ready: Bool
        /// The switch bits; non-zero means touching.
        public var switches: UInt8
        /// Pressure, 0 to the pad's maximum.
        public var pressure: UInt16
        /// X in pad units.
        public var x: UInt16
        /// Y in pad units.
        public var y: UInt16
        /// Milliseconds on the pad's clock, wrapping at 0xFFFF (report 0x34 only).
        public var timeCount: UInt16?
        /// Report sequence number (report 0x34 only); a gap means lost reports.
        public var sequence: UInt16?

        /// Whether the pen touches the pad.
        public var touching: Bool { switches != 0 }

        /// Decodes a whole input report, report-id byte first; nil for other reports.
        public init?(report: [UInt8]) throws(SignaturePadError) {
            guard let id = report.first, id == ReportID.penData.rawValue || id == ReportID.penDataTimeCountSequence.rawValue else {
                return nil
            }
            let needed = id == ReportID.penData.rawValue ? 7 : 11
            guard report.count >= needed else {
                throw SignaturePadError(.invalidReport, "pen report 0x\(String(id, radix: 16)) has \(report.count) bytes, needs \(needed)")
            }
            ready = report[1] & 0x80 != 0
            switches = (report[1] >> 4) & 0x07
            pressure = UInt16(report[1] & 0x0F) << 8 | UInt16(report[2])
            x = bigEndian(report, 3)
            y = bigEndian(report, 5)
            if id == ReportID.penDataTimeCountSequence.rawValue {
                timeCount = bigEndian(report, 7)
                sequence = bigEndian(report, 9)
            }
        }

        /// Creates pen data (for encoding, e.g. by a device emulator).
        public init(ready: Bool, switches: UInt8, pressure: UInt16, x: UInt16, y: UInt16, timeCount: UInt16? = nil, sequence: UInt16? = nil) {
            self.ready = ready
            self.switches = switches
            self.pressure = pressure
            self.x = x
            self.y = y
            self.timeCount = timeCount
            self.sequence = sequence
        }

        /// The sample in millimetres, with pressure as a fraction of the pad's maximum.
        public func sample(time: Double, maxPressure: UInt16) -> PenSample {
            PenSample(
                time: time, x: Double(x) * STU.millimetresPerUnit, y: Double(y) * STU.millimetresPerUnit,
                pressure: maxPressure == 0 ? 0 : min(Double(pressure) / Double(maxPressure), 1),
                inRange: ready, touching: touching)
        }

        /// The report's bytes: 0x34 when time count and sequence are set, else 0x01.
        public var report: [UInt8] {
            var bytes: [UInt8] = [
                timeCount == nil ? ReportID.penData.rawValue : ReportID.penDataTimeCountSequence.rawValue,
                (ready ? 0x80 : 0) | (switches & 0x07) << 4 | UInt8(pressure >> 8 & 0x0F), UInt8(pressure & 0xFF),
            ]
            bytes += bigEndianBytes(x) + bigEndianBytes(y)
            if let timeCount, let sequence { bytes += bigEndianBytes(timeCount) + bigEndianBytes(sequence) }
            return bytes
        }
    }

    // MARK: Feature reports

    /// Feature report 0x03.
    public struct Status: Sendable, Equatable {
        /// The pad's state.
        public enum State: UInt8, Sendable {
            /// Ready for commands, receiving an image, capturing, calculating, booting, ROM busy, resetting.
            case ready = 0, image = 1, capture = 2, calculation = 3, imageBoot = 4, romBusy = 5, reset = 0xFF
        }
        /// The state; nil for a value the protocol does not define.
        public var state: State?
        /// The state byte as sent.
        public var rawState: UInt8
        /// The result of the last command.
        public var lastResult: UInt8
        /// Little-endian.
        public var statusWord: UInt16

        /// Decodes the report (report-id byte first).
        public init(report: [UInt8]) throws(SignaturePadError) {
            try expect(report, .status, 5)
            rawState = report[1]
            state = State(rawValue: report[1])
            lastResult = report[2]
            statusWord = UInt16(report[3]) | UInt16(report[4]) << 8
        }
    }

    /// Feature report 0x08.
    public struct Information: Sendable, Equatable, Codable {
        /// The model name the pad reports.
        public var modelName: String
        /// Firmware major version.
        public var firmwareMajor: UInt8
        /// Firmware minor version.
        public var firmwareMinor: UInt8
        /// Whether the pad has a secure IC.
        public var secureIC: Bool
        /// The raw version bytes.
        public var version: [UInt8]

        /// Decodes the report (report-id byte first).
        public init(report: [UInt8]) throws(SignaturePadError) {
            try expect(report, .information, 17)
            modelName = String(decoding: report[1...9].prefix { $0 != 0 }, as: UTF8.self)
            firmwareMajor = report[10]
            firmwareMinor = report[11]
            secureIC = report[12] != 0
            version = Array(report[13...16])
        }

        /// The firmware version as the pads print it, e.g. "2.10".
        public var firmware: String { "\(firmwareMajor).\(String(firmwareMinor, radix: 16))" }
    }

    /// Feature report 0x09.
    public struct Capability: Sendable, Equatable, Codable {
        /// The largest X in pad units.
        public var maxX: UInt16
        /// The largest Y in pad units.
        public var maxY: UInt16
        /// The largest pressure.
        public var maxPressure: UInt16
        /// Screen width in pixels.
        public var screenWidth: UInt16
        /// Screen height in pixels.
        public var screenHeight: UInt16
        /// Reports per second.
        public var maxReportRate: UInt8
        /// Pad units per inch.
        public var resolution: UInt16
        /// 0x01 zlib, 0x02 1-bit, 0x04 16-bit, 0x08 24-bit images.
        public var encodingFlags: UInt8

        /// Decodes the report (report-id byte first).
        public init(report: [UInt8]) throws(SignaturePadError) {
            try expect(report, .capability, 15)
            maxX = bigEndian(report, 1)
            maxY = bigEndian(report, 3)
            maxPressure = bigEndian(report, 5)
            screenWidth = bigEndian(report, 7)
            screenHeight = bigEndian(report, 9)
            maxReportRate = report[11]
            resolution = bigEndian(report, 12)
            encodingFlags = report[14]
        }

        /// Creates a capability (for encoding, e.g. by a device emulator).
        public init(
            maxX: UInt16, maxY: UInt16, maxPressure: UInt16, screenWidth: UInt16, screenHeight: UInt16,
            maxReportRate: UInt8, resolution: UInt16, encodingFlags: UInt8
        ) {
            self.maxX = maxX
            self.maxY = maxY
            self.maxPressure = maxPressure
            self.screenWidth = screenWidth
            self.screenHeight = screenHeight
            self.maxReportRate = maxReportRate
            self.resolution = resolution
            self.encodingFlags = encodingFlags
        }

        /// The report's bytes.
        public var report: [UInt8] {
            [ReportID.capability.rawValue] + bigEndianBytes(maxX) + bigEndianBytes(maxY) + bigEndianBytes(maxPressure)
                + bigEndianBytes(screenWidth) + bigEndianBytes(screenHeight) + [maxReportRate] + bigEndianBytes(resolution) + [encodingFlags]
        }

        /// Whether the screen takes 24-bit (BGR) or 16-bit (RGB565) images, not only 1-bit ones.
        public var colour: Bool { encodingFlags & 0x0C != 0 }
    }

    // MARK: Commands (feature reports the host sends)

    /// Image encodings for StartImageData.
    public enum ImageEncoding: UInt8, Sendable {
        /// Screen image encodings: 1 bit, RGB 5-6-5, BGR 8-8-8.
        case oneBit = 0x00, rgb565 = 0x02, bgr24 = 0x04
    }

    /// A screen area in screen pixels (HandwritingDisplayArea).
    public struct Rectangle: Sendable, Equatable {
        /// Edges in screen pixels.
        public var left: UInt16, top: UInt16, right: UInt16, bottom: UInt16
        /// A rectangle from its edges.
        public init(left: UInt16, top: UInt16, right: UInt16, bottom: UInt16) {
            self.left = left
            self.top = top
            self.right = right
            self.bottom = bottom
        }
    }

    /// The feature reports that make up the commands.
    public enum Command: Sendable {
        /// Soft reset (0x04 = 0).
        public static let reset: [UInt8] = [ReportID.reset.rawValue, 0x00]
        /// Clear the screen (0x20).
        public static let clearScreen: [UInt8] = [ReportID.clearScreen.rawValue, 0x00]
        /// Ink shown under the pen on or off (0x21).
        public static func inking(_ on: Bool) -> [UInt8] { [ReportID.inkingMode.rawValue, on ? 1 : 0] }
        /// Pen data option mode (0x32): 3 turns on report 0x34 with time count and sequence.
        public static let timeCountSequence: [UInt8] = [ReportID.penDataOptionMode.rawValue, 0x03]
        /// Where ink is drawn (0x2A), little-endian.
        public static func handwritingArea(_ area: Rectangle) -> [UInt8] {
            [ReportID.handwritingDisplayArea.rawValue] + littleEndianBytes(area.left) + littleEndianBytes(area.top)
                + littleEndianBytes(area.right) + littleEndianBytes(area.bottom)
        }
        /// Starts an image upload (0x25).
        public static func startImage(_ encoding: ImageEncoding) -> [UInt8] { [ReportID.startImageData.rawValue, encoding.rawValue] }
        /// Ends an image upload (0x27): commit, or abandon.
        public static func endImage(commit: Bool) -> [UInt8] { [ReportID.endImageData.rawValue, commit ? 0 : 1] }

        /// Image data in blocks (0x26): a little-endian length and up to 253 bytes, the report padded to 256 bytes.
        public static func imageBlocks(_ data: [UInt8]) -> [[UInt8]] {
            stride(from: 0, to: data.count, by: 253).map { start in
                let chunk = data[start..<min(start + 253, data.count)]
                var block = [ReportID.imageDataBlock.rawValue] + littleEndianBytes(UInt16(chunk.count)) + chunk
                block += [UInt8](repeating: 0, count: 256 - block.count)
                return block
            }
        }
    }

    /// Packs a gray image (one byte per pixel, row by row) into the 1-bit screen format: MSB first,
    /// each row padded to whole bytes, white (1) where the gray value is 128 or above.
    public static func oneBitImage(gray: [UInt8], width: Int, height: Int) -> [UInt8] {
        let rowBytes = (width + 7) / 8
        var packed = [UInt8](repeating: 0, count: rowBytes * height)
        for y in 0..<height {
            for x in 0..<width where gray[y * width + x] >= 128 {
                packed[y * rowBytes + x / 8] |= 0x80 >> (x % 8)
            }
        }
        return packed
    }

    private static func expect(_ report: [UInt8], _ id: ReportID, _ length: Int) throws(SignaturePadError) {
        guard report.first == id.rawValue else {
            throw SignaturePadError(.invalidReport, "expected report 0x\(String(id.rawValue, radix: 16)), got 0x\(String(report.first ?? 0, radix: 16))")
        }
        guard report.count >= length else {
            throw SignaturePadError(.invalidReport, "report 0x\(String(id.rawValue, radix: 16)) has \(report.count) bytes, needs \(length)")
        }
    }
}

/// Counts reports lost between sequence numbers (16-bit, wrapping) and unwraps a 16-bit millisecond clock.
public struct ReportSequence: Sendable, Equatable {
    private var lastSequence: UInt16?
    private var lastTime: UInt16?
    private var timeBase: Double = 0
    /// Reports missing so far.
    public private(set) var lost = 0

    /// A tracker that has seen no report yet.
    public init() {}

    /// Records a sequence number; returns how many reports were lost just before it. A repeated or
    /// older number (more than half the range back) counts nothing.
    @discardableResult
    public mutating func record(sequence: UInt16) -> Int {
        defer { lastSequence = sequence }
        guard let last = lastSequence else { return 0 }
        let gap = Int(sequence &- last &- 1)
        guard gap > 0, gap < 0x8000 else { return 0 }
        lost += gap
        return gap
    }

    /// Milliseconds since the first report from a 16-bit clock that wraps at 0xFFFF.
    public mutating func milliseconds(timeCount: UInt16) -> Double {
        if let lastTime, timeCount < lastTime { timeBase += 65536 }
        if lastTime == nil { timeBase = -Double(timeCount) }
        lastTime = timeCount
        return timeBase + Double(timeCount)
    }
}

private func bigEndian(_ bytes: [UInt8], _ offset: Int) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }
private func bigEndianBytes(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
private func littleEndianBytes(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
