import Attachments
import CounterKitTestSupport
import Foundation
import Testing

/// `JPEGMemoryEncoder` compressing an image held as several bands of rows (as a scan's live view keeps them).
@Suite struct JPEGMemoryEncoderTests {
    /// Rows of a gradient, `width` RGB pixels each, rows `from ..< to`.
    static func rows(_ from: Int, _ to: Int, width: Int) -> Data {
        var pixels = Data()
        for y in from..<to {
            for x in 0..<width { pixels.append(contentsOf: [UInt8(x * 4 % 256), UInt8(y * 3 % 256), 128]) }
        }
        return pixels
    }

    @Test func bandsCompressAsTheImageTheyMakeTogether() throws {
        let width = 40
        let whole = Self.rows(0, 30, width: width)
        let bands = [Self.rows(0, 7, width: width), Self.rows(7, 8, width: width), Data(), Self.rows(8, 30, width: width)]
        let encoder = try JPEGMemoryEncoder(quality: 90, subsampling: .s444)
        let fromBands = try encoder.encode(bands: bands, format: .rgb8, width: width)
        let fromWhole = try whole.withUnsafeBytes { try encoder.encode($0, format: .rgb8, width: width, height: 30) }
        // The same rows make the same file, byte for byte, and it decodes to the rows.
        #expect(fromBands == fromWhole)
        let decoded = try DecodedImage.jpeg(Array(fromBands))
        #expect(decoded.width == width && decoded.height == 30 && decoded.channels == 3)
        #expect(decoded.psnr(against: Array(whole)) >= 35)
        // A band that ends mid-row is refused, before anything is compressed; the encoder stays usable.
        #expect(throws: AttachmentError.self) { try encoder.encode(bands: [Self.rows(0, 2, width: width).dropLast()], format: .rgb8, width: width) }
        #expect(try encoder.encode(bands: bands, format: .rgb8, width: width) == fromWhole)
    }
}
