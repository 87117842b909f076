import Attachments
import CounterKitTestSupport
import DocumentImaging
import Foundation
import Testing

/// `counterkit document detect|process|blank`, the binary as a technician or another tool runs it.
@Suite("counterkit document")
struct DocumentCommandTests {
    let counterkit = SANETestEnvironment.counterkitExecutable

    /// Synthetic scene `seed` written as a JPEG photo at `path`, as a clerk's camera would save it.
    @discardableResult
    func photo(_ seed: UInt64, at path: String) throws -> SyntheticScenes.Scene {
        let scene = try SyntheticScenes.scene(seed: seed)
        try scene.image.write(to: path, format: .jpeg(JPEGOptions(quality: 92)))
        return scene
    }

    func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runCommandAsync(["/bin/sh", "-c", ([counterkit] + arguments).map { "'\($0)'" }.joined(separator: " ") + " 2>&1"])
    }

    @Test("detect prints the corners as JSON, process writes the flattened page, blank gives its verdict")
    func detectProcessBlank() async throws {
        let directory = try TemporaryDirectory("ck-doc-cli")
        let scene = try SyntheticScenes.scene(seed: 42)
        let photo = directory.path("photo.jpg")
        try scene.image.write(to: photo, format: .jpeg(JPEGOptions(quality: 92)))

        let detected = try await run(["document", "detect", photo, "--json"])
        #expect(detected.status == 0, "\(detected.output)")
        struct Detection: Decodable { var corners: [[Double]]; var confidence: Double }
        let detection = try JSONDecoder().decode(Detection.self, from: Data(detected.output.utf8))
        let corners = detection.corners.map { ImagePoint(x: $0[0], y: $0[1]) }
        #expect(PageCorners.jaccard(corners, scene.truth) > 0.98 && detection.confidence > 0.5)
        for (corner, truth) in zip(corners, scene.truth) { #expect(hypot(corner.x - truth.x, corner.y - truth.y) < 6) }

        let flat = directory.path("page.png")
        let processed = try await run(["document", "process", photo, "--output", flat, "--json"])
        #expect(processed.status == 0, "\(processed.output)")
        let page = try DocumentImage.read(path: flat)
        let aspect = Double(max(page.width, page.height)) / Double(min(page.width, page.height))
        #expect(abs(aspect - scene.shape.aspect) < 0.01, "\(page.width)x\(page.height) for \(scene.shape)")
        let expectedDPI = Double(max(page.width, page.height)) / (scene.shape.millimetres.long / 25.4)
        #expect(abs(page.dpi - expectedDPI) <= 1, "a page snapped to \(scene.shape.rawValue) knows its resolution: \(page.dpi)")
        #expect(processed.output.contains("\"paper\" : \"\(scene.shape.rawValue)\""))
        #expect(!FileManager.default.fileExists(atPath: directory.path(".page.png.\(getpid()).part")))

        // No page: detect fails with the code; process keeps the picture uncropped and says so.
        var random = SeededRandom(seed: 9)
        let desk = directory.path("desk.jpg")
        try SyntheticScenes.background(1, width: 640, height: 480, random: &random).0.write(to: desk, format: .jpeg(JPEGOptions()))
        let none = try await run(["document", "detect", desk, "--json"])
        #expect(none.status == 1 && none.output.hasPrefix("error: no_document: "), "\(none.output)")
        let kept = try await run(["document", "process", desk, "--output", directory.path("kept.jpg")])
        #expect(kept.status == 0 && kept.output.contains("no_document: kept uncropped"), "\(kept.output)")
        let uncropped = try DocumentImage.read(path: directory.path("kept.jpg"))
        #expect(uncropped.width == 640 && uncropped.height == 480)

        // Blank or not, exit 0 either way.
        let blankPage = directory.path("blank.png")
        try DocumentImage(width: 620, height: 877, channels: 3, fill: 240).write(to: blankPage, format: .png(PNGOptions()))
        let blank = try await run(["document", "blank", blankPage, "--json"])
        #expect(blank.status == 0 && blank.output.contains("\"blank\" : true"), "\(blank.output)")
        let text = try await run(["document", "blank", flat, "--json"])
        #expect(text.status == 0 && text.output.contains("\"blank\" : false"), "\(text.output)")

        // Bad input: a clear code, nothing written.
        try Data("hello".utf8).write(to: URL(fileURLWithPath: directory.path("note.txt")))
        let bad = try await run(["document", "process", directory.path("note.txt"), "--output", directory.path("out.jpg")])
        #expect(bad.status == 1 && bad.output.hasPrefix("error: unsupported_format: "), "\(bad.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.path("out.jpg")))
        let missing = try await run(["document", "detect", directory.path("absent.jpg")])
        #expect(missing.status == 1 && missing.output.hasPrefix("error: not_found: "), "\(missing.output)")
    }

    @Test("idcard puts both sides at true size on one A4 page, as a PDF or a JPEG")
    func idCardCopy() async throws {
        let directory = try TemporaryDirectory("ck-idcard")
        // Two photos of ID-1 cards (scene seeds 3 and 7 are cards) on different desks.
        let front = try SyntheticScenes.scene(seed: 3), back = try SyntheticScenes.scene(seed: 7)
        #expect(front.shape == .id1 && back.shape == .id1)
        try front.image.write(to: directory.path("front.jpg"), format: .jpeg(JPEGOptions(quality: 92)))
        try back.image.write(to: directory.path("back.jpg"), format: .jpeg(JPEGOptions(quality: 92)))

        let jpeg = try await run(["document", "idcard", directory.path("front.jpg"), directory.path("back.jpg"), "--output", directory.path("copy.jpg")])
        #expect(jpeg.status == 0, "\(jpeg.output)")
        let sheet = try DocumentImage.read(path: directory.path("copy.jpg"))
        #expect(sheet.width == 2480 && sheet.height == 3508 && sheet.dpi == 300)
        // Each card covers its 85.60 x 53.98 mm place (1011 x 638 pixels at 300 dpi), and the sheet is white around it.
        for (name, origin) in [("front", IDCardSheet.frontOrigin), ("back", IDCardSheet.backOrigin)] {
            let left = Int(origin.x / 25.4 * 300), top = Int(origin.y / 25.4 * 300)
            var minX = Int.max, maxX = 0, minY = Int.max, maxY = 0
            for y in max(top - 60, 0)..<min(top + 700, sheet.height) {
                for x in max(left - 60, 0)..<min(left + 1071, sheet.width) {
                    let index = (y * sheet.width + x) * 3
                    if sheet.pixels[index..<index + 3].contains(where: { $0 < 200 }) {
                        minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
                    }
                }
            }
            // The card's printing starts inside its edge; its dark marks lie within the card's place.
            #expect(
                minX >= left - 3 && maxX <= left + 1011 + 3 && minY >= top - 3 && maxY <= top + 638 + 3,
                "\(name): marks at x \(minX)…\(maxX), y \(minY)…\(maxY); the card's place is x \(left)…\(left + 1011), y \(top)…\(top + 638)")
            #expect(maxX - minX > 700 && maxY - minY > 400, "\(name): the card's content spans its place")
        }
        let corner = (100 * sheet.width + 100) * 3
        #expect(sheet.pixels[corner..<corner + 3].allSatisfy { $0 > 245 }, "the sheet is white")

        let pdf = try await run(["document", "idcard", directory.path("front.jpg"), directory.path("back.jpg"), "--output", directory.path("copy.pdf")])
        #expect(pdf.status == 0, "\(pdf.output)")
        let info = try await runCommandAsync(["pdfinfo", directory.path("copy.pdf")])
        #expect(info.output.contains("Pages:           1") && info.output.contains("595.2 x 841.92 pts (A4)"), "\(info.output)")
        let images = try await runCommandAsync(["pdfimages", "-list", directory.path("copy.pdf")])
        #expect(images.output.contains("2480  3508  rgb"), "\(images.output)")

        // A side with no card names it; nothing is written.
        var random = SeededRandom(seed: 4)
        try SyntheticScenes.background(0, width: 800, height: 600, random: &random).0.write(to: directory.path("desk.jpg"), format: .jpeg(JPEGOptions()))
        let missing = try await run(["document", "idcard", directory.path("front.jpg"), directory.path("desk.jpg"), "--output", directory.path("none.pdf")])
        #expect(missing.status == 1 && missing.output.hasPrefix("error: no_document: no card found on the back image"), "\(missing.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.path("none.pdf")))
    }

    /// `process --clean --color bw --max-bytes`: the flags the API has, on the CLI. The output is black and white (only 0
    /// and 255), cleaned (the paper white though the photo's light was uneven), under the size asked for, and the
    /// summary names each stage; a size nothing can reach is `size_target_unreachable` with no file.
    @Test("process takes --clean, --color and --max-bytes")
    func processStagesOnTheCLI() async throws {
        let directory = try TemporaryDirectory("ck-doc-stages")
        let photo = directory.path("photo.jpg")
        try self.photo(42, at: photo)
        let output = directory.path("page.png")
        let processed = try await run(["document", "process", photo, "--clean", "--color", "bw", "--max-bytes", "200000", "--output", output, "--json"])
        #expect(processed.status == 0, "\(processed.output)")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int)
        #expect(size <= 200_000, "\(size) bytes")
        let page = try DocumentImage.read(path: output)
        let samples = Set(page.pixels)
        #expect(samples.isSubset(of: [0, 255]) && samples.count == 2, "black and white: \(samples.sorted().prefix(8))")
        let white = page.pixels.filter { $0 == 255 }.count
        #expect(Double(white) / Double(page.pixels.count) > 0.8, "cleaned paper is white")
        struct Summary: Decodable { var bytes: Int; var color: String; var stages: [String: String] }
        let summary = try JSONDecoder().decode(Summary.self, from: Data(processed.output.utf8))
        #expect(
            summary.color == "bw" && summary.bytes == size && summary.stages["document.clean"] == "applied"
                && summary.stages["document.color"] == "bw", "\(processed.output)")
        let unreachable = try await run(["document", "process", photo, "--max-bytes", "1024", "--output", directory.path("tiny.jpg")])
        #expect(unreachable.status == 1 && unreachable.output.hasPrefix("error: size_target_unreachable"), "\(unreachable.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.path("tiny.jpg")))
    }

    /// `idcard --dpi`: the sheet at the resolution asked for (A4 at 150 dpi is 1240 x 1754).
    @Test("idcard takes --dpi")
    func idCardResolution() async throws {
        let directory = try TemporaryDirectory("ck-idcard-dpi")
        try photo(3, at: directory.path("front.jpg"))
        try photo(7, at: directory.path("back.jpg"))
        let made = try await run([
            "document", "idcard", directory.path("front.jpg"), directory.path("back.jpg"), "--dpi", "150",
            "--output", directory.path("copy.png"),
        ])
        #expect(made.status == 0, "\(made.output)")
        let sheet = try DocumentImage.read(path: directory.path("copy.png"))
        #expect(sheet.width == 1240 && sheet.height == 1754 && sheet.dpi == 150, "\(sheet.width)x\(sheet.height) at \(sheet.dpi)")
    }

    /// A side whose document is not card-shaped (here an A4-like page) is refused naming the side, unless --force.
    @Test("idcard refuses a side that is not card-shaped, unless --force")
    func idCardRefusesAPage() async throws {
        let directory = try TemporaryDirectory("ck-idcard-shape")
        #expect(try photo(42, at: directory.path("page.jpg")).shape != .id1)
        try photo(7, at: directory.path("back.jpg"))
        let refused = try await run(["document", "idcard", directory.path("page.jpg"), directory.path("back.jpg"), "--output", directory.path("copy.pdf")])
        #expect(
            refused.status == 1 && refused.output.hasPrefix("error: no_document: the document on the front image is not card-shaped")
                && refused.output.contains("--force"), "\(refused.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.path("copy.pdf")))
        let forced = try await run([
            "document", "idcard", directory.path("page.jpg"), directory.path("back.jpg"), "--force", "--output", directory.path("copy.pdf"),
        ])
        #expect(forced.status == 0, "\(forced.output)")
        // --quality and --max-bytes, as the API has them.
        try photo(3, at: directory.path("front.jpg"))
        let small = try await run([
            "document", "idcard", directory.path("front.jpg"), directory.path("back.jpg"), "--quality", "80",
            "--max-bytes", "150000", "--output", directory.path("small.jpg"),
        ])
        #expect(small.status == 0, "\(small.output)")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: directory.path("small.jpg"))[.size] as? Int)
        #expect(size <= 150_000, "\(size) bytes")
        let help = try await run(["document", "idcard", "--help"])
        #expect(help.output.contains("JPEG, PNG or PNM") && help.output.contains("--max-bytes") && help.output.contains("--quality"))
    }

    /// The crop lies inside the page's edge: a black-and-white page has no dotted frame along its sides.
    @Test("a cropped page keeps no strip of its edge")
    func cropsInsideTheEdge() async throws {
        let directory = try TemporaryDirectory("ck-doc-edge")
        for seed: UInt64 in [42, 11, 5] {
            try photo(seed, at: directory.path("photo-\(seed).jpg"))
            let output = directory.path("page-\(seed).png")
            let run = try await run(["document", "process", directory.path("photo-\(seed).jpg"), "--color", "bw", "--output", output])
            #expect(run.status == 0, "\(run.output)")
            let page = try DocumentImage.read(path: output)
            func blackShare(_ indices: [Int]) -> Double {
                Double(indices.filter { page.pixels[$0 * page.channels] == 0 }.count) / Double(indices.count)
            }
            let rows = [0, page.height - 1].map { y in blackShare((0..<page.width).map { y * page.width + $0 }) }
            let columns = [0, page.width - 1].map { x in blackShare((0..<page.height).map { $0 * page.width + x }) }
            #expect((rows + columns).allSatisfy { $0 < 0.02 }, "seed \(seed): black along the top, bottom, left, right: \(rows + columns)")
        }
    }

    /// `document process` follows `scan`'s output rules (one implementation): the format must agree with the name, a
    /// missing directory is refused before any work and named, not a temp file, and the file is the user's (0666 less
    /// the umask). Flag errors name the flag.
    @Test("process follows scan's output rules and names its flags")
    func processOutputRules() async throws {
        let directory = try TemporaryDirectory("ck-doc-rules")
        let photo = directory.path("photo.jpg")
        try self.photo(42, at: photo)
        let contradicts = try await run(["document", "process", photo, "--output", directory.path("out.png"), "--format", "jpeg"])
        #expect(
            contradicts.status == 1 && contradicts.output.hasPrefix("error: invalid_value: --format jpeg contradicts the extension"), "\(contradicts.output)")
        let missing = try await run(["document", "process", photo, "--output", directory.path("nowhere/out.jpg")])
        #expect(missing.status == 1 && missing.output.contains("does not exist: create") && !missing.output.contains(".part"), "\(missing.output)")
        for value in ["-5", "100"] {
            let small = try await run(["document", "process", photo, "--max-bytes", value, "--output", directory.path("out.jpg")])
            #expect(small.status == 1 && small.output.hasPrefix("error: invalid_value: --max-bytes must be at least 1024, got \(value)"), "\(small.output)")
        }
        let made = try await runCommandAsync([
            "/bin/sh", "-c", "umask 022; exec \"$0\" document process \"$1\" --output \"$2\"",
            counterkit, photo, directory.path("mine.jpg"),
        ])
        #expect(made.status == 0, "\(made.output)")
        var info = stat()
        #expect(stat(directory.path("mine.jpg"), &info) == 0 && info.st_mode & 0o777 == 0o644, "mode \(String(info.st_mode & 0o777, radix: 8))")
    }
}
