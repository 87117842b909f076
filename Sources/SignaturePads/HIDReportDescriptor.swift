/// A HID usage: usage page in the high 16 bits, usage id in the low 16 bits.
public struct HIDUsage: Hashable, Sendable, CustomStringConvertible {
    /// Usage page in the high 16 bits, usage id in the low 16.
    public var rawValue: UInt32

    /// A usage from page and id.
    public init(page: UInt16, id: UInt16) { rawValue = UInt32(page) << 16 | UInt32(id) }
    /// A usage from its 32-bit extended form.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The usage page.
    public var page: UInt16 { UInt16(rawValue >> 16) }
    /// The usage id within its page.
    public var id: UInt16 { UInt16(rawValue & 0xFFFF) }
    public var description: String { Self.hex(page) + ":" + Self.hex(id) }

    private static func hex(_ value: UInt16) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    // Generic Desktop (0x01) and Digitizer (0x0D) usages a pen driver needs.
    /// Generic Desktop X.
    public static let x = HIDUsage(page: 0x01, id: 0x30)
    /// Generic Desktop Y.
    public static let y = HIDUsage(page: 0x01, id: 0x31)
    /// Digitizer (the device).
    public static let digitizer = HIDUsage(page: 0x0D, id: 0x01)
    /// Pen (the device).
    public static let pen = HIDUsage(page: 0x0D, id: 0x02)
    /// Stylus (the pen's collection).
    public static let stylus = HIDUsage(page: 0x0D, id: 0x20)
    /// Tip pressure.
    public static let tipPressure = HIDUsage(page: 0x0D, id: 0x30)
    /// In range: the pen hovers close enough to be tracked.
    public static let inRange = HIDUsage(page: 0x0D, id: 0x32)
    /// Invert: the pen's eraser end is towards the pad.
    public static let invert = HIDUsage(page: 0x0D, id: 0x3C)
    /// Tilt along X.
    public static let xTilt = HIDUsage(page: 0x0D, id: 0x3D)
    /// Tilt along Y.
    public static let yTilt = HIDUsage(page: 0x0D, id: 0x3E)
    /// Tip switch: the pen touches the pad.
    public static let tipSwitch = HIDUsage(page: 0x0D, id: 0x42)
    /// Barrel switch (the side button).
    public static let barrelSwitch = HIDUsage(page: 0x0D, id: 0x44)
    /// Eraser.
    public static let eraser = HIDUsage(page: 0x0D, id: 0x45)
}

/// Input, output or feature: the three kinds of report.
public enum HIDReportKind: String, Sendable, Hashable {
    /// The three kinds of HID report.
    case input, output, feature
}

/// A collection as the descriptor opens it.
public struct HIDCollection: Sendable, Equatable {
    /// 0 physical, 1 application, 2 logical, 3 report, 4 named array, 5 usage switch, 6 usage modifier.
    public var type: UInt8
    /// The collection's usage, when it has one.
    public var usage: HIDUsage?
    /// The enclosing collection's index, nil at the top.
    public var parent: Int?
}

/// One data element of a report: where its bits are and how to read them.
public struct HIDField: Sendable, Equatable {
    /// Input, output or feature.
    public var kind: HIDReportKind
    /// 0 when the device uses no report ids.
    public var reportID: UInt8
    /// Offset in bits from the start of the report's data (after the report-id byte, when there is one).
    public var bitOffset: Int
    /// Bits per value.
    public var bitSize: Int
    /// The usage of a variable element; for an array element, nil (see `arrayUsages`).
    public var usage: HIDUsage?
    /// The usages an array element's value indexes (from the logical minimum).
    public var arrayUsages: [HIDUsage]
    /// Constant (padding) rather than data.
    public var isConstant: Bool
    /// A variable (one value per usage) rather than an array.
    public var isVariable: Bool
    /// Relative rather than absolute values.
    public var isRelative: Bool
    /// The smallest value the field reports.
    public var logicalMinimum: Int64
    /// The largest value the field reports.
    public var logicalMaximum: Int64
    /// The physical value of the logical minimum.
    public var physicalMinimum: Int64
    /// The physical value of the logical maximum.
    public var physicalMaximum: Int64
    /// The unit exponent (a power of ten), e.g. -2.
    public var unitExponent: Int
    /// The HID unit code, e.g. 0x11 centimetres, 0x13 inches, 0x14 degrees.
    public var unit: UInt32
    /// The innermost collection holding the element.
    public var collection: Int?
}

