import Attachments
import CounterKitTestSupport
import Foundation
import Testing

@Suite(.ownThreads) struct PDFWriterTests {
    private func pdfinfo(_ path: String) throws -> [String: String] {
        let result = try runCommand(["pdfinfo", "-f", "1", "-l", "10", path])
        #expect(result.status == 0, "pdfinfo failed on \(path)")
        var fields: [String: String] = [:]
        for line in result.output.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return fields
    }

    @Test func twoStreamedPagesAreWellFormed() throws {
        let directory = try TemporaryDirectory()
        let output = try OutputFile(creating: directory.path("doc.pdf"))
        let pdf = try PDFWriter(output: output, title: "Application (scan)")
        // Page 1: JPEG at 150 dpi, A4-ish; page 2: lossless gray at 100 dpi.
        let page = SyntheticPage(width: 1240, height: 1754, dpi: 150)
        let encoder = try pdf.beginPage(image: page.image, compression: .jpeg(JPEGOptions(quality: 80)))
        var row = [UInt8](repeating: 0, count: page.image.bytesPerRow)
        for y in 0..<page.image.height {
            row.withUnsafeMutableBytes { page.render(row: y, into: $0) }
            try row.withUnsafeBytes { try encoder.write(row: $0) }
        }
        try encoder.finish()
        let gray = try pdf.beginPage(image: ImageDescription(format: .gray8, width: 850, height: 1100, dpi: 100), compression: .flate(level: 6))
        for y in 0..<1100 {
            let line = [UInt8](repeating: UInt8(y & 0xFF), count: 850)
            try line.withUnsafeBytes { try gray.write(row: $0) }
        }
        try gray.finish()
        try pdf.finish()
        try output.close()

        let info = try pdfinfo(directory.path("doc.pdf"))
        #expect(info["Pages"] == "2")
        #expect(info["Producer"] == "CounterKit")
        #expect(info["Title"] == "Application (scan)")
        // 1240 px at 150 dpi = 595.2 pt; 850 px at 100 dpi = 612 pt.
        #expect(info["Page    1 size"]?.hasPrefix("595.2 x 841.92") == true)
        #expect(info["Page    2 size"]?.hasPrefix("612 x 792") == true)
        // pdfimages' listing: page, number, type, width, height, colour, components, bits per component, encoding.
        let listed = try runCommand(["pdfimages", "-list", directory.path("doc.pdf")]).output.split(separator: "\n").dropFirst(2)
            .map { $0.split(separator: " ").prefix(9).joined(separator: " ") }
        #expect(listed == ["1 0 image 1240 1754 rgb 3 8 jpeg", "2 1 image 850 1100 gray 1 8 image"], "\(listed)")
        // The gray page read back: every row the value it was written with.
        _ = try runCommand(["pdfimages", "-f", "2", "-l", "2", "-png", directory.path("doc.pdf"), directory.path("back")])
        let back = try DecodedImage.png(atPath: directory.path("back-000.png"))
        #expect(back.width == 850 && back.height == 1100 && back.channels == 1)
        #expect((0..<1100).allSatisfy { y in back.pixels[(y * 850)..<(y * 850 + 850)].allSatisfy { $0 == UInt8(y & 0xFF) } })
    }

    @Test func jpegPagesAreEmbeddedUnchanged() throws {
        let directory = try TemporaryDirectory()
        let jpegPath = directory.path("in.jpg")
        let page = SyntheticPage(width: 320, height: 240, dpi: 96)
        let jpegOut = try OutputFile(creating: jpegPath)
        let encoder = try JPEGEncoder(image: page.image, output: jpegOut)
        let pixels = page.pixels()
        for y in 0..<240 { try pixels[y * 960..<(y + 1) * 960].withUnsafeBytes { try encoder.write(row: $0) } }
        try encoder.finish()
        try jpegOut.close()
        let jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: jpegPath)))

        let output = try OutputFile(creating: directory.path("p.pdf"))
        let pdf = try PDFWriter(output: output)
        try pdf.addJPEGPage(jpeg, dpi: 96)
        try pdf.addJPEGPage(jpeg, dpi: 96)
        try pdf.finish()
        try output.close()
        #expect(try pdfinfo(directory.path("p.pdf"))["Pages"] == "2")
        let extracted = directory.path("out")
        #expect(try runCommand(["pdfimages", "-j", directory.path("p.pdf"), extracted]).status == 0)
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: extracted + "-000.jpg"))) == jpeg)
    }

    @Test func lineartAnd16BitPagesRenderTheRightWayRound() throws {
        let directory = try TemporaryDirectory()
        let output = try OutputFile(creating: directory.path("bw.pdf"))
        let pdf = try PDFWriter(output: output)
        let bw = try pdf.beginPage(image: ImageDescription(format: .blackAndWhite, width: 16, height: 2, dpi: 72), compression: .flate(level: 6))
        try [UInt8]([0xFF, 0x00]).withUnsafeBytes { try bw.write(row: $0) }  // left half black
        try [UInt8]([0xFF, 0x00]).withUnsafeBytes { try bw.write(row: $0) }
        try bw.finish()
        try pdf.finish()
        try output.close()
        // Render with poppler and check the left is black and the right white.
        #expect(try runCommand(["pdftoppm", "-r", "72", "-gray", directory.path("bw.pdf"), directory.path("r")]).status == 0)
        let rendered = try DecodedImage.pnm([UInt8](try Data(contentsOf: URL(fileURLWithPath: directory.path("r-1.pgm")))))
        #expect(rendered.pixels[0] < 64 && rendered.pixels[15] > 192)
        #expect(throws: AttachmentError.self) { try PDFWriter(output: try OutputFile(creating: directory.path("e.pdf"))).finish() }
    }
}
