import ArgumentParser
import Attachments
import CounterKitCore
import DeviceHub
import DeviceService
import Foundation
import Sealing
import SignaturePads
import SignedDocuments
import Synchronization

struct SignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Capture a signature from a USB signature pad into PNG, SVG, ISO 19794-7 and JSON attachments.",
        discussion: """
            Wacom STU pads are driven by their protocol (prompt, inking, 200 Hz pen data with sequence numbers); \
            other USB HID pen digitizers through their report descriptor. The capture ends after --timeout seconds, \
            when Enter is pressed on a terminal, or --idle seconds after the pen last left the pad. Ctrl-C cancels. \
            The four files land in --output-dir (signature.png, .svg, .iso, .json); the attachments stay in the spool.
            With --document FORM.pdf --page N --rect X,Y,W,H --output SIGNED.pdf the citizen signs that PDF: the ink is \
            placed in the rectangle (millimetres from the page's top-left) and the PDF sealed (PAdES) with the counter \
            key, the service's, or with --direct the one --key names (its certificate beside it, or --certificate).
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
    var outputDir: String?

    @Option(help: ArgumentHelp("A PDF the citizen signs: the ink is placed on it and it is sealed.", valueName: "FORM.pdf"))
    var document: String?

    @Option(help: "The page of --document the ink goes on, from 1.")
    var page: Int = 1

    @Option(help: ArgumentHelp("Where on the page: millimetres from its top-left, X,Y,WIDTH,HEIGHT.", valueName: "X,Y,W,H"))
    var rect: String?

    @Option(help: "Why the document is signed (the signature's /Reason).")
    var reason: String?

    @Option(help: "Who signs (the signature's /Name).")
    var name: String?

    @Option(help: ArgumentHelp("The signed PDF to write (with --document).", valueName: "SIGNED.pdf"))
    var output: String?

    @Option(help: ArgumentHelp("With --direct and --document: the counter key that seals the document.", valueName: "KEY"))
    var key: String?

    @Option(help: ArgumentHelp("The key's certificate chain (PEM; default: KEY.crt beside it).", valueName: "CHAIN"))
    var certificate: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var spool: SpoolOptions

    @OptionGroup var service: ServiceConnection

    /// The names the four outputs get in --output-dir, in the order the attachments come.
    static let fileNames = ["signature.png", "signature.svg", "signature.iso", "signature.json"]

    func validate() throws {
        if document == nil && outputDir == nil { throw ValidationError("give --output-dir for the signature's files, or --document with --output") }
        if document != nil && (rect == nil || output == nil) { throw ValidationError("--document needs --rect X,Y,W,H and --output SIGNED.pdf") }
        if document == nil && (rect != nil || output != nil || key != nil || reason != nil || name != nil) {
            throw ValidationError("--rect, --output, --key, --reason and --name go with --document")
        }
    }

    func run() async throws {
        guard idle >= 0 else { throw fail(.invalidValue, "--idle must not be negative") }
        var request: SignatureRequest
        do {
            request = SignatureRequest(device: device, prompt: prompt, timeout: timeout, style: try SignatureRequest.style(size: size, dpi: dpi))
            try request.validate()
        } catch { throw fail(error.code, error.message) }
        // Checked before the pad is touched, so that a citizen never signs for nothing.
        if let outputDir {
            do { try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true) } catch {
                throw fail(.ioError, "cannot create --output-dir \(outputDir): \(error.localizedDescription)")
            }
        }
        let hub: any DeviceHub
        if let socket = try service.socketToUse() {
            hub = ServiceDeviceHub(socketPath: socket)
        } else {
            hub = LocalDeviceHub(store: try spool.openStore(), documentSigner: try directDocumentSigner())
        }
        if let document {
            // The document is stored and checked (page, rectangle) before the pad prompts.
            guard let bytes = FileManager.default.contents(atPath: document) else { throw fail(.notFound, "cannot read \(document)") }
            let numbers = rect!.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard numbers.count == 4, numbers.allSatisfy({ $0 != nil }) else {
                throw fail(.invalidValue, "--rect must be X,Y,WIDTH,HEIGHT in millimetres, got '\(rect!)'")
            }
            let stored: AttachmentManifest
            do { stored = try await hub.storeDocument([UInt8](bytes)) } catch let error as CounterKitError {
                throw fail(error.code, "\(document): \(error.message)")
            }
            request.document = SignatureDocument(
                attachment: stored.id, placement: SignaturePlacement(page: page, rect: numbers.map { $0! }, reason: reason, name: name))
        }
        let done = try await sign(request, on: hub)
        let signatureFiles = done.attachments.filter { $0.kind == .signature }
        var paths: [String] = []
        if let outputDir {
            paths = Self.fileNames.map { (outputDir as NSString).appendingPathComponent($0) }
            for (manifest, path) in zip(signatureFiles, paths) { try await OutputTarget.export(manifest, to: path, through: done.hub) }
        }
        if let output, let signed = done.attachments.first(where: { $0.kind == .signedDocument }) {
            try await OutputTarget.export(signed, to: output, through: done.hub)
            if !json {
                print(
                    "sealed \(document!) into \(output) (\(signed.settings["document.signature"] ?? "PAdES"), \(signed.byteCount) bytes, sha256 \(signed.sha256))"
                )
            }
        }
        try report(pad: done.pad, manifests: done.attachments, files: paths)
    }

    /// The document signer for --direct: the --key and its certificate chain (nil without --document).
    private func directDocumentSigner() throws -> (any DocumentSigning)? {
        guard document != nil else { return nil }
        guard let key else {
            throw fail(
                .invalidValue, "signing a document without the service needs --key (the counter key) and its certificate (--certificate, default KEY.crt)")
        }
        do throws(SealError) {
            let counterKey = try CounterKey.load(from: key)
            let chain = try CounterCertificateChain.load(from: certificate ?? CounterCertificateChain.defaultPath(forKey: key), for: counterKey.publicKey)
            return DocumentSigner(key: counterKey, certificates: chain.certificates)
        } catch {
            throw fail(error.code, error.message)
        }
    }

    /// Prints the outcome, the same whichever way the signature was captured: the counts come from the manifests.
    private func report(pad: PadDescription, manifests: [AttachmentManifest], files: [String]) throws {
        let settings = manifests.first?.settings ?? [:]
        let samples = Int(settings["samples"] ?? "") ?? 0, strokes = Int(settings["strokes"] ?? "") ?? 0
        let lost = Int(settings["lostReports"] ?? "") ?? 0, duration = Int(settings["durationMilliseconds"] ?? "") ?? 0
        if json {
            struct Output: Encodable {
                var pad: PadDescription; var samples: Int; var strokes: Int; var lostReports: Int; var files: [String]; var attachments: [AttachmentManifest]
            }
            try printJSON(Output(pad: pad, samples: samples, strokes: strokes, lostReports: lost, files: files, attachments: manifests))
            return
        }
        print("signed on \(pad.model) (\(pad.id)): \(samples) samples, \(strokes) strokes, \(duration) ms, \(lost) lost report(s)")
        for (file, manifest) in zip(files, manifests) { print("  wrote \(file) (\(manifest.byteCount) bytes, sha256 \(manifest.sha256))") }
    }

    /// Why the capture loop stopped waiting.
    private enum Ending { case done, cancelled, ended }

    /// Waits for Enter, --idle after the ink, the session's own end, or Ctrl-C.
    private func waitForTheEnd(announce pad: PadDescription, ended: () -> Bool, inkIdle: () -> Bool) -> Ending {
        let interrupted = Atomic<Bool>(false)
        InterruptHandler.install { interrupted.store(true, ordering: .relaxed) }
        let interactive = isatty(STDIN_FILENO) == 1
        if !json {
            FileHandle.standardError.write(Data("signing on \(pad.model) (\(pad.id)): \(interactive ? "press Enter when done, " : "")Ctrl-C cancels\n".utf8))
        }
        let enterPressed = Atomic<Bool>(false)
        if interactive {
            BlockingCalls.shared.start(named: "counterkit-enter") {
                _ = readLine(); enterPressed.store(true, ordering: .relaxed)
            }
        }
        while !ended() {
            if interrupted.load(ordering: .relaxed) { return .cancelled }
            if enterPressed.load(ordering: .relaxed) { return .done }
            if idle > 0, inkIdle() { return .done }
            usleep(20_000)
        }
        return .ended
    }

    /// Runs a signature session on the hub (this process's, or the running service's, which then holds the pad, so this
    /// command never fights it): follows the ink through the session's events, then finishes or cancels the session.
    private func sign(
        _ request: SignatureRequest, on hub: any DeviceHub
    ) async throws
        -> (hub: any DeviceHub, pad: PadDescription, attachments: [AttachmentManifest])
    {
        let session: SignatureSessionSnapshot
        do { session = try await hub.startSignature(request) } catch let error as CounterKitError { throw fail(error.code, error.message) }
        let ink = InkTracker()
        let reader = Task {
            do {
                for try await event in try await hub.signatureEvents(session.id) {
                    switch event {
                    case .points(let samples): ink.received(samples.map(\.touching))
                    case .cleared: ink.cleared()
                    case .state, .ended: break
                    }
                }
            } catch {}
            ink.sessionEnded()
        }
        defer { reader.cancel() }
        // The wait polls and sleeps: on a thread for blocking calls, not the cooperative pool.
        let ending = await BlockingCalls.shared.run { [self] () throws(Never) -> Ending in
            waitForTheEnd(announce: session.pad, ended: { ink.hasEnded }, inkIdle: { ink.idle(for: .milliseconds(Int(idle * 1000))) })
        }.get()
        if ending == .cancelled {
            _ = try? await hub.cancelSignature(session.id)
            throw fail(.cancelled, "cancelled; nothing was saved")
        }
        do {
            var done = try? await hub.signature(session.id, samples: false)
            // A session that timed out is being finished by the hub itself: wait for that rather than race it.
            for _ in 0..<100 {
                do {
                    done = try await hub.finishSignature(session.id)
                    break
                } catch let error as CounterKitError where error.code == .sessionFinishing {
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            guard let done, done.state == .finished else { throw DeviceHubError(.sessionFinishing, "the session did not finish in 10 s") }
            return (hub, done.pad, done.attachments)
        } catch let error as CounterKitError {
            // Not finished (no ink yet, or it ended by itself): release the pad, and say why the session ended.
            let ended = try? await hub.cancelSignature(session.id)
            let now = try? await hub.signature(session.id, samples: false)
            let samples = (ended ?? now).map { " (\($0.samples) samples had arrived)" } ?? ""
            if let cause = now?.error { throw fail(cause.code, cause.message + samples) }
            if error.code == .noInk { throw fail(.noInk, "the pad received no ink; nothing was saved") }
            throw fail(error.code, error.message + samples)
        }
    }
}

/// Follows the pen: whether there is ink, and since when the pen has been off the pad; and whether the session has
/// ended by itself (its timeout, or the pad gone).
final class InkTracker: Sendable {
    private let state = Mutex<(sawInk: Bool, liftedAt: ContinuousClock.Instant?)>((false, nil))
    private let ended = Mutex(false)

    /// The session ended (or its event stream did).
    func sessionEnded() { ended.withLock { $0 = true } }

    /// Whether the session has ended.
    var hasEnded: Bool { ended.withLock { $0 } }

    /// A batch of samples arrived, touching or not, in order.
    func received(_ touching: [Bool]) {
        guard let last = touching.last else { return }
        state.withLock { state in
            if touching.contains(true) { state.sawInk = true }
            state.liftedAt = last ? nil : (state.liftedAt ?? ContinuousClock.now)
        }
    }

    /// The ink was cleared.
    func cleared() { state.withLock { $0 = (false, nil) } }

    /// Whether there is ink and the pen has been off the pad for at least `duration`.
    func idle(for duration: Duration) -> Bool {
        state.withLock { $0.sawInk && $0.liftedAt.map { ContinuousClock.now - $0 >= duration } == true }
    }
}