/// A parsed HID report descriptor (HID 1.11 §6.2.2): main, global and local items, PUSH/POP,
/// report ids, usage pages and ranges (extended 32-bit usages too), logical and physical ranges,
/// units and exponents. Each main item's report count is expanded into one `HIDField` per element.
public struct HIDReportDescriptor: Sendable, Equatable {
    /// Every main item's fields, in descriptor order.
    public private(set) var fields: [HIDField] = []
    /// Every collection, in descriptor order.
    public private(set) var collections: [HIDCollection] = []
    /// Whether reports start with a report-id byte.
    public var usesReportIDs: Bool { fields.contains { $0.reportID != 0 } }

    private struct Globals {
        var usagePage: UInt16 = 0
        var logicalMinimum: Int64 = 0
        var logicalMaximum: Int64 = 0
        var physicalMinimum: Int64 = 0
        var physicalMaximum: Int64 = 0
        var unitExponent = 0
        var unit: UInt32 = 0
        var reportSize = 0
        var reportID: UInt8 = 0
        var reportCount = 0
        /// Raw bytes of the logical maximum, for reading it unsigned when the minimum is not negative.
        var logicalMaximumRaw: (value: UInt32, size: Int) = (0, 0)
    }

    /// Fields in one descriptor, at most (a 4096-byte report of 1-bit fields has 32768).
    static let maxFields = 65_536

