import Attachments
import CounterKitTestSupport
import Foundation
import Testing

@testable import DocumentImaging

@Suite("Document imaging: finding, flattening, deskewing and judging pages (OpenCV)", .ownThreads)
struct DocumentImagingTests {
    /// Scenes tuned on, and scenes held out (never looked at while tuning).
    static let tuning: [UInt64] = Array(1...12)
    static let heldOut: [UInt64] = Array(1001...1012)

    @Test("pages on desks are found: Jaccard index against the true quadrilateral", arguments: ["tuning", "held-out"])
    func pagesAreFound(_ set: String) throws {
        var scores: [Double] = []
        var report: [String] = []
        for seed in set == "tuning" ? Self.tuning : Self.heldOut {
            let scene = try SyntheticScenes.scene(seed: seed)
            let found = try PageFinder.find(in: scene.image)
            let score = PageCorners.jaccard(found.corners, scene.truth)
            scores.append(score)
            report.append(
                "seed \(seed) \(scene.shape.rawValue) on \(scene.background): \(String(format: "%.4f", score)) (confidence \(String(format: "%.2f", found.confidence)))"
            )
            #expect(score > 0.9, "seed \(seed): \(scene.shape.rawValue) on \(scene.background), Jaccard \(score)")
        }
        let mean = scores.reduce(0, +) / Double(scores.count)
        print("\(set): mean Jaccard \(String(format: "%.4f", mean))\n" + report.joined(separator: "\n"))
        #expect(mean > 0.97, "\(set) mean Jaccard \(mean)")
    }

