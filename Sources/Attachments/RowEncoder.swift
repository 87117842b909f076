/// Something that takes an image one row at a time and writes it out
/// without holding the whole image.
public protocol RowEncoder: AnyObject {
    /// The image being encoded.
    var image: ImageDescription { get }
    /// Rows accepted so far.
    var rowsWritten: Int { get }
    /// Appends one packed row (`image.bytesPerRow` bytes in `image.format`).
    func write(row: UnsafeRawBufferPointer) throws(AttachmentError)
    /// Completes the file after the last row; fails if rows are missing.
    func finish() throws(AttachmentError)
}

/// Checks each row's length and the row count, shared by all encoders.
struct RowAccounting {
    let image: ImageDescription
    private(set) var rows = 0

    init(_ image: ImageDescription) { self.image = image }

    mutating func accept(_ row: UnsafeRawBufferPointer) throws(AttachmentError) {
        guard row.count == image.bytesPerRow else {
            throw AttachmentError(.invalidImage, "row of \(row.count) bytes, expected \(image.bytesPerRow)")
        }
        guard rows < image.height else {
            throw AttachmentError(.invalidImage, "more than the \(image.height) rows declared")
        }
        rows += 1
    }

    func checkComplete() throws(AttachmentError) {
        guard rows == image.height else {
            throw AttachmentError(.invalidImage, "\(rows) of \(image.height) rows were written")
        }
    }
}

/// Sample conversions between the pixel formats.
public enum SampleConversion: Sendable {
    /// True on little-endian hosts, where 16-bit samples must be swapped for PNG, PNM and PDF.
    public static let hostIsLittleEndian = 1.littleEndian == 1

    /// Converts one row to the 8-bit format with the same channels: lineart
    /// becomes gray (1 = black → 0), 16-bit keeps its high byte.
    public static func toEightBit(
        _ row: UnsafeRawBufferPointer, format: PixelFormat, width: Int, into output: UnsafeMutableRawBufferPointer
    ) {
        switch format {
        case .gray8, .rgb8, .grayAlpha8:
            output.copyMemory(from: row)
        case .blackAndWhite:
            for x in 0..<width {
                let bit = (row[x >> 3] >> (7 - UInt8(x & 7))) & 1
                output[x] = bit == 1 ? 0 : 255
            }
        case .gray16, .rgb16:
            let samples = width * format.channels
            for index in 0..<samples {
                let value = row.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)
                output[index] = UInt8(truncatingIfNeeded: value >> 8)
            }
        }
    }

    /// Copies a row of host-order 16-bit samples as big-endian.
    public static func toBigEndian16(_ row: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        let samples = row.count / 2
        for index in 0..<samples {
            let value = row.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)
            output.storeBytes(of: value.bigEndian, toByteOffset: index * 2, as: UInt16.self)
        }
    }
}

/// A fixed-size scratch row, allocated once and freed with its owner.
public final class RowBuffer {
    /// The row's bytes (zeroed at creation).
    public let bytes: UnsafeMutableRawBufferPointer

    /// Allocates `count` zeroed bytes.
    public init(count: Int) {
        bytes = .allocate(byteCount: max(count, 1), alignment: 8)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { bytes.deallocate() }
}

/// Hands rows on as files store them: unchanged, with 16-bit samples swapped to big-endian on
/// little-endian hosts (PNM and PDF store 16-bit samples big-endian), or, for 1-bit rows whose width
/// is not a multiple of 8, with the padding bits after the last pixel cleared, so that the same image
/// always gives the same file (scanners leave whatever was in their buffer there).
final class BigEndianRows {
    private let scratch: RowBuffer?
    private let swap: Bool
    /// The bits of the last byte that are pixels, for 1-bit rows with padding.
    private let lastByteMask: UInt8?

    init(_ image: ImageDescription) {
        swap = image.format.bitsPerSample == 16 && SampleConversion.hostIsLittleEndian
        let remainder = image.width % 8
        lastByteMask = image.format == .blackAndWhite && remainder != 0 ? UInt8(0xFF << (8 - remainder) & 0xFF) : nil
        scratch = swap || lastByteMask != nil ? RowBuffer(count: image.bytesPerRow) : nil
    }

    func convert(_ row: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard let scratch else { return row }
        if swap {
            SampleConversion.toBigEndian16(row, into: scratch.bytes)
        } else {
            scratch.bytes.copyMemory(from: row)
        }
        if let lastByteMask, !scratch.bytes.isEmpty { scratch.bytes[scratch.bytes.count - 1] &= lastByteMask }
        return UnsafeRawBufferPointer(scratch.bytes)
    }
}