    /// Parses `bytes`; a truncated item, a POP without PUSH, an unbalanced END_COLLECTION, an oversized
    /// report or a usage range over 4096 usages is `invalid_descriptor`.
    public init(_ bytes: [UInt8]) throws(SignaturePadError) {
        var globals = Globals()
        var stack: [Globals] = []
        var usages: [HIDUsage] = []
        var usageMinimum: UInt32?
        var open: [Int] = []
        var offsets: [HIDReportKind: [UInt8: Int]] = [:]
        var index = 0

        func fail(_ message: String) -> SignaturePadError {
            SignaturePadError(.invalidDescriptor, "report descriptor byte \(index): \(message)")
        }

        while index < bytes.count {
            let prefix = bytes[index]
            if prefix == 0xFE {  // long item: size, tag, data
                guard index + 2 < bytes.count else { throw fail("truncated long item") }
                index += 3 + Int(bytes[index + 1])
                continue
            }
            let size = [0, 1, 2, 4][Int(prefix & 0x03)]
            guard index + size < bytes.count else { throw fail("truncated item 0x\(String(prefix, radix: 16))") }
            var raw: UInt32 = 0
            for byte in 0..<size { raw |= UInt32(bytes[index + 1 + byte]) << (8 * byte) }
            let signed: Int64 =
                switch size {
                case 1: Int64(Int8(truncatingIfNeeded: raw))
                case 2: Int64(Int16(truncatingIfNeeded: raw))
                case 4: Int64(Int32(bitPattern: raw))
                default: 0
                }
            let type = (prefix >> 2) & 0x03, tag = prefix >> 4
            switch (type, tag) {
            // Main items
            case (0, 0x8), (0, 0x9), (0, 0xB):
                let kind: HIDReportKind = tag == 0x8 ? .input : tag == 0x9 ? .output : .feature
                let count = globals.reportCount, bitSize = globals.reportSize
                guard count >= 0, bitSize >= 0, bitSize <= 32 || raw & 0x01 != 0 else { throw fail("report size \(bitSize) over 32 bits") }
                // No report holds more than 4096 bytes, so neither its field count nor a field's size can exceed its bits
                // (checked first: a zero-bit field repeated 2^32 times would otherwise exhaust memory).
                guard count <= 8 * 4096, bitSize <= 8 * 4096, fields.count + count <= Self.maxFields else {
                    throw fail("report count \(count) of \(bitSize)-bit fields is more than a 4096-byte report holds")
                }
                var expanded = usages
                if let minimum = usageMinimum, expanded.isEmpty { expanded = [HIDUsage(rawValue: minimum)] }
                var offset = offsets[kind]?[globals.reportID] ?? 0
                guard offset + count * bitSize <= 8 * 4096 else { throw fail("report \(globals.reportID) longer than 4096 bytes") }
                let variable = raw & 0x02 != 0
                var logicalMaximum = globals.logicalMaximum
                if globals.logicalMinimum >= 0, logicalMaximum < globals.logicalMinimum, globals.logicalMaximumRaw.size > 0 {
                    logicalMaximum = Int64(globals.logicalMaximumRaw.value)  // written unsigned, as many devices do
                }
                for element in 0..<count {
                    let usage: HIDUsage? = variable ? (element < expanded.count ? expanded[element] : expanded.last) : nil
                    fields.append(
                        HIDField(
                            kind: kind, reportID: globals.reportID, bitOffset: offset, bitSize: bitSize, usage: usage,
                            arrayUsages: variable ? [] : expanded, isConstant: raw & 0x01 != 0, isVariable: variable,
                            isRelative: raw & 0x04 != 0, logicalMinimum: globals.logicalMinimum, logicalMaximum: logicalMaximum,
                            physicalMinimum: globals.physicalMinimum, physicalMaximum: globals.physicalMaximum,
                            unitExponent: globals.unitExponent, unit: globals.unit, collection: open.last))
                    offset += bitSize
                }
                offsets[kind, default: [:]][globals.reportID] = offset
                usages = []
                usageMinimum = nil
            case (0, 0xA):
                collections.append(HIDCollection(type: UInt8(truncatingIfNeeded: raw), usage: usages.first, parent: open.last))
                open.append(collections.count - 1)
                usages = []
                usageMinimum = nil
            case (0, 0xC):
                guard open.popLast() != nil else { throw fail("END_COLLECTION without a collection") }
                usages = []
                usageMinimum = nil
            // Global items
            case (1, 0x0): globals.usagePage = UInt16(truncatingIfNeeded: raw)
            case (1, 0x1): globals.logicalMinimum = signed
            case (1, 0x2):
                globals.logicalMaximum = signed
                globals.logicalMaximumRaw = (raw, size)
            case (1, 0x3): globals.physicalMinimum = signed
            case (1, 0x4): globals.physicalMaximum = signed
            case (1, 0x5): globals.unitExponent = Int(Int8(truncatingIfNeeded: UInt8(raw & 0x0F) << 4) >> 4)  // 4-bit two's complement
            case (1, 0x6): globals.unit = raw
            case (1, 0x7): globals.reportSize = Int(raw)
            case (1, 0x8):
                guard raw > 0, raw <= 0xFF else { throw fail("report id \(raw) outside 1…255") }
                globals.reportID = UInt8(raw)
            case (1, 0x9): globals.reportCount = Int(raw)
            case (1, 0xA): stack.append(globals)
            case (1, 0xB):
                guard let saved = stack.popLast() else { throw fail("POP without PUSH") }
                globals = saved
            // Local items
            case (2, 0x0): usages.append(Self.usage(raw, size: size, page: globals.usagePage))
            case (2, 0x1): usageMinimum = Self.usage(raw, size: size, page: globals.usagePage).rawValue
            case (2, 0x2):
                let maximum = Self.usage(raw, size: size, page: globals.usagePage).rawValue
                guard let minimum = usageMinimum, maximum >= minimum, maximum - minimum < 4096 else {
                    throw fail("usage range without a minimum, reversed, or over 4096 usages")
                }
                usages += (minimum...maximum).map { HIDUsage(rawValue: $0) }
                usageMinimum = nil
            default:
                break  // designators, strings, delimiters and reserved items carry nothing a pen driver needs
            }
            index += 1 + size
        }
        guard open.isEmpty else { throw SignaturePadError(.invalidDescriptor, "report descriptor ends with \(open.count) collection(s) open") }
    }

