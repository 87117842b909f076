import CSANE

/// A scanner as `sane_get_devices` lists it.
public struct ScannerInfo: Sendable, Equatable, Codable {
    /// The SANE device name, used as the device id (`test:0`, `epson2:libusb:001:004`).
    public var id: String
    /// The maker, as the backend reports it.
    public var vendor: String
    /// The model, as the backend reports it.
    public var model: String
    /// The device type (`flatbed scanner`, `virtual device`…).
    public var type: String

    /// Creates a record.
    public init(id: String, vendor: String, model: String, type: String) {
        self.id = id
        self.vendor = vendor
        self.model = model
        self.type = type
    }
}

/// The SANE library, initialised once per process. Only the worker process calls it.
enum SANELibrary {
    /// `sane_init`; returns the version as "major.minor.build".
    static func initialize() throws(ScanError) -> String {
        var code: SANE_Int = 0
        try check(sane_init(&code, nil), "sane_init")
        return "\(ck_sane_version_major(code)).\(ck_sane_version_minor(code)).\(ck_sane_version_build(code))"
    }

    /// `sane_get_devices` (network backends included).
    static func devices() throws(ScanError) -> [ScannerInfo] {
        var list: UnsafeMutablePointer<UnsafePointer<SANE_Device>?>?
        try check(sane_get_devices(&list, SANE_FALSE), "sane_get_devices")
        var result: [ScannerInfo] = []
        var index = 0
        while let device = list?[index] {
            let d = device.pointee
            result.append(ScannerInfo(id: string(d.name), vendor: string(d.vendor), model: string(d.model), type: string(d.type)))
            index += 1
        }
        return result
    }

    static func exit() { sane_exit() }

    static func string(_ pointer: UnsafePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }

    /// Maps a SANE status to a stable error.
    static func error(_ status: SANE_Status, _ context: String) -> ScanError {
        let text = "\(context): \(String(cString: sane_strstatus(status)))"
        switch status {
        case SANE_STATUS_JAMMED: return ScanError(.jammed, "the document feeder is jammed (\(text))")
        case SANE_STATUS_COVER_OPEN: return ScanError(.coverOpen, "the scanner cover is open (\(text))")
        case SANE_STATUS_NO_DOCS: return ScanError(.noDocs, "the document feeder is empty (\(text))")
        case SANE_STATUS_DEVICE_BUSY: return ScanError(.deviceBusy, "the scanner is in use (\(text))")
        case SANE_STATUS_NO_MEM: return ScanError(.noMemory, text)
        case SANE_STATUS_ACCESS_DENIED: return ScanError(.accessDenied, "access to the scanner was denied (\(text))")
        case SANE_STATUS_CANCELLED: return ScanError(.cancelled, "the scan was cancelled")
        case SANE_STATUS_UNSUPPORTED: return ScanError(.unsupportedOption, text)
        case SANE_STATUS_INVAL: return ScanError(.invalidValue, text)
        default: return ScanError(.ioError, text)
        }
    }

    static func check(_ status: SANE_Status, _ context: String) throws(ScanError) {
        guard status == SANE_STATUS_GOOD else { throw error(status, context) }
    }
}

/// Frame parameters from `sane_get_parameters`.
public struct FrameParameters: Sendable, Equatable, Codable {
    /// SANE frame formats.
    public enum Format: String, Sendable, Codable {
        /// The SANE frame formats: one pass gray or RGB, or one colour plane of a three-pass scan.
        case gray, rgb, red, green, blue
    }
    /// The frame's format.
    public var format: Format
    /// Whether this is the last frame of the page.
    public var lastFrame: Bool
    /// Bytes per scan line, padding included.
    public var bytesPerLine: Int
    /// Pixels per scan line.
    public var pixelsPerLine: Int
    /// -1 when the height is unknown until the end (hand scanners, some feeders).
    public var lines: Int
    /// Bits per sample: 1, 8 or 16.
    public var depth: Int

    /// Creates parameters.
    public init(format: Format, lastFrame: Bool, bytesPerLine: Int, pixelsPerLine: Int, lines: Int, depth: Int) {
        self.format = format
        self.lastFrame = lastFrame
        self.bytesPerLine = bytesPerLine
        self.pixelsPerLine = pixelsPerLine
        self.lines = lines
        self.depth = depth
    }
}

