/// A V4L2 pixel format code: four ASCII characters packed little-endian,
/// with bit 31 set for the big-endian variant of a format (`V4L2_PIX_FMT_*_BE`).
public struct FourCC: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The packed code as the kernel uses it.
    public var rawValue: UInt32

    /// Wraps a packed code.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Parses four characters ("YUYV", "Y16 ") optionally followed by "-BE"; shorter codes are padded with spaces.
    public init?(_ text: String) {
        var name = text
        var bigEndian = false
        if name.uppercased().hasSuffix("-BE"), name.utf8.count > 3 {
            bigEndian = true
            name = String(name.dropLast(3))
        }
        let bytes = Array(name.utf8)
        guard (1...4).contains(bytes.count), bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        let padded = bytes + Array(repeating: UInt8(ascii: " "), count: 4 - bytes.count)
        rawValue = UInt32(padded[0]) | UInt32(padded[1]) << 8 | UInt32(padded[2]) << 16 | UInt32(padded[3]) << 24
        if bigEndian { rawValue |= 1 << 31 }
    }

    /// The four characters (trailing spaces kept, as in "Y16 "), with "-BE" for big-endian variants.
    public var description: String {
        let bytes = (0..<4).map { UInt8(truncatingIfNeeded: (rawValue & 0x7FFF_FFFF) >> ($0 * 8)) }
        let text = String(decoding: bytes.map { (0x20..<0x7F).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
        return rawValue & (1 << 31) != 0 ? text + "-BE" : text
    }

    /// The code without trailing spaces, as used in requests and JSON ("Y16", "Y16-BE").
    public var name: String {
        let text = description
        if text.hasSuffix("-BE") { return String(text.dropLast(3)).trimmingTrailingSpaces() + "-BE" }
        return text.trimmingTrailingSpaces()
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let code = FourCC(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a pixel format code: \(text)"))
        }
        self = code
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }

    static let mjpeg = FourCC("MJPG")!
    static let jpeg = FourCC("JPEG")!
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.hasSuffix(" ") { text.removeLast() }
        return text
    }
}
