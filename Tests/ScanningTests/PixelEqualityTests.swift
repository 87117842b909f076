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
        Quirk(
            name: "colour 8-bit", mode: .color, options: ["test-picture": "Color pattern"],
            scanimage: ["--mode", "Color", "--test-picture", "Color pattern"]),
        Quirk(
            name: "gray 8-bit", mode: .gray, options: ["test-picture": "Color pattern"],
            scanimage: ["--mode", "Gray", "--test-picture", "Color pattern"]),
        Quirk(
            name: "lineart 1-bit", mode: .lineart, options: ["test-picture": "Grid"],
            scanimage: ["--mode", "Gray", "--depth", "1", "--test-picture", "Grid"]),
        Quirk(
            name: "colour 16-bit", mode: .color, options: ["depth": "16", "test-picture": "Color pattern"],
            scanimage: ["--mode", "Color", "--depth", "16", "--test-picture", "Color pattern"]),
        Quirk(
            name: "gray 16-bit", mode: .gray, options: ["depth": "16", "test-picture": "Grid"],
            scanimage: ["--mode", "Gray", "--depth", "16", "--test-picture", "Grid"]),
        Quirk(
            name: "three-pass colour", mode: .color, options: ["three-pass": "yes", "test-picture": "Color pattern"],
            scanimage: ["--mode", "Color", "--three-pass=yes", "--test-picture", "Color pattern"]),
        Quirk(
            name: "three-pass BGR 16-bit", mode: .color,
            options: ["three-pass": "yes", "three-pass-order": "BGR", "depth": "16", "test-picture": "Color pattern"],
            // scanimage asserts on 16-bit three-pass; its 16-bit single-pass scan of the same picture is the reference.
            scanimage: ["--mode", "Color", "--depth", "16", "--test-picture", "Color pattern"]),
        Quirk(
            name: "hand scanner (unknown height)", mode: .color, options: ["hand-scanner": "yes", "test-picture": "Color pattern"],
            scanimage: ["--mode", "Color", "--hand-scanner=yes", "--test-picture", "Color pattern"], fixedArea: true),
        Quirk(
            name: "padded lines (ppl-loss)", mode: .color, options: ["ppl-loss": "7", "test-picture": "Color pattern"],
            scanimage: ["--mode", "Color", "--ppl-loss", "7", "--test-picture", "Color pattern"]),
        Quirk(
            name: "short reads (read-limit 7 bytes)", mode: .gray,
            options: ["read-limit": "yes", "read-limit-size": "7", "test-picture": "Grid"],
            scanimage: ["--mode", "Gray", "--read-limit=yes", "--read-limit-size", "7", "--test-picture", "Grid"]),
        Quirk(
            name: "non-blocking with select fd", mode: .color,
            options: ["non-blocking": "yes", "select-fd": "yes", "test-picture": "Color pattern"],
            scanimage: ["--mode", "Color", "--non-blocking=yes", "--select-fd=yes", "--test-picture", "Color pattern"]),
        Quirk(
            name: "non-blocking without select fd (read blocking)", mode: .color,
            options: ["non-blocking": "yes", "test-picture": "Color pattern"],
            scanimage: ["--mode", "Color", "--non-blocking=yes", "--test-picture", "Color pattern"]),
        Quirk(
            name: "fuzzy parameters", mode: .color, options: ["fuzzy-parameters": "yes", "test-picture": "Color pattern"],
            scanimage: ["--mode", "Color", "--fuzzy-parameters=yes", "--test-picture", "Color pattern"]),
        Quirk(
            name: "hand scanner, three-pass, padded", mode: .color,
            options: ["hand-scanner": "yes", "three-pass": "yes", "ppl-loss": "3", "test-picture": "Grid"],
            scanimage: ["--mode", "Color", "--hand-scanner=yes", "--three-pass=yes", "--ppl-loss", "3", "--test-picture", "Grid"],
            fixedArea: true),
    ]

    @Test(arguments: quirks)
    func pixelsEqualScanimage(quirk: Quirk) throws {
        let request = ScanRequest(
            device: "test:0", mode: quirk.mode, resolution: 50,
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
            let ours = try SANETestBackend.ours(
                ScanRequest(
                    device: "test:0", mode: .color, resolution: 100,
                    area: ScanArea(x: 0, y: 0, width: 40, height: 30),
                    options: options, format: .pnm))
            #expect(ours.pixels == reference.pixels)
        }
    }

    /// scanimage cannot write 1-bit colour; each bit must become a full or empty 8-bit sample.
    @Test func oneBitColourIsWidenedToEightBit() throws {
        let ours = try SANETestBackend.ours(
            ScanRequest(
                device: "test:0", mode: .color, resolution: 50,
                area: ScanArea(x: 0, y: 0, width: 40, height: 30),
                options: ["depth": "1", "test-picture": "Color pattern"], format: .pnm))
        #expect(ours.channels == 3 && ours.bitDepth == 8)
        #expect(Set(ours.pixels) == [0, 255])
        let eightBit = try SANETestBackend.scanimage(["--mode", "Color", "--test-picture", "Color pattern", "--resolution", "50"] + area)
        #expect(ours.width == eightBit.width && ours.height == eightBit.height)
    }

    /// scanimage's samples as 8-bit ones: 16-bit samples by their high byte (big-endian in PNM), 1-bit black-and-white
    /// (1 = black, rows padded to whole bytes) as 0 and 255.
    static func eightBit(_ image: DecodedImage) -> [UInt8] {
        switch image.bitDepth {
        case 16:
            return stride(from: 0, to: image.pixels.count, by: 2).map { image.pixels[$0] }
        case 1:
            let rowBytes = (image.width + 7) / 8
            return (0..<image.height).flatMap { y in
                (0..<image.width).map { x in image.pixels[y * rowBytes + x / 8] & (0x80 >> UInt8(x % 8)) != 0 ? 0 : 255 }
            }
        default:
            return image.pixels
        }
    }

    /// Our JPEG of every frame type the PNM tests cover, decoded by libjpeg-turbo's `djpeg` (not our decoder), against
    /// scanimage's PNM of the same scan (as 8-bit samples). It must decode to exactly what libjpeg-turbo's own `cjpeg`
    /// makes of scanimage's pixels at the same quality and chroma sampling (4:4:4 from quality 90, else 4:2:0), so any
    /// pixel of ours that differs from scanimage's beyond what JPEG itself loses fails. Its PSNR against scanimage must
    /// reach 40 dB at quality 95 and 30 dB at the default (85), or, where libjpeg-turbo itself cannot on the test
    /// backend's synthetic picture (its saturated one-pixel colour bars: cjpeg gives 38.8 dB at 95 and 18.1 dB at 85),
    /// that of `cjpeg`, which the exact match then equals.
    @Test(arguments: quirks)
    func jpegPixelsAreScanimagesThroughLibjpeg(quirk: Quirk) throws {
        let reference = try SANETestBackend.scanimage(quirk.scanimage + ["--resolution", "50"] + (quirk.fixedArea ? [] : area))
        let expected = Self.eightBit(reference)
        let work = try TemporaryDirectory("ck-jpeg-pixels")
        let header = "P\(reference.channels == 3 ? 6 : 5)\n\(reference.width) \(reference.height)\n255\n"
        try Data(Array(header.utf8) + expected).write(to: URL(fileURLWithPath: work.path("reference.pnm")))
        for (quality, floor) in [(95, 40.0), (85, 30.0)] {
            let (scanner, directory) = try SANETestBackend.scanner()
            defer { withExtendedLifetime(directory) {} }
            let request = ScanRequest(
                device: "test:0", mode: quirk.mode, resolution: 50,
                area: quirk.fixedArea ? nil : ScanArea(x: 0, y: 0, width: 40, height: 30),
                options: quirk.options, format: .jpeg, quality: quality == 85 ? nil : quality)
            let result = try scanner.scan(request)
            #expect(result.attachments[0].settings["quality"] == String(quality))
            let path = try scanner.store.fileURL(id: result.attachments[0].id).path
            // blocking: this suite runs on .ownThreads
            let ours = try runCommandData(["djpeg", "-pnm", path])
            let peerJPEG = try runCommandData(["cjpeg", "-quality", String(quality), "-sample", quality >= 90 ? "1x1" : "2x2", work.path("reference.pnm")])
            try Data(peerJPEG.output).write(to: URL(fileURLWithPath: work.path("peer.jpg")))
            let peer = try runCommandData(["djpeg", "-pnm", work.path("peer.jpg")])
            #expect(ours.status == 0 && peerJPEG.status == 0 && peer.status == 0)
            let image = try DecodedImage.pnm(ours.output), peerImage = try DecodedImage.pnm(peer.output)
            #expect(
                image.width == reference.width && image.height == reference.height && image.channels == reference.channels,
                "\(quirk.name): \(image.width)x\(image.height)x\(image.channels) vs \(reference.width)x\(reference.height)x\(reference.channels)")
            #expect(image.pixels == peerImage.pixels, "\(quirk.name) at quality \(quality): what cjpeg makes of scanimage's pixels")
            guard image.pixels.count == expected.count, peerImage.pixels.count == expected.count else { continue }
            let psnr = image.psnr(against: expected), libjpeg = peerImage.psnr(against: expected)
            #expect(psnr >= min(floor, libjpeg), "\(quirk.name) at quality \(quality): \(psnr) dB (cjpeg \(libjpeg) dB), at least \(floor)")
        }
    }

    /// A PNG and a JPEG of the same scan decode to scanimage's pixels (exactly, and as close as libjpeg gets).
    @Test func pngIsExactAndJPEGIsClose() throws {
        let reference = try SANETestBackend.scanimage(["--mode", "Color", "--test-picture", "Color pattern", "--resolution", "75"] + area)
        let (scanner, directory) = try SANETestBackend.scanner()
        var request = ScanRequest(
            device: "test:0", mode: .color, resolution: 75, area: ScanArea(x: 0, y: 0, width: 40, height: 30),
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
        #expect(jpegPixels.width == reference.width && jpegPixels.height == reference.height)
        if jpegPixels.pixels.count == reference.pixels.count {
            // The colour pattern's saturated one-pixel bars: libjpeg-turbo's cjpeg reaches 38.8 dB at quality 95, 4:4:4.
            #expect(jpegPixels.psnr(against: reference.pixels) >= 38.5, "at quality 95")
        }
        #expect(jpeg.attachments[0].settings["quality"] == "95")
        _ = directory
    }
}
