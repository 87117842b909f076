import ArgumentParser
import Attachments
import DeviceHub
import DeviceService
import Foundation
import Scanning

extension ScanSource: ExpressibleByArgument {}
extension ScanMode: ExpressibleByArgument {}
extension ScanOutputFormat: ExpressibleByArgument {}

struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan pages into attachments and copy them to --output.",
        discussion: """
            Settings are device-independent: CounterKit maps them to each backend's own option names and values \
            and reports what was actually used. The attachment (with its manifest and SHA-256) stays in the spool.
            On failure the exit status is non-zero and stderr says `error: CODE: message`.
            """)

    @Option(help: "Scanner id from `counterkit devices` (default: the first scanner found).")
    var device: String?

    @Option(help: "Paper source: flatbed, adf or duplex (default: flatbed when the scanner has one).")
    var source: ScanSource?

    @Option(help: "Colour mode: color, gray or lineart (default: color).")
    var mode: ScanMode?

    @Option(help: "Resolution in dpi; the nearest supported value is used (default: 300).")
    var resolution: Double?

    @Option(help: "Paper preset: A4, A5, Letter or ID1 (85.6x54 mm card); clamped to the bed.")
    var paper: String?

    @Option(help: "Scan area X,Y,W,H in millimetres from the top-left corner (default: the whole bed).")
    var area: String?

    @Option(name: .customLong("option"), help: ArgumentHelp("A backend option by its SANE name, NAME=VALUE (repeatable).", valueName: "NAME=VALUE"))
    var rawOptions: [String] = []

    @Option(help: "Output format: jpeg, png, pnm (one file per page) or pdf (one file for all pages) (default: from the --output extension, else jpeg).")
    var format: ScanOutputFormat?

    @Option(help: "JPEG quality 1-100 (default 85).")
    var quality: Int?

    @Option(help: "Stop after this many pages from a feeder (default: until it is empty).")
    var maxPages: Int?

    @Option(help: "Seconds of backend silence before the scan is abandoned.")
    var timeout: Double = 60

    @Option(help: "Where to write the result; with several pages in an image format, PATH must hold %d for the page number.")
    var output: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var spool: SpoolOptions

    @OptionGroup var service: ServiceConnection

    func run() async throws {
        let request = try makeRequest()
        let hub = try service.hub(spool: spool)
        let bar = ProgressBar()
        let capture: Capture
        do { capture = try await interruptible { try await hub.scan(request) { bar.show($0) } } } catch {
            bar.clear()
            throw error
        }
        bar.clear()
        if let requested = capture.settings["requestedArea"], let used = capture.settings["area"] {
            FileHandle.standardError.write(Data("warning: the area asked for (\(requested) mm) does not fit the scanner's bed; scanned \(used) mm\n".utf8))
        }
        var written: [[String: String]] = []
        for (manifest, path) in zip(capture.attachments, try outputPaths(capture.attachments)) {
            try await OutputTarget.export(manifest, to: path, through: hub)
            written.append(describe(manifest, path, hub.location))
        }
        try report(device: capture.device, settings: capture.settings, pages: capture.pages, files: written, attachments: capture.attachments)
    }

    /// The request from the options, checked before any device is touched.
    private func makeRequest() throws -> ScanRequest {
        var options: [String: String] = [:]
        for entry in rawOptions {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw fail(.invalidValue, "--option expects NAME=VALUE, got '\(entry)'")
            }
            options[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        var paperSize: PaperSize?
        if let paper {
            guard let preset = PaperSize(name: paper) else {
                throw fail(.invalidValue, "unknown paper '\(paper)'; use A4, A5, Letter or ID1")
            }
            paperSize = preset
        }
        var scanArea: ScanArea?
        if let area {
            guard let parsed = ScanArea(parsing: area) else {
                throw fail(.invalidValue, "--area expects X,Y,W,H in millimetres with W and H above 0, got '\(area)'")
            }
            scanArea = parsed
        }
        let target = OutputTarget(path: output)
        let format = try target.format(given: format, fallback: .jpeg, allowed: ScanOutputFormat.allCases)
        // A feeder named raw (`--option source=…`) scans until it is empty just as `--source adf` does.
        let feeder = source ?? options["source"].flatMap(SourceLayer.classify)
        try target.check(mayHaveSeveralPages: format != .pdf && (feeder == .adf || feeder == .duplex) && maxPages != 1)
        var request = ScanRequest(
            device: device, source: source, mode: mode, resolution: resolution, paper: paperSize,
            area: scanArea, options: options, format: format, quality: quality, maxPages: maxPages)
        // The same timeout either way: the service applies a request's own timeout as the worker does here.
        request.idleTimeout = timeout
        do { try request.validate() } catch { throw fail(error.code, error.message) }
        return request
    }

    /// Checks the output pattern against the page count.
    private func outputPaths(_ attachments: [AttachmentManifest]) throws -> [String] {
        if attachments.count > 1 && !output.contains("%d") {
            throw fail(
                .invalidValue,
                "\(attachments.count) pages were scanned (kept as attachments \(attachments.map(\.id).joined(separator: ", "))); --output needs %d for the page number"
            )
        }
        return attachments.indices.map { output.replacingOccurrences(of: "%d", with: String($0 + 1)) }
    }

    private func describe(_ manifest: AttachmentManifest, _ path: String, _ location: String) -> [String: String] {
        if !json {
            print(
                "wrote \(path): \(manifest.mediaType), \(manifest.pixelWidth ?? 0)x\(manifest.pixelHeight ?? 0) px at \(Int(manifest.dpi ?? 0)) dpi, \(manifest.byteCount) bytes"
            )
            print("  attachment \(manifest.id) in \(location) (sha256 \(manifest.sha256))")
        }
        return [
            "path": path, "attachment": manifest.id, "sha256": manifest.sha256, "bytes": String(manifest.byteCount),
            "size": "\(manifest.pixelWidth ?? 0)x\(manifest.pixelHeight ?? 0)",
        ]
    }

    private func report(
        device: String, settings: [String: String], pages: Int, files: [[String: String]],
        attachments: [AttachmentManifest]
    ) throws {
        if json {
            struct Output: Encodable {
                var device: String; var settings: [String: String]; var pages: Int; var files: [[String: String]]; var attachments: [AttachmentManifest]
            }
            try printJSON(Output(device: device, settings: settings, pages: pages, files: files, attachments: attachments))
        } else {
            let used = settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            print("scanned \(pages) page(s) on \(device): \(used)")
        }
    }
}

/// A one-line progress bar on stderr, shown only on a terminal.
final class ProgressBar: Sendable {
    private let enabled = isatty(STDERR_FILENO) == 1

    func show(_ progress: CaptureProgress) {
        guard enabled else { return }
        let text: String
        if let fraction = progress.fraction {
            let filled = Int(fraction * 30)
            text =
                "page \(progress.page) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: 30 - filled))] \(Int(fraction * 100))%  \(progress.bytesReceived / 1024) KiB"
        } else {
            text = "page \(progress.page) \(progress.linesDone) lines  \(progress.bytesReceived / 1024) KiB"
        }
        FileHandle.standardError.write(Data("\r\(text)\u{1B}[K".utf8))
    }

    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

/// Turns Ctrl-C into a cancellation (a second Ctrl-C exits at once).
enum InterruptHandler {
    nonisolated(unsafe) private static var source: DispatchSourceSignal?

    static func install(_ action: @escaping @Sendable () -> Void) {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        var count = 0
        source.setEventHandler {
            count += 1
            if count > 1 { exit(130) }
            action()
        }
        source.resume()
        self.source = source
    }
}
