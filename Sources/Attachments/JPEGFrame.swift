import CTurboJPEG

/// A complete JPEG image as a camera delivers it (a Motion-JPEG frame), checked
/// without decoding, ready to be stored as it is.
///
/// Many UVC cameras omit the Huffman tables (DHT) from their frames and rely on
/// the decoder to assume the standard tables of ITU-T T.81 Annex K.3, as the
/// AVI/MJPEG convention allows. A file needs them, so `write(to:)` inserts the
/// standard tables before the start of scan when a frame has none.
public struct JPEGFrame {
    /// The frame's bytes (borrowed; valid as long as the caller's buffer).
    public let bytes: UnsafeRawBufferPointer
    /// Facts from the frame header.
    public let header: JPEGHeader
    /// Where the standard tables go when the frame lacks them (the SOS marker's offset), or nil.
    public let huffmanInsertionOffset: Int?
    /// Length up to and including the EOI marker (drivers may pad the buffer after it).
    public let length: Int

    /// Walks the markers of `bytes`; throws `invalid_image` for anything that is not a
    /// complete baseline or extended JPEG (no SOI, a broken segment, no frame header, no EOI).
    public init(_ bytes: UnsafeRawBufferPointer) throws(AttachmentError) {
        self.bytes = bytes
        let walk = try JPEGMarkerWalk(bytes)
        // The entropy-coded data never contains FF D9 (FF is stuffed), so the last EOI ends the image; it must
        // come after the scan header (FF D9 inside that header is data, found by fuzzing).
        var end = bytes.count - 1
        while end > walk.scanDataStart, !(bytes[end - 1] == 0xFF && bytes[end] == 0xD9) { end -= 1 }
        guard end > walk.scanDataStart else { throw AttachmentError(.invalidImage, "JPEG frame is truncated (no EOI marker)") }
        header = walk.header
        huffmanInsertionOffset = walk.header.hasHuffmanTables ? nil : walk.scanStart
        length = end + 1
    }

    /// Writes the frame as a JPEG file: unchanged, or with the standard Huffman tables inserted.
    public func write(to output: OutputFile) throws(AttachmentError) {
        guard let insertion = huffmanInsertionOffset else {
            try output.write(UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
            return
        }
        try output.write(UnsafeRawBufferPointer(rebasing: bytes[0..<insertion]))
        try output.write(JPEGFrame.standardHuffmanTables)
        try output.write(UnsafeRawBufferPointer(rebasing: bytes[insertion..<length]))
    }

    /// The bytes `write(to:)` produces, as an array.
    public func fileBytes() -> [UInt8] {
        guard let insertion = huffmanInsertionOffset else { return Array(bytes[0..<length]) }
        return Array(bytes[0..<insertion]) + JPEGFrame.standardHuffmanTables + Array(bytes[insertion..<length])
    }

    /// Decodes the frame (TurboJPEG; a DHT-less frame gets the standard tables first) and writes
    /// its rows to `encoder`, which must expect RGB or gray 8-bit rows of the frame's size.
    /// Corrupt image data is `invalid_image`, even where libjpeg would only warn.
    /// A camera frame is already whole in memory, so it is decoded in one call.
    public func decode(into encoder: any RowEncoder) throws(AttachmentError) {
        let image = encoder.image
        guard image.width == header.width, image.height == header.height,
            image.format == .rgb8 || image.format == .gray8
        else {
            throw AttachmentError(
                .encoderFailed, "the encoder expects \(image.width)x\(image.height) \(image.format.rawValue); the JPEG is \(header.width)x\(header.height)")
        }
        guard let handle = tjInitDecompress() else { throw AttachmentError(.encoderFailed, "tjInitDecompress failed") }
        defer { tjDestroy(handle) }
        var source = fileBytes()
        var pixels = [UInt8](repeating: 0, count: image.bytesPerRow * image.height)
        let pixelFormat = image.format == .gray8 ? TJPF_GRAY : TJPF_RGB
        // libjpeg only warns about corrupt entropy-coded data and fills the rest with gray; stopping on the
        // warning turns a damaged frame into an error, so a camera's next frame is taken instead.
        let status = tjDecompress2(
            handle, &source, UInt(source.count), &pixels, Int32(image.width), Int32(image.bytesPerRow),
            Int32(image.height), pixelFormat.rawValue, TJFLAG_STOPONWARNING)
        guard status == 0 else {
            throw AttachmentError(.invalidImage, "JPEG frame does not decode: \(String(cString: tjGetErrorStr2(handle)))")
        }
        for row in 0..<image.height {
            let range = row * image.bytesPerRow..<(row + 1) * image.bytesPerRow
            let failure = pixels.withUnsafeBytes { all -> AttachmentError? in
                do throws(AttachmentError) { try encoder.write(row: UnsafeRawBufferPointer(rebasing: all[range])) } catch { return error }
                return nil
            }
            if let failure { throw failure }
        }
    }

    /// One DHT segment with the four tables of ITU-T T.81 Annex K.3
    /// (luminance DC and AC, chrominance DC and AC).
    public static let standardHuffmanTables: [UInt8] = {
        let tables: [(UInt8, [UInt8], [UInt8])] = [
            (0x00, [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], Array(0...11)),
            (0x10, [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125], luminanceAC),
            (0x01, [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], Array(0...11)),
            (0x11, [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 119], chrominanceAC),
        ]
        var body: [UInt8] = []
        for (classAndId, counts, values) in tables {
            precondition(counts.reduce(0) { $0 + Int($1) } == values.count)
            body += [classAndId] + counts + values
        }
        let length = body.count + 2
        return [0xFF, 0xC4, UInt8(length >> 8), UInt8(length & 0xFF)] + body
    }()

    private static let luminanceAC: [UInt8] = [
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
        0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0,
        0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28,
        0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
        0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
        0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
        0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
        0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5,
        0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2,
        0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
        0xF9, 0xFA,
    ]

    private static let chrominanceAC: [UInt8] = [
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
        0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33, 0x52, 0xF0,
        0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25, 0xF1, 0x17, 0x18, 0x19, 0x1A, 0x26,
        0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
        0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
        0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
        0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5,
        0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3,
        0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA,
        0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
        0xF9, 0xFA,
    ]
}
