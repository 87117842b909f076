import Attachments
import CounterKitTestSupport
import Foundation
import Testing

@testable import Cameras

/// A photo kept in memory for the document stages (`PhotoKeeping.memory`): an MJPEG camera's frame is decoded into
/// rows that are the frame's own pixels; a frame cut short is a corrupt frame (the next one is taken), never a crash.
@Suite struct PhotoPixelsTests {
    let fixture = try! [UInt8](Data(contentsOf: repositoryRoot().appendingPathComponent("fixtures/mjpeg-frame-without-dht.jpg")))
    let mjpeg = PhotoCamera.Negotiated(pixelFormat: .mjpeg, width: 320, height: 180, bytesPerLine: 0, matrix: .bt601Limited, hueRange: 0)

    @Test func anMJPEGFrameBecomesItsOwnPixels() throws {
        let pixels = try fixture.withUnsafeBytes { try PhotoCamera.pixels(of: $0, negotiated: mjpeg) }
        #expect(pixels.image.format == .rgb8 && pixels.image.width == 320 && pixels.image.height == 180)
        #expect(pixels.rows.count == 320 * 180 * 3)
        // The same pixels libjpeg gives for the frame as a file (the camera's frame lacks Huffman tables; both add them).
        let file = try fixture.withUnsafeBytes { try JPEGFrame(UnsafeRawBufferPointer($0)).fileBytes() }
        #expect(pixels.rows == (try DecodedImage.jpeg(file)).pixels)
        for (bar, expected) in colourBars75.enumerated() {
            let offset = (90 * 320 + bar * 40 + 20) * 3
            #expect(close(pixels.rows[offset..<offset + 3], expected, tolerance: 12), "bar \(bar)")
        }
    }

    @Test func aFrameCutShortIsACorruptFrame() throws {
        let cut = Array(fixture.prefix(fixture.count / 3))
        let error = #expect(throws: CameraError.self) { try cut.withUnsafeBytes { try PhotoCamera.pixels(of: $0, negotiated: mjpeg) } }
        #expect(error?.code == .corruptFrame, "\(String(describing: error))")
        let yuyv = PhotoCamera.Negotiated(
            pixelFormat: try #require(FourCC("YUYV")), width: 320, height: 180, bytesPerLine: 640, matrix: .bt601Limited, hueRange: 0)
        let short = [UInt8](repeating: 128, count: 640 * 100)
        let shortError = #expect(throws: CameraError.self) { try short.withUnsafeBytes { try PhotoCamera.pixels(of: $0, negotiated: yuyv) } }
        #expect(shortError?.code == .corruptFrame)
    }
}
