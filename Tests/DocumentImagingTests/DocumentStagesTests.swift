import Attachments
import CounterKitTestSupport
import DocumentImaging
import Foundation
import Testing

/// The stages after finding the page: colour mode, cleaning, size targets, and the whole pipeline on camera shots and
/// scans. Every file written is read back.
@Suite("Document stages: colour mode, cleaning, size targets, the pipeline", .ownThreads)
struct DocumentStagesTests {
    /// A 1240-pixel A4 page said to be 300 dpi (so that it can be brought down to 150 dpi).
    static func page(seed: UInt64, photo: Bool = true, seal: Bool = true, blank: Bool = false) -> DocumentImage {
        var random = SeededRandom(seed: seed)
        var page = SyntheticScenes.page(.a4, width: 1240, random: &random, blank: blank, photo: photo, seal: seal)
        page.dpi = 300
        return page
    }

    @Test("colour for a seal, gray for a photo, black and white for text; blank pages are told")
    func colourModeFollowsTheContent() throws {
        let cases: [(DocumentImage, ColorMode, Bool)] = [
            (Self.page(seed: 1), .color, false),
            (Self.page(seed: 2, seal: false), .gray, false),
            (Self.page(seed: 3, photo: false, seal: false), .bw, false),
            (Self.page(seed: 4, blank: true), .bw, true),
        ]
        for (page, expected, blank) in cases {
            let content = try PageContent.measure(page)
            #expect(ColorMode.decide(for: content) == expected, "\(content)")
            #expect(content.isBlank == blank)
            let converted = try page.converted(to: expected)
            #expect(converted.channels == (expected == .color ? 3 : 1))
            #expect(converted.isBilevel == (expected == .bw))
            if expected == .bw { #expect(Set(converted.pixels).isSubset(of: [0, 255])) }
        }
    }

    @Test("black and white keeps the text: ink black, paper white, under a light falling off across the page")
    func blackAndWhiteKeepsTheText() throws {
        var page = Self.page(seed: 5, photo: false, seal: false)
        let original = page
        // Light falling to 60 % across the page.
        for y in 0..<page.height {
            for x in 0..<page.width {
                let light = 1 - 0.4 * Double(x) / Double(page.width)
                for c in 0..<3 { page.pixels[(y * page.width + x) * 3 + c] = UInt8(Double(page.pixels[(y * page.width + x) * 3 + c]) * light) }
            }
        }
        let bw = try page.converted(to: .bw)
        var agree = 0
        for index in 0..<(bw.width * bw.height) {
            let inked = original.pixels[index * 3] < 128
            if (bw.pixels[index] == 0) == inked { agree += 1 }
        }
        let share = Double(agree) / Double(bw.width * bw.height)
        #expect(share > 0.99, "pixels agreeing with the page as printed: \(share)")
    }

    @Test("cleaning whitens unevenly lit paper and keeps the seal red")
    func cleaningFlattensTheLightAndKeepsTheSeal() throws {
        var page = Self.page(seed: 6)
        let sealPixels = (0..<(page.width * page.height)).filter { page.pixels[$0 * 3] == 200 && page.pixels[$0 * 3 + 1] == 30 }
        #expect(sealPixels.count > 1000)
        for y in 0..<page.height {
            for x in 0..<page.width {
                // Dim and yellowish light towards the bottom right, as under a desk lamp.
                let light = 1 - 0.45 * (Double(x) / Double(page.width) + Double(y) / Double(page.height)) / 2
                let tint = [1.0, 0.97, 0.85]
                for c in 0..<3 {
                    let index = (y * page.width + x) * 3 + c
                    page.pixels[index] = UInt8(Double(page.pixels[index]) * light * tint[c])
                }
            }
        }
        let cleaned = try PageCleaner.clean(page)
        // Paper samples in the four corners' margins: near white and alike after cleaning.
        func paper(_ image: DocumentImage, _ x: Int, _ y: Int) -> Double {
            (0..<3).map { Double(image.pixels[(y * image.width + x) * 3 + $0]) }.reduce(0, +) / 3
        }
        let corners = [(30, 30), (page.width - 30, 30), (30, page.height - 30), (page.width - 30, page.height - 30)]
        let before = corners.map { paper(page, $0.0, $0.1) }, after = corners.map { paper(cleaned, $0.0, $0.1) }
        #expect(before.max()! - before.min()! > 60, "\(before)")
        #expect(after.allSatisfy { $0 >= 245 }, "paper after cleaning: \(after)")
        // The seal: still strongly red.
        var red = 0
        for index in sealPixels {
            let r = Int(cleaned.pixels[index * 3]), g = Int(cleaned.pixels[index * 3 + 1]), b = Int(cleaned.pixels[index * 3 + 2])
            if r - g > 100 && r - b > 100 { red += 1 }
        }
        #expect(Double(red) / Double(sealPixels.count) > 0.95, "\(red) of \(sealPixels.count) seal pixels still red")
        #expect(ColorMode.decide(for: try PageContent.measure(cleaned)) == .color)
    }

    @Test(
        "size targets over a range of limits: never over, the quality rises with the limit, the file is what it says",
        arguments: [DocumentFileFormat.jpeg, .pdf])
    func sizeTargetsAreNeverExceeded(_ format: DocumentFileFormat) throws {
        let directory = try TemporaryDirectory()
        let page = Self.page(seed: 7)
        var lastQuality = 0, lastScale = 0.0
        for limit in [38_000, 50_000, 80_000, 150_000, 300_000, 2_000_000] {
            let path = directory.path("page-\(limit).\(format.rawValue)")
            let outcome = try SizeTarget.write([page], to: path, format: format, quality: 90, maxBytes: limit)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(bytes.count <= limit && bytes.count == outcome.bytes, "\(limit): \(bytes.count) bytes, said \(outcome.bytes)")
            #expect(outcome.passes <= 14)
            let quality = try #require(outcome.quality)
            // A larger limit never gets a smaller page or, at the same size, a lower quality.
            #expect(outcome.scale > lastScale || (outcome.scale == lastScale && quality >= lastQuality), "\(limit): \(outcome)")
            #expect(outcome.scale * 300 >= SizeTarget.lowestDPI - 0.5)
            lastQuality = quality
            lastScale = outcome.scale
            if format == .jpeg {
                let decoded = try DocumentImage.read(path: path)
                #expect(decoded.width == Int((Double(page.width) * outcome.scale).rounded()))
                #expect(abs(decoded.dpi - 300 * outcome.scale) <= 1)
            } else {
                #expect(bytes.starts(with: Array("%PDF-".utf8)))
            }
        }
        #expect(lastQuality == 90 && lastScale == 1, "a generous limit keeps the quality asked for")
        // A limit nothing can meet: a clear error, no file, no leftovers.
        let impossible = directory.path("impossible.\(format.rawValue)")
        #expect(throws: DocumentImagingError.self) { try SizeTarget.write([page], to: impossible, format: format, maxBytes: 3_000) }
        do { _ = try SizeTarget.write([page], to: impossible, format: format, maxBytes: 3_000) } catch {
            #expect(error.code == .sizeTargetUnreachable && error.message.contains("3000 bytes"), "\(error)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).allSatisfy { !$0.hasPrefix(".") && !$0.hasPrefix("impossible") })
    }

    @Test("a black-and-white page under a limit: PNG and PDF lose resolution, not ink; a PDF of several pages fits as a whole")
    func bilevelAndMultiPageTargets() throws {
        let directory = try TemporaryDirectory()
        let bw = try Self.page(seed: 8, photo: false, seal: false).converted(to: .bw)
        let full = try SizeTarget.write([bw], to: directory.path("full.png"), format: .png)
        #expect(full.quality == nil && full.scale == 1)
        let png = directory.path("small.png")
        let limited = try SizeTarget.write([bw], to: png, format: .png, maxBytes: full.bytes * 2 / 3)
        #expect(limited.bytes <= full.bytes * 2 / 3 && limited.scale < 1 && limited.scale >= 0.5)
        let read = try DocumentImage.read(path: png)
        #expect(read.width == Int((Double(bw.width) * limited.scale).rounded()))
        #expect(Set(read.pixels).isSubset(of: [0, 255]), "still black and white")

        let pages = [Self.page(seed: 9), try Self.page(seed: 10, seal: false).converted(to: .gray), bw]
        let pdf = directory.path("three.pdf")
        let outcome = try SizeTarget.write(pages, to: pdf, format: .pdf, quality: 85, maxBytes: 200_000)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: pdf))
        #expect(bytes.count <= 200_000 && bytes.count == outcome.bytes)
        #expect(
            String(decoding: bytes, as: UTF8.self).components(separatedBy: "/Type /Page\n").count - 1 == 3
                || String(decoding: bytes, as: UTF8.self).components(separatedBy: "/Type /Page ").count - 1 == 3)
        #expect(throws: DocumentImagingError.self) { try SizeTarget.write(pages, to: directory.path("x.jpg"), format: .jpeg) }
    }

    @Test("the pipeline on a camera shot: found, flattened, snapped, cleaned, colour chosen, each stage recorded")
    func pipelineOnACameraShot() throws {
        let scene = try SyntheticScenes.scene(seed: 5)
        let pipeline = DocumentPipeline(options: DocumentOptions(crop: .auto, clean: true, color: .auto, blank: .flag))
        let page = try pipeline.process(scene.image, source: .camera)
        #expect(page.stages["document.crop"] == "found")
        #expect(page.stages["document.paper"] == scene.shape.rawValue)
        let corners = try #require(page.stages["document.corners"]).split(separator: " ").map { pair in
            let xy = pair.split(separator: ",").map { Double($0)! }
            return ImagePoint(x: xy[0], y: xy[1])
        }
        #expect(PageCorners.jaccard(corners, scene.truth) > 0.95)
        #expect(page.stages["document.clean"] == "applied")
        #expect(page.stages["document.color"] == "color (auto)", "the page has a red seal")
        #expect(page.blank == false && page.stages["document.blank"] == "false")
        #expect(page.image.dpi > 0)

        // A desk with no page: kept as it is, and said.
        var random = SeededRandom(seed: 3)
        let desk = SyntheticScenes.background(2, width: 640, height: 480, random: &random).0
        let kept = try DocumentPipeline(options: DocumentOptions()).process(desk, source: .camera)
        #expect(kept.stages["document.crop"] == "no_document: kept uncropped" && kept.image == desk)
    }

    @Test("the pipeline on a scan: a page turned on the bed is straightened and cropped to itself")
    func pipelineOnAScan() throws {
        let page = Self.page(seed: 11, photo: false)
        // The bed: larger than the page and light gray, the page turned by 2.5° in the middle of it.
        var bed = try DocumentImage(width: 1500, height: 2000, channels: 3, fill: 200)
        let (w, h) = (Double(page.width) * 0.9, Double(page.height) * 0.9)
        let angle = 2.5 * Double.pi / 180, centre = (x: 750.0, y: 1000.0)
        let corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)].map { p in
            ImagePoint(x: centre.x + p.0 * cos(angle) + p.1 * sin(angle), y: centre.y - p.0 * sin(angle) + p.1 * cos(angle))
        }
        bed = try PagePlacement.place(page, at: corners, on: bed)
        bed.dpi = 300
        let processed = try DocumentPipeline(options: DocumentOptions()).process(bed, source: .scanner)
        let deskew = try #require(processed.stages["document.deskew"])
        let skew = try #require(Double(deskew))
        #expect(abs(skew - 2.5) < 0.2, "measured \(skew)°")
        #expect(processed.stages["document.crop"] == "found")
        #expect(
            abs(Double(processed.image.width) - w) < w * 0.03 && abs(Double(processed.image.height) - h) < h * 0.03,
            "\(processed.image.width)x\(processed.image.height), page \(Int(w))x\(Int(h))")
        #expect(processed.image.dpi == 300)
        // Straight now: what is left of the skew is within a tenth of a degree.
        #expect(abs(try Deskew.skew(of: processed.image) ?? 0) < 0.15)
    }

    @Test("PNM pages read back as written: colour, gray and 1-bit")
    func pnmReadsBack() throws {
        let directory = try TemporaryDirectory()
        let colour = Self.page(seed: 12)
        let bw = try colour.converted(to: .bw)
        for (name, image) in [("c.ppm", colour), ("g.pgm", try colour.converted(to: .gray)), ("b.pbm", bw)] {
            try image.write(to: directory.path(name), format: .pnm)
            var read = try DocumentImage.read(path: directory.path(name))
            read.dpi = image.dpi
            #expect(read == image, "\(name)")
        }
        try Data("P6\n10 10\n255\n".utf8 + [UInt8](repeating: 0, count: 20)).write(to: directory.url.appendingPathComponent("short.ppm"))
        #expect(throws: DocumentImagingError.self) { try DocumentImage.read(path: directory.path("short.ppm")) }
    }
}
