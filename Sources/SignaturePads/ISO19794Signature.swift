/// ISO/IEC 19794-7:2007 signature/sign time series data, full format, with the channels a pad
/// gives: X, Y (0.01 mm), T (ms from the first sample), F (pressure, 0…1023) and S (1 touching, 0 not).
///
/// Layout (the standard's ASN.1 module with its encoding instructions): "SDI\0", " 10\0", a 16-bit
/// channel-inclusion map (X first, most significant bit), for each included channel a preamble byte
/// (scaling value, min, max, mean, std present; constant; linear component removed; reserved) and
/// the fields it announces, then the body: an 8-bit optionality map (extended data), the number of
/// sample points in 3 bytes, the points (each included channel in order; S in 1 byte, the others in
/// 2), and the extended data with a 2-byte length when present. Integers are big-endian; constrained
/// integers are stored as their offset from the lower bound (signed 16-bit values + 32768, a scaling
/// exponent + 16), as the packed encoding rules the module names prescribe.
public enum ISO19794Signature: Sendable {
    /// One decoded sample point of the five channels.
    public struct Point: Sendable, Equatable {
        /// Hundredths of a millimetre.
        public var x: Int
        /// Y in the record's units.
        public var y: Int
        /// Milliseconds from the first point.
        public var t: Int
        /// Pressure, 0…1023.
        public var f: Int
        /// 1 touching, 0 not.
        public var s: Int
    }

    /// A decoded record.
    public struct Record: Sendable, Equatable {
        /// The sample points, in time order.
        public var points: [Point]
        /// Channel scaling values (units per millimetre for X and Y, per second for T), by channel name.
        public var scaling: [String: Double]
        /// The extended data block, when present.
        public var extendedData: [UInt8]?
    }

    /// Channel bits in the inclusion map, X at the top.
    private static let channelOrder = ["x", "y", "z", "vX", "vY", "aX", "aY", "t", "dt", "f", "s", "tX", "tY", "az", "el", "r"]
    private static let written = ["x", "y", "t", "f", "s"]
    private static let signed: Set<String> = ["x", "y", "vX", "vY", "aX", "aY", "tX", "tY"]

    /// Encodes `signature`; a signature longer than 65.535 s or beyond ±327 mm is `invalid_value`.
    public static func encode(_ signature: Signature) throws(SignaturePadError) -> [UInt8] {
        let start = signature.samples.first?.time ?? 0
        var points: [Point] = []
        for sample in signature.samples {
            let point = Point(
                x: Int((sample.x * 100).rounded()), y: Int((sample.y * 100).rounded()), t: Int((sample.time - start).rounded()),
                f: Int((sample.pressure * 1023).rounded()), s: sample.touching ? 1 : 0)
            guard (-32768...32767).contains(point.x), (-32768...32767).contains(point.y) else {
                throw SignaturePadError(.invalidValue, "a sample at \(sample.x), \(sample.y) mm lies outside ISO 19794-7's ±327.67 mm")
            }
            guard (0...65535).contains(point.t) else {
                throw SignaturePadError(.invalidValue, "ISO 19794-7 time stamps reach 65.535 s; the signature lasts \(point.t) ms")
            }
            points.append(point)
        }
        guard points.count < 1 << 24 else { throw SignaturePadError(.invalidValue, "too many sample points (\(points.count))") }

        var bytes: [UInt8] = Array("SDI".utf8) + [0] + Array(" 10".utf8) + [0]
        let inclusion = written.reduce(UInt16(0)) { $0 | 0x8000 >> UInt16(channelOrder.firstIndex(of: $1)!) }
        bytes += [UInt8(inclusion >> 8), UInt8(inclusion & 0xFF)]
        // Descriptions: X and Y with scaling (100 units per mm) and range; T with scaling (1000 per s);
        // F with its range; S with its range.
        let xs = points.map(\.x), ys = points.map(\.y)
        bytes += description(scaling: 100, minimum: xs.min() ?? 0, maximum: xs.max() ?? 0, signed: true)
        bytes += description(scaling: 100, minimum: ys.min() ?? 0, maximum: ys.max() ?? 0, signed: true)
        bytes += description(scaling: 1000, minimum: nil, maximum: nil, signed: false)
        bytes += description(scaling: nil, minimum: 0, maximum: 1023, signed: false)
        bytes += description(scaling: nil, minimum: 0, maximum: 1, signed: false)
        // Body.
        bytes.append(0)  // no extended data
        bytes += [UInt8(points.count >> 16 & 0xFF), UInt8(points.count >> 8 & 0xFF), UInt8(points.count & 0xFF)]
        for point in points {
            bytes +=
                int16(point.x, signed: true) + int16(point.y, signed: true) + int16(point.t, signed: false)
                + int16(point.f, signed: false) + [UInt8(point.s)]
        }
        return bytes
    }

