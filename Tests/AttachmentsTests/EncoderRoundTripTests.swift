import Attachments
import CounterKitTestSupport
import Foundation
import Testing

/// Rows of a small deterministic image in any pixel format.
private func testRows(_ image: ImageDescription) -> [[UInt8]] {
    let page = SyntheticPage(width: image.width, height: image.height, dpi: image.dpi).pixels()
    return (0..<image.height).map { y in
        var row = [UInt8](repeating: 0, count: image.bytesPerRow)
        for x in 0..<image.width {
            let rgb = Array(page[(y * image.width + x) * 3..<(y * image.width + x) * 3 + 3])
            let gray = UInt8((Int(rgb[0]) * 3 + Int(rgb[1]) * 6 + Int(rgb[2])) / 10)
            switch image.format {
            case .blackAndWhite: if gray < 128 { row[x >> 3] |= 0x80 >> UInt8(x & 7) }
            case .gray8: row[x] = gray
            case .grayAlpha8: (row[x * 2], row[x * 2 + 1]) = (gray, UInt8((x * 37 + y * 11) & 0xFF))
            case .rgb8: row[x * 3..<x * 3 + 3] = rgb[...]
            case .gray16:
                let value = UInt16(gray) << 8 | UInt16(x & 0xFF)
                withUnsafeBytes(of: value) { row[x * 2..<x * 2 + 2] = ArraySlice($0) }
            case .rgb16:
                for c in 0..<3 {
                    let value = UInt16(rgb[c]) << 8 | UInt16((x + c) & 0xFF)
                    withUnsafeBytes(of: value) { row[(x * 3 + c) * 2..<(x * 3 + c) * 2 + 2] = ArraySlice($0) }
                }
            }
        }
        return row
    }
}

private func encode(_ format: ImageFileFormat, _ image: ImageDescription, _ rows: [[UInt8]], to path: String) throws {
    let output = try OutputFile(creating: path)
    let encoder = try format.makeEncoder(image: image, output: output)
    for row in rows { try row.withUnsafeBytes { try encoder.write(row: $0) } }
    try encoder.finish()
    try output.close()
}

/// The rows as PNG stores them: 16-bit big-endian, lineart with 0 = black.
private func pngExpected(_ format: PixelFormat, _ rows: [[UInt8]]) -> [UInt8] {
    rows.flatMap { row -> [UInt8] in
        switch format {
        case .blackAndWhite: return row.map { ~$0 }
        case .gray16, .rgb16: return stride(from: 0, to: row.count, by: 2).flatMap { [row[$0 + 1], row[$0]] }
        default: return row
        }
    }
}

@Suite struct EncoderRoundTripTests {
    @Test(arguments: PixelFormat.allCases)
    func pngIsPixelExactWithDPI(format: PixelFormat) throws {
        let directory = try TemporaryDirectory()
        let image = ImageDescription(format: format, width: 203, height: 61, dpi: 300)
        let rows = testRows(image)
        try encode(.png(.default), image, rows, to: directory.path("a.png"))
        let decoded = try DecodedImage.png(atPath: directory.path("a.png"))
        #expect(decoded.width == 203 && decoded.height == 61)
        #expect(decoded.channels == format.channels && decoded.bitDepth == format.bitsPerSample)
        #expect(abs(decoded.dpi - 300) < 0.05)
        // Padding bits at the end of 1-bit rows are not image data.
        if format == .blackAndWhite {
            let expected = pngExpected(format, rows)
            let rowBytes = image.bytesPerRow
            for y in 0..<image.height {
                for x in 0..<image.width {
                    let bit = { (bytes: [UInt8]) in (bytes[y * rowBytes + x >> 3] >> (7 - UInt8(x & 7))) & 1 }
                    #expect(bit(decoded.pixels) == bit(expected))
                }
            }
        } else {
            #expect(decoded.pixels == pngExpected(format, rows))
        }
    }

    @Test func pngLibpngDefaultsDecodeToTheSamePixels() throws {
        let directory = try TemporaryDirectory()
        let image = ImageDescription(format: .rgb8, width: 300, height: 120, dpi: 200)
        let rows = testRows(image)
        try encode(.png(.libpngDefault), image, rows, to: directory.path("b.png"))
        #expect(try DecodedImage.png(atPath: directory.path("b.png")).pixels == rows.flatMap { $0 })
    }

