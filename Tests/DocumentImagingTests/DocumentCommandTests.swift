import Attachments
import CounterKitTestSupport
import DocumentImaging
import Foundation
import Testing

/// `counterkit document detect|process|blank`, the binary as a technician or another tool runs it.
@Suite("counterkit document")
struct DocumentCommandTests {
    let counterkit = repositoryRoot().appendingPathComponent(".build/debug/counterkit").path

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
}
