import Attachments
import CounterKitTestSupport
import Foundation
import Testing

@Suite struct JPEGFrameTests {
    let fixture = try! [UInt8](Data(contentsOf: repositoryRoot().appendingPathComponent("fixtures/mjpeg-frame-without-dht.jpg")))

    @Test func standardTablesAreInsertedBeforeTheScan() throws {
        let output = try fixture.withUnsafeBytes { bytes in
            let frame = try JPEGFrame(UnsafeRawBufferPointer(bytes))
            #expect(frame.header.width == 320 && frame.header.height == 180)
            #expect(!frame.header.hasHuffmanTables)
            #expect(frame.huffmanInsertionOffset != nil)
            return frame.fileBytes()
        }
        #expect(output.count == fixture.count + JPEGFrame.standardHuffmanTables.count)
        #expect(JPEGHeader(output)?.hasHuffmanTables == true)
        // The DHT segment is 4 tables: 2 + 2 + (17 + 12) * 2 + (17 + 162) * 2 bytes.
        #expect(JPEGFrame.standardHuffmanTables.count == 4 + (17 + 12) * 2 + (17 + 162) * 2)
        let image = try DecodedImage.jpeg(output)
        #expect(image.width == 320 && image.height == 180 && image.channels == 3)
        for (bar, expected) in colourBars75.enumerated() {
            let x = bar * 40 + 20, y = 90
            let offset = (y * 320 + x) * 3
            #expect(close(image.pixels[offset..<offset + 3], expected, tolerance: 12), "bar \(bar): \(image.pixels[offset..<offset + 3])")
        }
    }

    @Test func framesWithTablesAndPaddingAreKeptAsTheyAre() throws {
        let withTables = try fixture.withUnsafeBytes { try JPEGFrame(UnsafeRawBufferPointer($0)).fileBytes() }
        let padded = withTables + [UInt8](repeating: 0, count: 100)
        let kept = try padded.withUnsafeBytes { bytes in
            let frame = try JPEGFrame(UnsafeRawBufferPointer(bytes))
            #expect(frame.huffmanInsertionOffset == nil)
            #expect(frame.length == withTables.count)
            return frame.fileBytes()
        }
        #expect(kept == withTables)
    }

    @Test func brokenFramesAreRefused() {
        let cases: [[UInt8]] = [
            [],
            [0x89, 0x50, 0x4E, 0x47],
            Array(fixture.prefix(fixture.count - 2)),  // no EOI: truncated transfer
            Array(fixture.prefix(40)),  // cut inside the headers
            [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9],  // a scan with no frame header
            // FF D9 inside the scan header and nothing after it (found by fuzzing: it passed as a whole frame)
            [
                0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00,
                0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0xFF, 0xD9, 0x00,
            ],
        ]
        for bytes in cases {
            #expect(throws: AttachmentError.self) {
                try bytes.withUnsafeBytes { _ = try JPEGFrame(UnsafeRawBufferPointer($0)) }
            }
        }
    }

    @Test func aFrameWithoutTablesDecodesIntoAPNG() throws {
        let directory = try TemporaryDirectory("jpeg-to-png")
        let path = directory.path("frame.png")
        let output = try OutputFile(creating: path)
        try fixture.withUnsafeBytes { bytes in
            let frame = try JPEGFrame(UnsafeRawBufferPointer(bytes))
            let encoder = try ImageFileFormat.png(.default).makeEncoder(
                image: ImageDescription(format: .rgb8, width: frame.header.width, height: frame.header.height), output: output)
            try frame.decode(into: encoder)
            try encoder.finish()
        }
        try output.close()
        let png = try DecodedImage.png(atPath: path)
        let reference = try DecodedImage.jpeg(fixture.withUnsafeBytes { try JPEGFrame(UnsafeRawBufferPointer($0)).fileBytes() })
        #expect(png.width == 320 && png.height == 180 && png.channels == 3)
        #expect(png.pixels == reference.pixels, "the PNG holds exactly the pixels TurboJPEG decodes")
    }

    @Test func decodingRefusesAMismatchedEncoderAndAFrameThatDoesNotDecode() throws {
        let directory = try TemporaryDirectory("jpeg-to-png-bad")
        let output = try OutputFile(creating: directory.path("frame.png"))
        let wrongSize = try ImageFileFormat.png(.default).makeEncoder(
            image: ImageDescription(format: .rgb8, width: 100, height: 100), output: output)
        #expect(throws: AttachmentError.self) {
            try fixture.withUnsafeBytes { try JPEGFrame(UnsafeRawBufferPointer($0)).decode(into: wrongSize) }
        }
        // Headers intact, entropy-coded data replaced by a marker that cannot appear there.
        var broken = fixture
        let scan = try #require(broken.indices.last { broken[$0] == 0xFF && broken[$0 + 1] == 0xDA })
        for index in (scan + 20)..<(broken.count - 2) { broken[index] = 0xFF }
        let encoder = try ImageFileFormat.png(.default).makeEncoder(
            image: ImageDescription(format: .rgb8, width: 320, height: 180), output: try OutputFile(creating: directory.path("broken.png")))
        let error = #expect(throws: AttachmentError.self) {
            try broken.withUnsafeBytes { try JPEGFrame(UnsafeRawBufferPointer($0)).decode(into: encoder) }
        }
        #expect(error?.code == .invalidImage)
    }
}