    @Test("the corners come in reading order whatever the rotation")
    func cornersAreOrdered() throws {
        var random = SeededRandom(seed: 7)
        let page = SyntheticScenes.page(.a4, width: 400, random: &random)
        let (desk, _) = SyntheticScenes.background(1, width: 1000, height: 1000, random: &random)
        for degrees in [-40.0, -10, 0, 15, 40] {
            let angle = degrees * .pi / 180, (w, h) = (400.0, 566.0)
            let truth = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)].map {
                ImagePoint(x: 500 + $0.0 * cos(angle) - $0.1 * sin(angle), y: 500 + $0.0 * sin(angle) + $0.1 * cos(angle))
            }
            let found = try PageFinder.find(in: try PagePlacement.place(page, at: truth, on: desk))
            for (corner, expected) in zip(found.corners, truth) {
                #expect(hypot(corner.x - expected.x, corner.y - expected.y) < 4, "\(degrees)°: \(found.corners) vs \(truth)")
            }
        }
    }

    @Test("a desk with no page is no_document")
    func noPageIsNoDocument() throws {
        var random = SeededRandom(seed: 3)
        for kind in [0, 1, 3] {
            let (desk, name) = SyntheticScenes.background(kind, width: 800, height: 600, random: &random)
            #expect(throws: DocumentImagingError.self, "\(name)") { try PageFinder.find(in: desk) }
            do { _ = try PageFinder.find(in: desk) } catch { #expect(error.code == .noDocument) }
        }
    }

    @Test("flattening gives the page upright at its true aspect, and it looks like the page")
    func flatteningRestoresThePage() throws {
        var random = SeededRandom(seed: 11)
        let page = SyntheticScenes.page(.a4, width: 500, random: &random)
        let (desk, _) = SyntheticScenes.background(1, width: 1200, height: 1000, random: &random)
        // A real perspective: the A4 page tilted 20° and turned 12° before a camera, rolled 8° in its plane.
        let truth = SyntheticScenes.project(
            width: 480, height: 480 * 2.squareRoot(), roll: 8, tilt: 20, turn: 12, focal: 1300,
            centre: ImagePoint(x: 600, y: 500), frame: (1200, 1000))
        let scene = try PagePlacement.place(page, at: truth, on: desk)
        let found = try PageFinder.find(in: scene)
        let (flat, shape) = try PageFlattener.flatten(scene, page: found)
        #expect(shape == .a4)
        #expect(abs(Double(flat.height) / Double(flat.width) - 2.squareRoot()) < 0.01, "\(flat.width)x\(flat.height)")
        // Compared with the original page at the same size: the mean difference is small (edges blur a little).
        let scaled = try PageFlattener.flatten(
            page,
            page: PageCorners(
                corners: [
                    ImagePoint(x: 0, y: 0), ImagePoint(x: 500, y: 0), ImagePoint(x: 500, y: 707), ImagePoint(x: 0, y: 707),
                ], confidence: 1)
        ).image
        let resized = try PagePlacement.place(
            scaled,
            at: [
                ImagePoint(x: 0, y: 0), ImagePoint(x: Double(flat.width), y: 0),
                ImagePoint(x: Double(flat.width), y: Double(flat.height)), ImagePoint(x: 0, y: Double(flat.height)),
            ],
            on: try DocumentImage(width: flat.width, height: flat.height, channels: 3))
        var total = 0
        for index in 0..<flat.pixels.count { total += abs(Int(flat.pixels[index]) - Int(resized.pixels[index])) }
        let mean = Double(total) / Double(flat.pixels.count)
        #expect(mean < 12, "mean difference \(mean)")
    }

    @Test("a scan's skew is measured to a tenth of a degree, and turned straight", arguments: [-9.5, -4.0, -1.2, 0.0, 0.7, 3.3, 8.0])
    func skewIsMeasured(_ degrees: Double) throws {
        var random = SeededRandom(seed: 5)
        let page = SyntheticScenes.page(.a4, width: 1240, random: &random)
        let turned = try Deskew.rotate(page, degrees: degrees)
        let measured = try #require(try Deskew.skew(of: turned))
        #expect(abs(measured - degrees) < 0.1, "turned \(degrees)°, measured \(measured)°")
        let straight = try Deskew.rotate(turned, degrees: -measured)
        #expect(abs(try #require(try Deskew.skew(of: straight))) < 0.1)
    }

    @Test("blank pages: grain, noise and show-through are blank; a short line or a small stamp is not")
    func blankPages() throws {
        var random = SeededRandom(seed: 21)
        let width = 1240, height = 1754
        var paper = [UInt8](repeating: 0, count: width * height * 3)
        for index in stride(from: 0, to: paper.count, by: 3) {
            let value = UInt8(clamping: 238 + Int(Double.random(in: -9...9, using: &random)))
            paper[index] = value; paper[index + 1] = value; paper[index + 2] = UInt8(clamping: Int(value) - 4)
        }
        let blank = try DocumentImage(width: width, height: height, channels: 3, pixels: paper)
        #expect(try PageContent.measure(blank).isBlank)
        // Faint show-through of the back's text: 15 levels darker, mirrored lines.
        var showThrough = paper
        for line in 0..<30 {
            let y = 200 + line * 45
            for yy in y..<(y + 12) { for x in 150..<1000 { for c in 0..<3 { showThrough[(yy * width + x) * 3 + c] -= 15 } } }
        }
        #expect(try PageContent.measure(try DocumentImage(width: width, height: height, channels: 3, pixels: showThrough)).isBlank)
        // A single short pen line: 2 cm at 150 dpi, 3 pixels thick.
        var line = paper
        for y in 900..<903 { for x in 500..<618 { for c in 0..<3 { line[(y * width + x) * 3 + c] = 40 } } }
        let lined = try PageContent.measure(try DocumentImage(width: width, height: height, channels: 3, pixels: line))
        #expect(!lined.isBlank, "\(lined)")
        // A small red stamp.
        var stamp = paper
        for y in 1200..<1260 {
            for x in 800..<860 where hypot(Double(x - 830), Double(y - 1230)) < 28 && hypot(Double(x - 830), Double(y - 1230)) > 22 {
                stamp[(y * width + x) * 3] = 200; stamp[(y * width + x) * 3 + 1] = 40; stamp[(y * width + x) * 3 + 2] = 40
            }
        }
        let stamped = try PageContent.measure(try DocumentImage(width: width, height: height, channels: 3, pixels: stamp))
        #expect(!stamped.isBlank && stamped.chromaticFraction > 0, "\(stamped)")
        // A page of text is far from blank.
        #expect(try !PageContent.measure(SyntheticScenes.page(.a4, width: 1240, random: &random)).isBlank)
    }

    @Test("JPEG and PNG files are read with their size and density; other files are refused with a code")
    func readingFiles() throws {
        let directory = try TemporaryDirectory("ck-doc")
        var random = SeededRandom(seed: 2)
        let page = SyntheticScenes.page(.id1, width: 300, random: &random)
        let jpegPath = directory.path("card.jpg")
        let jpeg = try page.pixels.withUnsafeBytes { try JPEGMemoryEncoder(quality: 95).encode($0, format: .rgb8, width: page.width, height: page.height) }
        try jpeg.write(to: URL(fileURLWithPath: jpegPath))
        let read = try DocumentImage.read(path: jpegPath)
        #expect(read.width == page.width && read.height == page.height && read.channels == 3)
        let pngPath = directory.path("card.png")
        let output = try OutputFile(creating: pngPath)
        let encoder = try PNGEncoder(image: ImageDescription(format: .rgb8, width: page.width, height: page.height, dpi: 300), output: output)
        for row in 0..<page.height {
            try page.pixels.withUnsafeBytes { try encoder.write(row: UnsafeRawBufferPointer(rebasing: $0[row * page.width * 3..<(row + 1) * page.width * 3])) }
        }
        try encoder.finish()
        try output.close()
        let png = try DocumentImage.read(path: pngPath)
        #expect(png.pixels == page.pixels && png.dpi == 300)
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: directory.path("x.txt")))
        #expect(throws: DocumentImagingError(.unsupportedFormat, "\(directory.path("x.txt")) is not a JPEG, PNG or PNM image")) {
            try DocumentImage.read(path: directory.path("x.txt"))
        }
        var truncated = [UInt8](jpeg)
        truncated.removeLast(truncated.count / 2)
        try Data(truncated).write(to: URL(fileURLWithPath: directory.path("cut.jpg")))
        do { _ = try DocumentImage.read(path: directory.path("cut.jpg")); Issue.record("a cut JPEG decoded") } catch {
            #expect(error.code == .invalidImage)
        }
    }
}