/// An open SANE device handle: thin typed wrappers over the calls, nothing hidden.
final class SANEDevice: OptionAccess {
    private let handle: SANE_Handle
    private(set) var descriptors: [OptionDescriptor] = []
    private var indices: [String: Int32] = [:]

    init(name: String) throws(ScanError) {
        var handle: SANE_Handle?
        let status = sane_open(name, &handle)
        if status == SANE_STATUS_INVAL {
            throw ScanError(.deviceNotFound, "no scanner '\(name)' (sane_open: Invalid argument)")
        }
        try SANELibrary.check(status, "sane_open(\(name))")
        guard let handle else { throw ScanError(.ioError, "sane_open(\(name)) returned no handle") }
        self.handle = handle
        try reloadDescriptors()
    }

    deinit {
        sane_cancel(handle)
        sane_close(handle)
    }

    /// Re-reads every option descriptor (after SANE_INFO_RELOAD_OPTIONS).
    func reloadDescriptors() throws(ScanError) {
        var count: SANE_Int = 0
        var info: SANE_Int = 0
        try SANELibrary.check(sane_control_option(handle, 0, SANE_ACTION_GET_VALUE, &count, &info), "reading option count")
        var result: [OptionDescriptor] = []
        var indices: [String: Int32] = [:]
        for index in 1..<max(1, count) {
            guard let raw = sane_get_option_descriptor(handle, index)?.pointee else { continue }
            let descriptor = Self.describe(raw)
            result.append(descriptor)
            if !descriptor.name.isEmpty { indices[descriptor.name] = index }
        }
        descriptors = result
        self.indices = indices
    }

    func value(_ name: String) throws(ScanError) -> OptionValue {
        let (index, descriptor) = try lookup(name)
        guard descriptor.type != .button, descriptor.type != .group else { return .press }
        var buffer = [UInt8](repeating: 0, count: max(descriptor.size, 4) + 1)
        var info: SANE_Int = 0
        let status = buffer.withUnsafeMutableBytes { sane_control_option(handle, index, SANE_ACTION_GET_VALUE, $0.baseAddress, &info) }
        try SANELibrary.check(status, "reading option '\(name)'")
        return Self.decode(buffer, descriptor)
    }

    func set(_ name: String, _ value: OptionValue) throws(ScanError) -> OptionValue {
        let (index, descriptor) = try lookup(name)
        var buffer = Self.encode(value, descriptor)
        var info: SANE_Int = 0
        let status = buffer.withUnsafeMutableBytes { sane_control_option(handle, index, SANE_ACTION_SET_VALUE, $0.baseAddress, &info) }
        if status == SANE_STATUS_INVAL {
            throw ScanError(.invalidValue, "the scanner refused \(name)=\(value)")
        }
        try SANELibrary.check(status, "setting option '\(name)'")
        if info & SANE_INFO_RELOAD_OPTIONS != 0 { try reloadDescriptors() }
        // After SANE_INFO_INEXACT (or for any set) report what the backend actually holds.
        return descriptor.type == .button ? .press : try self.value(name)
    }

    func parameters() throws(ScanError) -> FrameParameters {
        var p = SANE_Parameters()
        try SANELibrary.check(sane_get_parameters(handle, &p), "sane_get_parameters")
        let format: FrameParameters.Format =
            switch p.format {
            case SANE_FRAME_RGB: .rgb
            case SANE_FRAME_RED: .red
            case SANE_FRAME_GREEN: .green
            case SANE_FRAME_BLUE: .blue
            default: .gray
            }
        return FrameParameters(
            format: format, lastFrame: p.last_frame != 0, bytesPerLine: Int(p.bytes_per_line),
            pixelsPerLine: Int(p.pixels_per_line), lines: Int(p.lines), depth: Int(p.depth))
    }

    func start() -> SANE_Status { sane_start(handle) }

    /// One `sane_read`: the status and the bytes read (possibly zero).
    func read(into buffer: UnsafeMutableRawBufferPointer) -> (SANE_Status, Int) {
        var length: SANE_Int = 0
        let status = sane_read(handle, buffer.baseAddress!.assumingMemoryBound(to: SANE_Byte.self), SANE_Int(buffer.count), &length)
        return (status, Int(length))
    }

