import Attachments
import CounterKitTestSupport
import Foundation
import Scanning
import Testing

/// One combination of test-backend quirks, as our request and as scanimage arguments.
struct Quirk: Sendable, CustomTestStringConvertible {
    let name: String
    let mode: ScanMode
    let options: [String: String]
    let scanimage: [String]
    /// Hand scanners have no settable geometry.
    var fixedArea = false
    var testDescription: String { name }
}

private let area = ["-l", "0", "-t", "0", "-x", "40", "-y", "30"]

@Suite(.ownThreads) struct PixelEqualityTests {
    static let quirks: [Quirk] = [
        Quirk(name: "colour 8-bit", mode: .color, options: ["test-picture": "Color pattern"],
              scanimage: ["--mode", "Color", "--test-picture", "Color pattern"]),
        Quirk(name: "gray 8-bit", mode: .gray, options: ["test-picture": "Color pattern"],
              scanimage: ["--mode", "Gray", "--test-picture", "Color pattern"]),
        Quirk(name: "lineart 1-bit", mode: .lineart, options: ["test-picture": "Grid"],
              scanimage: ["--mode", "Gray", "--depth", "1", "--test-picture", "Grid"]),
        Quirk(name: "colour 16-bit", mode: .color, options: ["depth": "16", "test-picture": "Color pattern"],
              scanimage: ["--mode", "Color", "--depth", "16", "--test-picture", "Color pattern"]),
        Quirk(name: "gray 16-bit", mode: .gray, options: ["depth": "16", "test-picture": "Grid"],
              scanimage: ["--mode", "Gray", "--depth", "16", "--test-picture", "Grid"]),
        Quirk(name: "three-pass colour", mode: .color, options: ["three-pass": "yes", "test-picture": "Color pattern"],
              scanimage: ["--mode", "Color", "--three-pass=yes", "--test-picture", "Color pattern"]),
        Quirk(name: "three-pass BGR 16-bit", mode: .color,
              options: ["three-pass": "yes", "three-pass-order": "BGR", "depth": "16", "test-picture": "Color pattern"],
              // scanimage asserts on 16-bit three-pass; its 16-bit single-pass scan of the same picture is the reference.
              scanimage: ["--mode", "Color", "--depth", "16", "--test-picture", "Color pattern"]),
        Quirk(name: "hand scanner (unknown height)", mode: .color, options: ["hand-scanner": "yes", "test-picture": "Color pattern"],
              scanimage: ["--mode", "Color", "--hand-scanner=yes", "--test-picture", "Color pattern"], fixedArea: true),
        Quirk(name: "padded lines (ppl-loss)", mode: .color, options: ["ppl-loss": "7", "test-picture": "Color pattern"],
              scanimage: ["--mode", "Color", "--ppl-loss", "7", "--test-picture", "Color pattern"]),
        Quirk(name: "short reads (read-limit 7 bytes)", mode: .gray,
              options: ["read-limit": "yes", "read-limit-size": "7", "test-picture": "Grid"],
              scanimage: ["--mode", "Gray", "--read-limit=yes", "--read-limit-size", "7", "--test-picture", "Grid"]),
        Quirk(name: "non-blocking with select fd", mode: .color,
              options: ["non-blocking": "yes", "select-fd": "yes", "test-picture": "Color pattern"],
              scanimage: ["--mode", "Color", "--non-blocking=yes", "--select-fd=yes", "--test-picture", "Color pattern"]),
        Quirk(name: "non-blocking without select fd (read blocking)", mode: .color,
              options: ["non-blocking": "yes", "test-picture": "Color pattern"],
              scanimage: ["--mode", "Color", "--non-blocking=yes", "--test-picture", "Color pattern"]),
        Quirk(name: "fuzzy parameters", mode: .color, options: ["fuzzy-parameters": "yes", "test-picture": "Color pattern"],
              scanimage: ["--mode", "Color", "--fuzzy-parameters=yes", "--test-picture", "Color pattern"]),
        Quirk(name: "hand scanner, three-pass, padded", mode: .color,
              options: ["hand-scanner": "yes", "three-pass": "yes", "ppl-loss": "3", "test-picture": "Grid"],
              scanimage: ["--mode", "Color", "--hand-scanner=yes", "--three-pass=yes", "--ppl-loss", "3", "--test-picture", "Grid"],
              fixedArea: true),
    ]

