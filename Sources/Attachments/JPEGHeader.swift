/// The facts of a JPEG file's frame header (SOF), read without decoding.
public struct JPEGHeader: Sendable, Equatable {
    /// Pixels per row.
    public var width: Int
    /// Rows.
    public var height: Int
    /// Colour components: 1 gray, 3 YCbCr, 4 CMYK.
    public var components: Int
    /// Bits per sample (8 for baseline).
    public var precision: Int
    /// Whether the file carries its own Huffman tables (a DHT segment).
    public var hasHuffmanTables: Bool

    /// Parses the markers up to the start of scan; nil when `bytes` is not a JPEG.
    public init?(_ bytes: some Collection<UInt8>) {
        let data = Array(bytes.prefix(1 << 20))
        guard data.count > 4, data[0] == 0xFF, data[1] == 0xD8 else { return nil }
        var index = 2
        var frame: (Int, Int, Int, Int)?
        var huffman = false
        while index + 4 <= data.count {
            guard data[index] == 0xFF else { return nil }
            let marker = data[index + 1]
            if marker == 0xFF { index += 1; continue }
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { index += 2; continue }
            let length = Int(data[index + 2]) << 8 | Int(data[index + 3])
            guard length >= 2, index + 2 + length <= data.count else { return nil }
            let body = index + 4
            switch marker {
            case 0xC4:
                huffman = true
            case 0xC0...0xCF where marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
                guard length >= 8 else { return nil }
                frame = (Int(data[body]), Int(data[body + 1]) << 8 | Int(data[body + 2]),
                         Int(data[body + 3]) << 8 | Int(data[body + 4]), Int(data[body + 5]))
            case 0xDA, 0xD9:
                guard let (precision, height, width, components) = frame else { return nil }
                self.init(width: width, height: height, components: components, precision: precision, hasHuffmanTables: huffman)
                return
            default:
                break
            }
            index += 2 + length
        }
        return nil
    }

    /// Creates a header from known values.
    public init(width: Int, height: Int, components: Int, precision: Int, hasHuffmanTables: Bool) {
        self.width = width
        self.height = height
        self.components = components
        self.precision = precision
        self.hasHuffmanTables = hasHuffmanTables
    }
}