    /// The default (automatic) subsampling and explicit 4:4:4 at quality 95.
    @Test(arguments: [nil, ChromaSubsampling.s444])
    func jpegAtQuality95HasPSNRAtLeast40dB(subsampling: ChromaSubsampling?) throws {
        let directory = try TemporaryDirectory()
        let page = SyntheticPage(width: 640, height: 480, dpi: 300)
        let pixels = page.pixels()
        let rows = (0..<480).map { Array(pixels[$0 * 1920..<($0 + 1) * 1920]) }
        try encode(.jpeg(JPEGOptions(quality: 95, subsampling: subsampling)), page.image, rows, to: directory.path("a.jpg"))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory.path("a.jpg"))))
        let decoded = try DecodedImage.jpeg(bytes)
        #expect(decoded.width == 640 && decoded.height == 480 && decoded.channels == 3)
        let psnr = decoded.psnr(against: pixels)
        #expect(psnr >= 40, "PSNR \(psnr) dB")
        #expect(decoded.dpi == 300)
        #expect(JPEGHeader(bytes) == JPEGHeader(width: 640, height: 480, components: 3, precision: 8, hasHuffmanTables: true))
    }

    @Test(arguments: [PixelFormat.blackAndWhite, .gray8, .gray16, .rgb16])
    func jpegConvertsOtherFormatsToEightBit(format: PixelFormat) throws {
        let directory = try TemporaryDirectory()
        let image = ImageDescription(format: format, width: 64, height: 32, dpi: 150)
        try encode(.jpeg(JPEGOptions(quality: 90)), image, testRows(image), to: directory.path("c.jpg"))
        let decoded = try DecodedImage.jpeg([UInt8](try Data(contentsOf: URL(fileURLWithPath: directory.path("c.jpg")))))
        #expect(decoded.channels == format.channels && decoded.width == 64 && decoded.dpi == 150)
        // The pixels: what the rows hold as 8-bit samples (16-bit by the high byte, 1-bit black as 0), not just a size.
        let expected = testRows(image).flatMap { row -> [UInt8] in
            switch format {
            case .blackAndWhite: return (0..<image.width).map { row[$0 >> 3] & (0x80 >> UInt8($0 & 7)) != 0 ? 0 : 255 }
            case .gray16, .rgb16:
                return stride(from: 0, to: row.count, by: 2).map { index in
                    row.withUnsafeBytes { UInt8($0.loadUnaligned(fromByteOffset: index, as: UInt16.self) >> 8) }
                }
            default: return row
            }
        }
        #expect(decoded.pixels.count == expected.count)
        if decoded.pixels.count == expected.count {
            let psnr = decoded.psnr(against: expected)
            #expect(psnr >= 30, "\(format) at quality 90: \(psnr) dB")
        }
    }

    @Test(arguments: PixelFormat.allCases.filter { !$0.hasAlpha })
    func pnmWritesNetpbmLayout(format: PixelFormat) throws {
        let directory = try TemporaryDirectory()
        let image = ImageDescription(format: format, width: 37, height: 5)
        let rows = testRows(image)
        try encode(.pnm, image, rows, to: directory.path("a.pnm"))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory.path("a.pnm"))))
        let decoded = try DecodedImage.pnm(bytes)
        #expect(decoded.width == 37 && decoded.height == 5 && decoded.bitDepth == format.bitsPerSample)
        let expected = format.bitsPerSample == 16 ? pngExpected(format, rows) : rows.flatMap { $0 }
        #expect(decoded.pixels == expected)
    }

    @Test func encodersRejectWrongRowsWithStableCodes() throws {
        let directory = try TemporaryDirectory()
        let image = ImageDescription(format: .rgb8, width: 10, height: 2)
        let output = try OutputFile(creating: directory.path("x.png"))
        let encoder = try PNGEncoder(image: image, output: output)
        let short = [UInt8](repeating: 0, count: 29)
        #expect(throws: AttachmentError.self) { try short.withUnsafeBytes { try encoder.write(row: $0) } }
        let row = [UInt8](repeating: 0, count: 30)
        try row.withUnsafeBytes { try encoder.write(row: $0) }
        do { try encoder.finish(); Issue.record("finish accepted a missing row") } catch {
            #expect(error.code == .invalidImage)
        }
        #expect(throws: AttachmentError(.invalidImage, "image size 0x5 is out of range")) {
            try JPEGEncoder(image: ImageDescription(format: .rgb8, width: 0, height: 5), output: output)
        }
    }

    @Test func transparencyIsPNGAndPAMOnly() throws {
        let directory = try TemporaryDirectory()
        let image = ImageDescription(format: .grayAlpha8, width: 8, height: 2)
        let error = #expect(throws: AttachmentError.self) {
            _ = try JPEGEncoder(image: image, output: try OutputFile(creating: directory.path("a.jpg")))
        }
        #expect(error?.code == .invalidImage)
        let pdf = try PDFWriter(output: try OutputFile(creating: directory.path("a.pdf")))
        #expect(throws: AttachmentError.self) { _ = try pdf.beginPage(image: image, compression: .flate(level: 6)) }
        #expect(PNMWriter.header(for: image).hasPrefix("P7\nWIDTH 8\nHEIGHT 2\nDEPTH 2\nMAXVAL 255\nTUPLTYPE GRAYSCALE_ALPHA"))
    }
}
