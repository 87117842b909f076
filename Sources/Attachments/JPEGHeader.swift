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
        guard let walk = data.withUnsafeBytes({ try? JPEGMarkerWalk($0) }) else { return nil }
        self = walk.header
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

/// The markers of a JPEG from SOI up to the start of scan (SOS): the frame header,
/// whether Huffman tables are present, and where the scan begins.
struct JPEGMarkerWalk {
    var header: JPEGHeader
    /// Offset of the frame header's (SOF) marker.
    var frameHeaderStart: Int
    /// Offset of the SOS marker.
    var scanStart: Int
    /// Offset of the entropy-coded data, after the SOS segment's header.
    var scanDataStart: Int

    /// Throws `invalid_image` for no SOI, a broken or truncated segment, no sized frame header, or no SOS.
    init(_ bytes: UnsafeRawBufferPointer) throws(AttachmentError) {
        let count = bytes.count
        guard count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else {
            throw AttachmentError(.invalidImage, "not a JPEG (no SOI marker)")
        }
        var index = 2
        var frame: (precision: Int, height: Int, width: Int, components: Int)?
        var frameStart = 0
        var huffman = false
        while index + 4 <= count {
            guard bytes[index] == 0xFF else { throw AttachmentError(.invalidImage, "JPEG is corrupt: no marker at offset \(index)") }
            let marker = bytes[index + 1]
            if marker == 0xFF { index += 1; continue }
            if marker == 0x01 || (0xD0...0xD7).contains(marker) { index += 2; continue }
            if marker == 0xD9 { break }
            let segmentLength = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            guard segmentLength >= 2, index + 2 + segmentLength <= count else {
                throw AttachmentError(.invalidImage, "JPEG is truncated in a segment at offset \(index)")
            }
            let body = index + 4
            switch marker {
            case 0xC4:
                huffman = true
            case 0xC0...0xCF where marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
                guard segmentLength >= 8 else { throw AttachmentError(.invalidImage, "JPEG frame header is too short") }
                frame = (
                    Int(bytes[body]), Int(bytes[body + 1]) << 8 | Int(bytes[body + 2]),
                    Int(bytes[body + 3]) << 8 | Int(bytes[body + 4]), Int(bytes[body + 5])
                )
                frameStart = index
            case 0xDA:
                guard let frame, frame.width > 0, frame.height > 0 else {
                    throw AttachmentError(.invalidImage, "JPEG has no frame header (SOF) with a size before its scan")
                }
                header = JPEGHeader(
                    width: frame.width, height: frame.height, components: frame.components,
                    precision: frame.precision, hasHuffmanTables: huffman)
                frameHeaderStart = frameStart
                scanStart = index
                scanDataStart = index + 2 + segmentLength
                return
            default:
                break
            }
            index += 2 + segmentLength
        }
        throw AttachmentError(.invalidImage, "JPEG has no scan (SOS)")
    }
}