    /// Decodes a record holding at least X and Y; channels other than the five are skipped.
    public static func decode(_ bytes: [UInt8]) throws(SignaturePadError) -> Record {
        var reader = Reader(bytes: bytes)
        guard try reader.take(4) == Array("SDI".utf8) + [0] else { throw reader.fail("not an ISO 19794-7 record (no SDI)") }
        let version = try reader.take(4)
        guard version == Array(" 10".utf8) + [0] else { throw reader.fail("version \(String(decoding: version.prefix(3), as: UTF8.self)) is not 1.0") }
        let inclusion = UInt16(try reader.byte()) << 8 | UInt16(try reader.byte())
        let channels = channelOrder.enumerated().filter { inclusion & (0x8000 >> UInt16($0.offset)) != 0 }.map(\.element)
        guard channels.contains("x"), channels.contains("y") else { throw reader.fail("X and Y channels are mandatory") }
        var scaling: [String: Double] = [:]
        for channel in channels {
            let preamble = try reader.byte()
            if preamble & 0x80 != 0 {
                let raw = UInt16(try reader.byte()) << 8 | UInt16(try reader.byte())
                let exponent = Int(raw >> 11) - 16, fraction = Double(raw & 0x07FF)
                scaling[channel] = pow2(exponent) * (1 + fraction / 2048)
            }
            for flag: UInt8 in [0x40, 0x20, 0x10, 0x08] where preamble & flag != 0 { _ = try reader.take(2) }
        }
        let optionality = try reader.byte()
        let count = Int(try reader.byte()) << 16 | Int(try reader.byte()) << 8 | Int(try reader.byte())
        var points: [Point] = []
        points.reserveCapacity(min(count, bytes.count / 2))
        for _ in 0..<count {
            var values: [String: Int] = [:]
            for channel in channels {
                if channel == "s" {
                    values[channel] = Int(try reader.byte())
                } else {
                    let raw = Int(try reader.byte()) << 8 | Int(try reader.byte())
                    values[channel] = signed.contains(channel) ? raw - 32768 : raw
                }
            }
            points.append(Point(x: values["x"]!, y: values["y"]!, t: values["t"] ?? 0, f: values["f"] ?? 0, s: values["s"] ?? 1))
        }
        var extended: [UInt8]?
        if optionality & 0x80 != 0 {
            let length = Int(try reader.byte()) << 8 | Int(try reader.byte())
            extended = try reader.take(length)
        }
        return Record(points: points, scaling: scaling, extendedData: extended)
    }

    private static func description(scaling: Double?, minimum: Int?, maximum: Int?, signed: Bool) -> [UInt8] {
        var preamble: UInt8 = 0
        var fields: [UInt8] = []
        if let scaling {
            preamble |= 0x80
            fields += scalingValue(scaling)
        }
        if let minimum {
            preamble |= 0x40
            fields += int16(minimum, signed: signed)
        }
        if let maximum {
            preamble |= 0x20
            fields += int16(maximum, signed: signed)
        }
        return [preamble] + fields
    }

    /// 2^exponent × (1 + fraction/2048), exponent −16…15 stored + 16 in 5 bits, fraction in 11 bits.
    static func scalingValue(_ value: Double) -> [UInt8] {
        var exponent = 0
        var mantissa = value
        while mantissa >= 2 { mantissa /= 2; exponent += 1 }
        while mantissa < 1 { mantissa *= 2; exponent -= 1 }
        let fraction = min(Int(((mantissa - 1) * 2048).rounded()), 2047)
        let raw = UInt16(exponent + 16) << 11 | UInt16(fraction)
        return [UInt8(raw >> 8), UInt8(raw & 0xFF)]
    }

    private static func int16(_ value: Int, signed: Bool) -> [UInt8] {
        let stored = UInt16(truncatingIfNeeded: signed ? value + 32768 : value)
        return [UInt8(stored >> 8), UInt8(stored & 0xFF)]
    }

    private static func pow2(_ exponent: Int) -> Double {
        exponent >= 0 ? Double(1 << exponent) : 1 / Double(1 << -exponent)
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func byte() throws(SignaturePadError) -> UInt8 {
            guard offset < bytes.count else { throw fail("the record ends early") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func take(_ count: Int) throws(SignaturePadError) -> [UInt8] {
            guard offset + count <= bytes.count else { throw fail("the record ends early") }
            defer { offset += count }
            return Array(bytes[offset..<offset + count])
        }

        func fail(_ message: String) -> SignaturePadError {
            SignaturePadError(.invalidValue, "ISO 19794-7 record, byte \(offset): \(message)")
        }
    }
}