    func cancel() { sane_cancel(handle) }

    /// Asks for non-blocking reads; true when the backend agreed.
    func setNonBlocking() -> Bool { sane_set_io_mode(handle, SANE_TRUE) == SANE_STATUS_GOOD }

    /// The backend's select fd, if it offers one.
    func selectFileDescriptor() -> Int32? {
        var fd: SANE_Int = -1
        return sane_get_select_fd(handle, &fd) == SANE_STATUS_GOOD ? fd : nil
    }

    private func lookup(_ name: String) throws(ScanError) -> (Int32, OptionDescriptor) {
        guard let index = indices[name], let descriptor = descriptors.first(where: { $0.name == name }) else {
            throw ScanError(.unsupportedOption, "this scanner has no option '\(name)'")
        }
        return (index, descriptor)
    }

    private static func describe(_ raw: SANE_Option_Descriptor) -> OptionDescriptor {
        let type: OptionType =
            switch raw.type {
            case SANE_TYPE_BOOL: .bool
            case SANE_TYPE_INT: .int
            case SANE_TYPE_FIXED: .fixed
            case SANE_TYPE_STRING: .string
            case SANE_TYPE_BUTTON: .button
            default: .group
            }
        let unit: OptionUnit =
            switch raw.unit {
            case SANE_UNIT_PIXEL: .pixel
            case SANE_UNIT_BIT: .bit
            case SANE_UNIT_MM: .mm
            case SANE_UNIT_DPI: .dpi
            case SANE_UNIT_PERCENT: .percent
            case SANE_UNIT_MICROSECOND: .microsecond
            default: .none
            }
        let number = { (word: SANE_Word) -> Double in type == .fixed ? ck_sane_unfix(word) : Double(word) }
        var constraint = OptionConstraint.none
        switch raw.constraint_type {
        case SANE_CONSTRAINT_RANGE:
            if let range = raw.constraint.range?.pointee {
                constraint = .range(min: number(range.min), max: number(range.max), quant: number(range.quant))
            }
        case SANE_CONSTRAINT_WORD_LIST:
            if let list = raw.constraint.word_list {
                constraint = .wordList((0..<Int(list[0])).map { number(list[$0 + 1]) })
            }
        case SANE_CONSTRAINT_STRING_LIST:
            if let list = raw.constraint.string_list {
                var strings: [String] = []
                var index = 0
                while let entry = list[index] { strings.append(String(cString: entry)); index += 1 }
                constraint = .stringList(strings)
            }
        default:
            break
        }
        return OptionDescriptor(
            name: SANELibrary.string(raw.name), title: SANELibrary.string(raw.title), help: SANELibrary.string(raw.desc),
            type: type, unit: unit, size: Int(raw.size), constraint: constraint, capabilities: OptionCapabilities(rawValue: raw.cap))
    }

    private static func decode(_ buffer: [UInt8], _ descriptor: OptionDescriptor) -> OptionValue {
        let words = (0..<descriptor.elementCount).map { index in
            buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * 4, as: SANE_Word.self) }
        }
        switch descriptor.type {
        case .bool: return .bool(words[0] != 0)
        case .int: return .int(words.map(Int.init))
        case .fixed: return .fixed(words.map(ck_sane_unfix))
        case .string: return .string(String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self))
        case .button, .group: return .press
        }
    }

    private static func encode(_ value: OptionValue, _ descriptor: OptionDescriptor) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max(descriptor.size, 4) + 1)
        func store(_ words: [SANE_Word]) {
            buffer.withUnsafeMutableBytes { bytes in
                for (index, word) in words.prefix(descriptor.elementCount).enumerated() {
                    bytes.storeBytes(of: word, toByteOffset: index * 4, as: SANE_Word.self)
                }
            }
        }
        switch value {
        case .bool(let flag): store([flag ? SANE_TRUE : SANE_FALSE])
        case .int(let values): store(values.map { SANE_Word(clamping: $0) })
        case .fixed(let values): store(values.map(ck_sane_fix))
        case .string(let text): for (index, byte) in text.utf8.prefix(max(0, descriptor.size - 1)).enumerated() { buffer[index] = byte }
        case .press: break
        }
        return buffer
    }
}
