import ArgumentParser
import Attachments
import DocumentImaging
import Foundation

extension DocumentOptions.Crop: ExpressibleByArgument {}
extension DocumentOptions.Color: ExpressibleByArgument {}
extension DocumentFileFormat: ExpressibleByArgument {}
extension PageSource: ExpressibleByArgument {}

struct DocumentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "document",
        abstract: "Document imaging on image files: find the page, flatten and crop it, tell blank pages.",
        subcommands: [Detect.self, Process.self, Blank.self, IDCard.self])

    /// Reads an image file, failing with its code.
    static func read(_ path: String) throws -> DocumentImage {
        do { return try DocumentImage.read(path: path) } catch { throw fail(error.code, error.message) }
    }

    struct Detect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find the page in a photo or scan: its four corners and a confidence.",
            discussion: """
                Corners are in the image's pixels, ordered top-left, top-right, bottom-right, bottom-left as the page lies \
                upright. Exit 1 with `error: no_document: …` when no page is found.
                """)

        @Argument(help: "A JPEG or PNG file.")
        var image: String

        @Flag(help: "Print {\"corners\": [[x,y],…], \"confidence\": c}.")
        var json = false

        func run() throws {
            let picture = try DocumentCommand.read(image)
            let page: PageCorners
            do { page = try PageFinder.find(in: picture) } catch { throw fail(error.code, error.message) }
            let corners = page.corners.map { [($0.x * 10).rounded() / 10, ($0.y * 10).rounded() / 10] }
            if json {
                try printJSON(DetectOutput(corners: corners, confidence: (page.confidence * 1000).rounded() / 1000))
            } else {
                let names = ["top-left", "top-right", "bottom-right", "bottom-left"]
                for (name, corner) in zip(names, corners) { print("\(name): \(corner[0]), \(corner[1])") }
                print("confidence: \(String(format: "%.3f", page.confidence))")
            }
        }

        struct DetectOutput: Encodable { var corners: [[Double]]; var confidence: Double }
    }

    struct Process: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Crop, flatten, clean, choose the colour of and size-limit the page of a photo or scan, into a new file.",
            discussion: """
                With --crop auto (the default) a photo's page is found and flattened to an upright rectangle of its true \
                aspect (snapped to A4, Letter or ID-1 when close); a scan (--source scanner) is straightened and cropped \
                to the page when the page is smaller than the bed. When no page is found the image is kept uncropped and \
                the summary says so. --max-bytes writes the highest quality (then the lowest resolution, not under \
                150 dpi) whose file fits; exit 1 with `error: size_target_unreachable: …` when none does. The output is \
                written whole or not at all.
                """)

        @Argument(help: "A JPEG, PNG or PNM file.")
        var image: String

        @Option(help: "The file to write.")
        var output: String

        @Option(help: "auto: find and flatten (photo) or straighten and crop (scan) the page; none: keep the whole image.")
        var crop: DocumentOptions.Crop = .auto

        @Option(help: "camera: a photo of a page on a desk; scanner: a scan.")
        var source: PageSource = .camera

        @Flag(help: "Flatten uneven light and whiten the paper; ink keeps its colour.")
        var clean = false

        @Option(help: "auto (per page: colour for a seal, gray for photos, else black and white), color, gray or bw.")
        var color: DocumentOptions.Color?

        @Option(name: .customLong("max-bytes"), parsing: .unconditional, help: "The largest file allowed, in bytes (at least 1024).")
        var maxBytes: Int?

        @Option(help: "jpeg, png or pdf (default: from the output's extension, else jpeg).")
        var format: DocumentFileFormat?

        @Option(parsing: .unconditional, help: "JPEG quality 1…100 (the highest tried under --max-bytes).")
        var quality: Int = 90

        @Flag(help: "Print the summary as JSON.")
        var json = false

        func run() throws {
            try DocumentCommand.checkQuality(quality, maxBytes: maxBytes)
            // The output rules of `scan`: the format agrees with the name, and the directory exists, before any work.
            let target = OutputTarget(path: output)
            let chosen = try target.format(given: format, fallback: .jpeg, allowed: DocumentFileFormat.allCases)
            try target.check(mayHaveSeveralPages: false)
            let options = DocumentOptions(crop: crop, clean: clean, color: color, maxBytes: maxBytes)
            let page: ProcessedPage, written: SizeTargetOutcome
            do throws(DocumentImagingError) {
                try options.validate()
                page = try DocumentPipeline(options: options).process(try DocumentImage.read(path: image), source: source)
                written = try SizeTarget.write(
                    [page.image], to: output, format: chosen, quality: quality, maxBytes: maxBytes,
                    title: "Document")
            } catch {
                throw fail(error.code, error.message)
            }
            let stages = page.stages
            var summary = Summary(
                output: output, format: chosen.rawValue, width: 0, height: 0, bytes: written.bytes,
                quality: written.quality, scale: written.scale, passes: written.passes, stages: stages)
            summary.width = Int((Double(page.image.width) * written.scale).rounded())
            summary.height = Int((Double(page.image.height) * written.scale).rounded())
            if stages["document.crop"] == "found" {
                summary.corners = stages["document.corners"].map { text in
                    text.split(separator: " ").map { $0.split(separator: ",").compactMap { Double($0) } }
                }
                summary.confidence = stages["document.confidence"].flatMap(Double.init)
                summary.paper = stages["document.paper"]
            } else if let crop = stages["document.crop"] {
                summary.crop = crop
            }
            summary.color = stages["document.color"]
            if json { return try printJSON(summary) }
            print(
                "wrote \(output): \(summary.width)x\(summary.height) \(chosen.rawValue), \(written.bytes) bytes"
                    + (written.quality.map { ", quality \($0)" } ?? "") + (written.scale < 1 ? String(format: ", scaled to %.0f %%", written.scale * 100) : "")
                    + (summary.paper.map { ", \($0)" } ?? "") + (summary.confidence.map { ", page found (confidence \($0))" } ?? "")
                    + (summary.crop.map { ", \($0)" } ?? "") + (summary.color.map { ", \($0)" } ?? ""))
        }

        struct Summary: Encodable {
            var output: String
            var format: String
            var width: Int
            var height: Int
            var bytes: Int
            var quality: Int?
            var scale: Double
            var passes: Int
            var stages: [String: String]
            var corners: [[Double]]?
            var confidence: Double?
            var paper: String?
            var crop: String?
            var color: String?
        }
    }

    /// The quality and size limit as the CLI takes them, refused by their flags' names.
    static func checkQuality(_ quality: Int, maxBytes: Int?) throws {
        guard (1...100).contains(quality) else { throw fail(.invalidValue, "--quality must be 1…100, got \(quality)") }
        if let maxBytes, maxBytes < 1024 { throw fail(.invalidValue, "--max-bytes must be at least 1024, got \(maxBytes)") }
    }

    struct IDCard: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "idcard",
            abstract: "Put both sides of an ID card on one A4 page at true size (85.6 x 54 mm): the ID card copy.",
            discussion: """
                Each side is found and flattened first; a side where what is found is not card-shaped (its proportion far \
                from a card's 85.6 : 54, or a speck of the image) is refused with `error: no_document: …` naming the side, \
                unless --force. The output is a PDF, JPEG or PNG (--format, else by its extension), written whole or not at \
                all; --max-bytes keeps it under a size as `document process` does.
                """)

        @Argument(help: "The card's front: a photo or scan (JPEG, PNG or PNM).")
        var front: String

        @Argument(help: "The card's back: a photo or scan (JPEG, PNG or PNM).")
        var back: String

        @Option(help: "The file to write: OUT.pdf, OUT.jpg or OUT.png.")
        var output: String

        @Option(help: "pdf, jpeg or png (default: from the output's extension, else pdf).")
        var format: DocumentFileFormat?

        @Option(parsing: .unconditional, help: "Resolution of the sheet, 100…600 dpi.")
        var dpi: Double = 300

        @Option(parsing: .unconditional, help: "JPEG quality 1…100 (the highest tried under --max-bytes).")
        var quality: Int = 90

        @Option(name: .customLong("max-bytes"), parsing: .unconditional, help: "The largest file allowed, in bytes (at least 1024).")
        var maxBytes: Int?

        @Flag(help: "Place a side even when what was found on it is not card-shaped.")
        var force = false

        func run() throws {
            try DocumentCommand.checkQuality(quality, maxBytes: maxBytes)
            let target = OutputTarget(path: output)
            let chosen = try target.format(given: format, fallback: .pdf, allowed: DocumentFileFormat.allCases)
            try target.check(mayHaveSeveralPages: false)
            let sheet: DocumentImage, written: SizeTargetOutcome
            do throws(DocumentImagingError) {
                sheet = try IDCardSheet.compose(
                    front: try DocumentImage.read(path: front), back: try DocumentImage.read(path: back),
                    dpi: dpi, force: force)
                written = try SizeTarget.write([sheet], to: output, format: chosen, quality: quality, maxBytes: maxBytes, title: "ID card copy")
            } catch  where error.code == .noDocument && !force && !error.message.hasPrefix("no card found") {
                throw fail(error.code, error.message + "; --force places it anyway")
            } catch {
                throw fail(error.code, error.message)
            }
            print(
                "wrote \(output): both sides of the card at true size on A4 (\(sheet.width)x\(sheet.height) at \(Int(dpi)) dpi), "
                    + "\(chosen.rawValue), \(written.bytes) bytes" + (written.scale < 1 ? String(format: ", scaled to %.0f %%", written.scale * 100) : ""))
        }
    }

    struct Blank: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say whether a scanned page is blank (paper grain, noise and faint show-through count as blank).",
            discussion: "Exit 0 either way; the verdict is in the output.")

        @Argument(help: "A JPEG or PNG file.")
        var image: String

        @Flag(help: "Print {\"blank\": true|false, …} with the measures behind the verdict.")
        var json = false

        func run() throws {
            let content: PageContent
            do { content = try PageContent.measure(try DocumentImage.read(path: image)) } catch { throw fail(error.code, error.message) }
            if json { return try printJSON(Verdict(blank: content.isBlank, content: content)) }
            print(content.isBlank ? "blank" : "not blank: \(content.marks) mark(s), ink \(String(format: "%.4f", content.inkFraction * 100)) % of the page")
        }

        struct Verdict: Encodable {
            var blank: Bool
            var inkFraction: Double
            var marks: Int
            var largestMark: Int
            var chromaticFraction: Double
            init(blank: Bool, content: PageContent) {
                self.blank = blank
                inkFraction = content.inkFraction
                marks = content.marks
                largestMark = content.largestMark
                chromaticFraction = content.chromaticFraction
            }
        }
    }
}