    private static func usage(_ raw: UInt32, size: Int, page: UInt16) -> HIDUsage {
        size == 4 ? HIDUsage(rawValue: raw) : HIDUsage(page: page, id: UInt16(truncatingIfNeeded: raw))
    }

    /// The report ids with fields of `kind`.
    public func reportIDs(_ kind: HIDReportKind) -> [UInt8] {
        Array(Set(fields.filter { $0.kind == kind }.map(\.reportID))).sorted()
    }

    /// Length in bytes of a report's data (without the report-id byte).
    public func reportLength(_ kind: HIDReportKind, id: UInt8) -> Int {
        let bits = fields.filter { $0.kind == kind && $0.reportID == id }.map { $0.bitOffset + $0.bitSize }.max() ?? 0
        return (bits + 7) / 8
    }

    /// Whether collection `index` is, or lies inside, a collection with `usage`.
    public func collection(_ index: Int?, isInside usage: HIDUsage) -> Bool {
        var current = index
        while let position = current {
            if collections[position].usage == usage { return true }
            current = collections[position].parent
        }
        return false
    }
}

extension HIDField {
    /// The element's raw value from a report's data (bytes after the report id), little-endian,
    /// sign-extended when the logical minimum is negative; nil when the data is too short.
    public func value(in data: some Collection<UInt8>) -> Int64? {
        guard bitSize > 0, bitSize <= 32, (bitOffset + bitSize + 7) / 8 <= data.count else { return nil }
        var result: UInt64 = 0
        let start = data.index(data.startIndex, offsetBy: bitOffset / 8)
        let end = data.index(data.startIndex, offsetBy: (bitOffset + bitSize + 7) / 8)
        for (shift, byte) in data[start..<end].enumerated() { result |= UInt64(byte) << (8 * shift) }
        result = (result >> (bitOffset % 8)) & ((1 << bitSize) - 1)
        if logicalMinimum < 0, result & (1 << (bitSize - 1)) != 0 { return Int64(result) - (1 << bitSize) }
        return Int64(result)
    }

    /// A raw value in physical units scaled by the unit exponent: millimetres for lengths in
    /// centimetres or inches, degrees for angles (radians are converted), or the logical value
    /// scaled to the physical range when the unit is none. Without a physical range, the logical value.
    public func physical(_ value: Int64) -> Double {
        var physicalMinimum = Double(self.physicalMinimum), physicalMaximum = Double(self.physicalMaximum)
        if physicalMinimum == 0 && physicalMaximum == 0 {
            physicalMinimum = Double(logicalMinimum)
            physicalMaximum = Double(logicalMaximum)
        }
        let span = Double(logicalMaximum - logicalMinimum)
        let scaled =
            span == 0
            ? physicalMinimum
            : physicalMinimum + Double(value - logicalMinimum) * (physicalMaximum - physicalMinimum) / span
        let withExponent = scaled * pow10(unitExponent)
        switch unit {
        case 0x11: return withExponent * 10  // centimetres → mm
        case 0x13: return withExponent * 25.4  // inches → mm
        case 0x12: return withExponent * 180 / Double.pi  // radians → degrees
        default: return withExponent
        }
    }

    private func pow10(_ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<abs(exponent) { result *= 10 }
        return exponent < 0 ? 1 / result : result
    }
}