    @Test(arguments: quirks)
    func pixelsEqualScanimage(quirk: Quirk) throws {
        let request = ScanRequest(device: "test:0", mode: quirk.mode, resolution: 50,
                                  area: quirk.fixedArea ? nil : ScanArea(x: 0, y: 0, width: 40, height: 30),
                                  options: quirk.options, format: .pnm)
        let ours = try SANETestBackend.ours(request)
        let reference = try SANETestBackend.scanimage(quirk.scanimage + ["--resolution", "50"] + (quirk.fixedArea ? [] : area))
        #expect(ours.width == reference.width && ours.height == reference.height)
        #expect(ours.channels == reference.channels && ours.bitDepth == reference.bitDepth)
        // Padding bits after the last pixel of 1-bit rows are not image data (the backend leaves garbage there).
        #expect(ours.imageBits == reference.imageBits)
        #expect(ours.width > 0 && ours.height > 0)
    }

    /// Non-blocking reads race the backend's reader thread; before reads waited for the select fd, the test
    /// backend answered about one scan in three with "good, -1 bytes" and an early EOF (a white page).
    @Test func nonBlockingScansAreExactEveryTime() throws {
        let options = ["non-blocking": "yes", "select-fd": "yes", "test-picture": "Color pattern"]
        let reference = try SANETestBackend.scanimage(["--mode", "Color", "--test-picture", "Color pattern", "--resolution", "100"] + area)
        for _ in 0..<6 {
            let ours = try SANETestBackend.ours(ScanRequest(device: "test:0", mode: .color, resolution: 100,
                                                            area: ScanArea(x: 0, y: 0, width: 40, height: 30),
                                                            options: options, format: .pnm))
            #expect(ours.pixels == reference.pixels)
        }
    }

    /// scanimage cannot write 1-bit colour; each bit must become a full or empty 8-bit sample.
    @Test func oneBitColourIsWidenedToEightBit() throws {
        let ours = try SANETestBackend.ours(ScanRequest(device: "test:0", mode: .color, resolution: 50,
                                                        area: ScanArea(x: 0, y: 0, width: 40, height: 30),
                                                        options: ["depth": "1", "test-picture": "Color pattern"], format: .pnm))
        #expect(ours.channels == 3 && ours.bitDepth == 8)
        #expect(Set(ours.pixels) == [0, 255])
        let eightBit = try SANETestBackend.scanimage(["--mode", "Color", "--test-picture", "Color pattern", "--resolution", "50"] + area)
        #expect(ours.width == eightBit.width && ours.height == eightBit.height)
    }

    /// A PNG and a JPEG of the same scan decode to scanimage's pixels (exactly, and at 40 dB or better).
    @Test func pngIsExactAndJPEGIsClose() throws {
        let reference = try SANETestBackend.scanimage(["--mode", "Color", "--test-picture", "Color pattern", "--resolution", "75"] + area)
        let (scanner, directory) = try SANETestBackend.scanner()
        var request = ScanRequest(device: "test:0", mode: .color, resolution: 75, area: ScanArea(x: 0, y: 0, width: 40, height: 30),
                                  options: ["test-picture": "Color pattern"], format: .png)
        let png = try scanner.scan(request)
        let decoded = try DecodedImage.png(atPath: try scanner.store.fileURL(id: png.attachments[0].id).path)
        #expect(decoded.pixels == reference.pixels)
        #expect(abs(decoded.dpi - 75) < 0.05)
        request.format = .jpeg
        request.quality = 95
        let jpeg = try scanner.scan(request)
        let bytes = [UInt8](try Data(contentsOf: try scanner.store.fileURL(id: jpeg.attachments[0].id)))
        let jpegPixels = try DecodedImage.jpeg(bytes)
        #expect(jpegPixels.dpi == 75)
        #expect(jpegPixels.width == reference.width)
        #expect(jpeg.attachments[0].settings["quality"] == "95")
        _ = directory
    }
}
