import ArgumentParser
import Attachments
import Foundation
import SignaturePads
import Synchronization

struct SignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Capture a signature from a USB signature pad into PNG, SVG, ISO 19794-7 and JSON attachments.",
        discussion: """
            Wacom STU pads are driven by their protocol (prompt, inking, 200 Hz pen data with sequence numbers); \
            other USB HID pen digitizers through their report descriptor. The capture ends after --timeout seconds, \
            when Enter is pressed on a terminal, or --idle seconds after the pen last left the pad. Ctrl-C cancels. \
            The four files land in --output-dir (signature.png, .svg, .iso, .json); the attachments stay in the spool.
            On failure the exit status is non-zero and stderr says `error: CODE: message`.
            """)

    @Option(help: "Pad id from `counterkit devices` (default: the first pad that opens).")
    var device: String?

    @Option(help: "Text shown on pads with a screen.")
    var prompt: String?

    @Option(help: "Seconds before the capture ends by itself.")
    var timeout: Double = 60

    @Option(help: "End this many seconds after the pen last left the pad (once there is ink); 0 waits for Enter or the timeout.")
    var idle: Double = 0

    @Option(help: "PNG size WIDTHxHEIGHT (default: the ink at --dpi).")
    var size: String?

    @Option(help: "PNG resolution when no --size is given.")
    var dpi: Double = 300

    @Option(help: "Directory for signature.png, signature.svg, signature.iso and signature.json.")
    var outputDir: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var spool: SpoolOptions

    func run() throws {
        guard timeout > 0, timeout <= 3600 else { throw fail(.invalidValue, "--timeout must be above 0 and at most 3600 s") }
        guard idle >= 0 else { throw fail(.invalidValue, "--idle must not be negative") }
        var style = SignatureStyle(dotsPerInch: dpi)
        if let size {
            let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, parts.allSatisfy({ (1...10_000).contains($0) }) else {
                throw fail(.invalidValue, "--size expects WIDTHxHEIGHT, got '\(size)'")
            }
            style.size = (parts[0], parts[1])
        }
        let store = try spool.openStore()

        let (connection, driver): (HIDConnection, PadDriver)
        do { (connection, driver) = try SignaturePadDrivers.openPad(device) } catch { throw fail(error.code, error.message) }
        let pad = driver.description
        let inkEnded = Mutex<ContinuousClock.Instant?>(nil)
        let counter = Atomic<Int>(0)
        let session: SignatureSession
        do {
            session = try SignatureSession(transport: connection, driver: driver, prompt: prompt, timeout: .seconds(timeout)) { event in
                if case .samples(let batch) = event {
                    counter.add(batch.count, ordering: .relaxed)
                    if let last = batch.last { inkEnded.withLock { $0 = last.touching ? nil : ($0 ?? ContinuousClock.now) } }
                }
            }
        } catch {
            connection.close()
            throw fail(error.code, error.message)
        }
        let interrupted = Atomic<Bool>(false)
        InterruptHandler.install { interrupted.store(true, ordering: .relaxed) }
        let interactive = isatty(STDIN_FILENO) == 1
        if !json {
            FileHandle.standardError.write(Data("signing on \(pad.model) (\(pad.id)): \(interactive ? "press Enter when done, " : "")Ctrl-C cancels\n".utf8))
        }
        let enterPressed = Atomic<Bool>(false)
        if interactive {
            Thread.detachNewThread { _ = readLine(); enterPressed.store(true, ordering: .relaxed) }
        }
        while session.snapshot.state == .capturing {
            if interrupted.load(ordering: .relaxed) {
                session.cancel()
                throw fail(.cancelled, "cancelled; nothing was saved")
            }
            if enterPressed.load(ordering: .relaxed) { break }
            if idle > 0, session.snapshot.samples.contains(where: \.touching),
               let ended = inkEnded.withLock({ $0 }), ContinuousClock.now - ended >= .seconds(idle) { break }
            usleep(20_000)
        }
        let signature: Signature
        do { signature = try session.finish() } catch {
            let partial = session.partialSignature()
            throw fail(error.code, error.message + " (\(partial.samples.count) samples had arrived)")
        }
        guard signature.inkBounds != nil else { throw fail(.noInk, "the pad received no ink; nothing was saved") }
        let manifests: [AttachmentManifest]
        do { manifests = try SignatureOutputs(store: store, style: style).save(signature) } catch {
            throw fail(error.code, error.message)
        }
        try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        var files: [String] = []
        for (manifest, name) in zip(manifests, ["signature.png", "signature.svg", "signature.iso", "signature.json"]) {
            let path = (outputDir as NSString).appendingPathComponent(name)
            try AtomicOutput.publish(try store.fileURL(id: manifest.id).path, at: path)
            files.append(path)
        }
        if json {
            struct Output: Encodable { var pad: PadDescription; var samples: Int; var strokes: Int; var lostReports: Int; var files: [String]; var attachments: [AttachmentManifest] }
            try printJSON(Output(pad: pad, samples: signature.samples.count, strokes: signature.strokes.count,
                                 lostReports: signature.lostReports, files: files, attachments: manifests))
            return
        }
        print("signed on \(pad.model) (\(pad.id)): \(signature.samples.count) samples, \(signature.strokes.count) strokes, "
              + "\(Int(signature.duration)) ms, \(signature.lostReports) lost report(s)")
        for (file, manifest) in zip(files, manifests) { print("  wrote \(file) (\(manifest.byteCount) bytes, sha256 \(manifest.sha256))") }
    }
}
