import CounterKitTestSupport
import Foundation
import Testing

@testable import Attachments

/// Large JPEGs are compressed in strips on several threads and joined with restart markers. The result
/// must be the very bytes one libjpeg pass writes with the same restart interval, and decode to the same
/// pixels as a pass without restart markers.
@Suite(.ownThreads) struct JPEGStripTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let format: PixelFormat
        let width: Int
        let height: Int
        let quality: Int
        var testDescription: String { "\(format) \(width)x\(height) q\(quality)" }
    }

    static let cases: [Case] = [
        Case(format: .rgb8, width: 1237, height: 1903, quality: 75),  // 4:2:0, a short last strip, >8 strips
        Case(format: .rgb8, width: 800, height: 3000, quality: 95),  // 4:4:4
        Case(format: .gray8, width: 2001, height: 3000, quality: 85),
        Case(format: .rgb16, width: 640, height: 4000, quality: 80),  // converted to 8-bit into the strips
        Case(format: .blackAndWhite, width: 2550, height: 3300, quality: 85),
    ]

    @Test(arguments: cases)
    func stripsAreTheBytesOfOnePassWithRestartMarkers(_ test: Case) throws {
        let directory = try TemporaryDirectory()
        let image = ImageDescription(format: test.format, width: test.width, height: test.height, dpi: 300)
        let page = SyntheticPage(width: test.width, height: test.height, dpi: 300)
        let striped = try encode(image, page, directory.path("striped.jpg")) { output in
            try JPEGEncoder(image: image, options: JPEGOptions(quality: test.quality, threads: 3), output: output)
        }
        let geometry = try #require(JPEGStripEncoder.geometry(image: image, options: JPEGOptions(quality: test.quality)))
        let onePassWithRestarts = try encode(image, page, directory.path("restarts.jpg")) { output in
            try JPEGEncoder(
                image: image, options: JPEGOptions(quality: test.quality, threads: 1), output: output,
                restartInterval: geometry.restartInterval)
        }
        let onePass = try encode(image, page, directory.path("plain.jpg")) { output in
            try JPEGEncoder(image: image, options: JPEGOptions(quality: test.quality, threads: 1), output: output)
        }
        #expect(striped == onePassWithRestarts)
        let strips = (test.height + geometry.stripRows - 1) / geometry.stripRows
        #expect(strips >= 3)
        #expect(restartMarkers(in: striped) == strips - 1)
        #expect(restartMarkers(in: onePass) == 0)
        let decoded = try DecodedImage.jpeg(striped)
        #expect(decoded.width == test.width && decoded.height == test.height)
        #expect(decoded.pixels == (try DecodedImage.jpeg(onePass)).pixels)
        #expect(decoded.dpi == 300)
        // Not only the encoder against itself: the strips decode (by libjpeg-turbo's djpeg) to exactly what its cjpeg
        // makes of the same 8-bit samples at the same quality and chroma sampling.
        let samples = try pnm8(image, page)
        try Data(samples).write(to: URL(fileURLWithPath: directory.path("page.pnm")))
        let sampling = test.quality >= 90 ? "1x1" : "2x2"
        let command = ["cjpeg", "-quality", String(test.quality), "-sample", sampling, directory.path("page.pnm")]
        let peer = try runCommandData(command)  // blocking: a test of its own
        try Data(peer.output).write(to: URL(fileURLWithPath: directory.path("peer.jpg")))
        let ours = try runCommandData(["djpeg", "-pnm", directory.path("striped.jpg")]),
            theirs = try runCommandData(["djpeg", "-pnm", directory.path("peer.jpg")])
        #expect(peer.status == 0 && ours.status == 0 && theirs.status == 0)
        #expect(try DecodedImage.pnm(ours.output).pixels == (try DecodedImage.pnm(theirs.output)).pixels, "the strips are libjpeg's own pixels")
    }

    /// The page as an 8-bit PNM (16-bit samples by their high byte, 1-bit black as 0 and white as 255), as cjpeg reads it.
    private func pnm8(_ image: ImageDescription, _ page: SyntheticPage) throws -> [UInt8] {
        let channels = image.format.channels
        var bytes = Array("P\(channels == 3 ? 6 : 5)\n\(image.width) \(image.height)\n255\n".utf8)
        let rgb = RowBuffer(count: image.width * 3)
        let row = RowBuffer(count: image.bytesPerRow)
        for y in 0..<image.height {
            page.render(row: y, into: rgb.bytes)
            convert(rgb.bytes, to: image.format, width: image.width, y: y, into: row.bytes)
            if image.format == .blackAndWhite {
                for x in 0..<image.width { bytes.append(row.bytes[x >> 3] & (0x80 >> UInt8(x & 7)) != 0 ? 0 : 255) }
            } else if image.format.bitsPerSample == 16 {
                for index in 0..<(image.width * channels) { bytes.append(UInt8(row.bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self) >> 8)) }
            } else {
                bytes += UnsafeRawBufferPointer(row.bytes)
            }
        }
        return bytes
    }

    @Test func smallImagesAndOneThreadUseOnePass() throws {
        let directory = try TemporaryDirectory()
        let small = ImageDescription(format: .rgb8, width: 640, height: 480, dpi: 72)
        #expect(try JPEGEncoder(image: small, options: JPEGOptions(threads: 4), output: OutputFile(creating: directory.path("a.jpg"))).stripRows == nil)
        let large = ImageDescription(format: .rgb8, width: 4960, height: 7016, dpi: 600)
        #expect(try JPEGEncoder(image: large, options: JPEGOptions(threads: 1), output: OutputFile(creating: directory.path("b.jpg"))).stripRows == nil)
        let strips = try JPEGEncoder(image: large, options: JPEGOptions(threads: 2), output: OutputFile(creating: directory.path("c.jpg"))).stripRows
        #expect(strips.map { $0 % 16 == 0 && $0 > 16 } == true)
        #expect(JPEGOptions.defaultThreads >= 1 && JPEGOptions.defaultThreads <= 4)
        #expect(JPEGOptions(threads: 0).threads == 1)
    }

    @Test func rowsStillArriveOneAtATimeAndMissingRowsFail() throws {
        let directory = try TemporaryDirectory()
        let image = ImageDescription(format: .rgb8, width: 1000, height: 2000, dpi: 200)
        let encoder = try JPEGEncoder(image: image, options: JPEGOptions(threads: 2), output: OutputFile(creating: directory.path("a.jpg")))
        let row = [UInt8](repeating: 0x80, count: image.bytesPerRow)
        for _ in 0..<1500 { try row.withUnsafeBytes { try encoder.write(row: $0) } }
        #expect(encoder.rowsWritten == 1500)
        #expect(throws: AttachmentError.self) { try encoder.finish() }
        // Dropped half-way (a cancelled scan): the pool's threads end with it.
    }

    @Test func codingKeepsOnlyQualityAndSubsampling() throws {
        let options = JPEGOptions(quality: 70, subsampling: .s422, threads: 3)
        let json = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        #expect(!json.contains("threads"))
        let decoded = try JSONDecoder().decode(JPEGOptions.self, from: Data(#"{"quality":70,"subsampling":"4:2:2"}"#.utf8))
        #expect(decoded.quality == 70 && decoded.subsampling == .s422 && decoded.threads == JPEGOptions.defaultThreads)
    }

    /// Rows given as Y'CbCr (a camera's own samples) land as the colours they stand for, in one pass and in strips.
    @Test(arguments: [1, 3])
    func yCbCrRowsGoInWithoutConversion(threads: Int) throws {
        let directory = try TemporaryDirectory()
        let image = ImageDescription(format: .rgb8, width: 1280, height: 1800, dpi: 0)
        var options = JPEGOptions(quality: 90, threads: threads)
        options.rowsAreYCbCr = true
        let output = try OutputFile(creating: directory.path("ycc.jpg"))
        let encoder = try JPEGEncoder(image: image, options: options, output: output)
        // Full-range BT.601 red (255, 0, 0): Y 76, Cb 85, Cr 255.
        let row = [UInt8]((0..<image.width).flatMap { _ in [UInt8(76), 85, 255] })
        for _ in 0..<image.height { try row.withUnsafeBytes { try encoder.write(row: $0) } }
        try encoder.finish()
        try output.close()
        let decoded = try DecodedImage.jpeg([UInt8](try Data(contentsOf: URL(fileURLWithPath: directory.path("ycc.jpg")))))
        for y in [0, image.height / 2, image.height - 1] {
            let offset = (y * image.width + 640) * 3
            let pixel = decoded.pixels[offset..<offset + 3].map(Int.init)
            #expect(pixel[0] >= 248 && pixel[1] <= 6 && pixel[2] <= 6, "row \(y): \(pixel)")
        }
    }

    private func encode(
        _ image: ImageDescription, _ page: SyntheticPage, _ path: String,
        _ make: (OutputFile) throws -> JPEGEncoder
    ) throws -> [UInt8] {
        let output = try OutputFile(creating: path)
        let encoder = try make(output)
        let rgb = RowBuffer(count: image.width * 3)
        let row = RowBuffer(count: image.bytesPerRow)
        for y in 0..<image.height {
            page.render(row: y, into: rgb.bytes)
            convert(rgb.bytes, to: image.format, width: image.width, y: y, into: row.bytes)
            try encoder.write(row: UnsafeRawBufferPointer(row.bytes))
        }
        try encoder.finish()
        try output.close()
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    private func convert(
        _ rgb: UnsafeMutableRawBufferPointer, to format: PixelFormat, width: Int, y: Int,
        into row: UnsafeMutableRawBufferPointer
    ) {
        row.initializeMemory(as: UInt8.self, repeating: 0)
        for x in 0..<width {
            let gray = UInt8((Int(rgb[x * 3]) * 3 + Int(rgb[x * 3 + 1]) * 6 + Int(rgb[x * 3 + 2])) / 10)
            switch format {
            case .rgb8: for c in 0..<3 { row[x * 3 + c] = rgb[x * 3 + c] }
            case .gray8: row[x] = gray
            case .blackAndWhite: if gray < 128 { row[x >> 3] |= 0x80 >> UInt8(x & 7) }
            case .rgb16:
                for c in 0..<3 {
                    row.storeBytes(of: UInt16(rgb[x * 3 + c]) << 8 | UInt16((x + y) & 0xFF), toByteOffset: (x * 3 + c) * 2, as: UInt16.self)
                }
            default: break
            }
        }
    }

    /// RSTn markers (FF D0…D7) in the entropy-coded data; stuffed bytes are FF 00, so any FF Dn is a marker.
    private func restartMarkers(in bytes: [UInt8]) -> Int {
        zip(bytes, bytes.dropFirst()).filter { $0 == 0xFF && (0xD0...0xD7).contains($1) }.count
    }
}
