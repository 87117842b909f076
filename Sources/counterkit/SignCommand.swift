import ArgumentParser
import Attachments
import DeviceHub
import DeviceService
import Foundation
import SignaturePads
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

    @OptionGroup var service: ServiceConnection

    /// The names the four outputs get in --output-dir, in the order the attachments come.
    static let fileNames = ["signature.png", "signature.svg", "signature.iso", "signature.json"]

    func run() async throws {
        guard timeout > 0, timeout <= 3600 else { throw fail(.invalidValue, "--timeout must be above 0 and at most 3600 s") }
        guard idle >= 0 else { throw fail(.invalidValue, "--idle must not be negative") }
        var style = SignatureStyle(dotsPerInch: dpi)
        if let size {
            guard let parsed = SignatureStyle.size(parsing: size) else { throw fail(.invalidValue, "--size expects WIDTHxHEIGHT, got '\(size)'") }
            style.size = parsed
        }
        // Checked before the pad is touched, so that a citizen never signs for nothing.
        do { try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true) } catch {
            throw fail(.ioError, "cannot create --output-dir \(outputDir): \(error.localizedDescription)")
        }
        let paths = Self.fileNames.map { (outputDir as NSString).appendingPathComponent($0) }
        let (pad, manifests): (PadDescription, [AttachmentManifest])
        if let socket = try service.socketToUse() {
            (pad, manifests) = try await signThroughService(socket: socket, paths: paths)
        } else {
            (pad, manifests) = try signDirectly(style: style, paths: paths)
        }
        try report(pad: pad, manifests: manifests, files: paths)
    }

    /// Prints the outcome, the same whichever way the signature was captured: the counts come from the manifests.
    private func report(pad: PadDescription, manifests: [AttachmentManifest], files: [String]) throws {
        let settings = manifests.first?.settings ?? [:]
        let samples = Int(settings["samples"] ?? "") ?? 0, strokes = Int(settings["strokes"] ?? "") ?? 0
        let lost = Int(settings["lostReports"] ?? "") ?? 0, duration = Int(settings["durationMilliseconds"] ?? "") ?? 0
        if json {
            struct Output: Encodable { var pad: PadDescription; var samples: Int; var strokes: Int; var lostReports: Int; var files: [String]; var attachments: [AttachmentManifest] }
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
        if interactive { Thread.detachNewThread { _ = readLine(); enterPressed.store(true, ordering: .relaxed) } }
        while !ended() {
            if interrupted.load(ordering: .relaxed) { return .cancelled }
            if enterPressed.load(ordering: .relaxed) { return .done }
            if idle > 0, inkIdle() { return .done }
            usleep(20_000)
        }
        return .ended
    }

    /// Opens the pad here (no service is running) and stores the outputs in the local spool.
    private func signDirectly(style: SignatureStyle, paths: [String]) throws -> (PadDescription, [AttachmentManifest]) {
        let store = try spool.openStore()
        let (connection, driver): (HIDConnection, PadDriver)
        do { (connection, driver) = try SignaturePadDrivers.openPad(device) } catch { throw fail(error.code, error.message) }
        let pad = driver.description
        let ink = InkTracker()
        let session: SignatureSession
        do {
            session = try SignatureSession(transport: connection, driver: driver, prompt: prompt, timeout: .seconds(timeout)) { event in
                if case .samples(let batch) = event { ink.received(batch.map(\.touching)) }
                if case .cleared = event { ink.cleared() }
            }
        } catch {
            connection.close()
            throw fail(error.code, error.message)
        }
        let ending = waitForTheEnd(announce: pad, ended: { session.snapshot.state != .capturing },
                                   inkIdle: { ink.idle(for: .milliseconds(Int(idle * 1000))) })
        if ending == .cancelled {
            session.cancel()
            throw fail(.cancelled, "cancelled; nothing was saved")
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
        for (manifest, path) in zip(manifests, paths) {
            do { try AttachmentExport.publish(try store.fileURL(id: manifest.id).path, at: path) } catch let error as any CounterKitError {
                throw fail(error.code, error.message)
            }
        }
        return (pad, manifests)
    }

    /// Asks the running service for a session on the pad (it holds the pad; this command never fights it), follows the
    /// ink through the session's events, finishes or cancels the session, and downloads the four outputs.
    private func signThroughService(socket: String, paths: [String]) async throws -> (PadDescription, [AttachmentManifest]) {
        let client = ServiceClient(socketPath: socket, idleTimeout: .seconds(30))
        var body: [String: Any] = ["timeout": timeout, "dpi": dpi]
        if let device { body["device"] = device }
        if let prompt { body["prompt"] = prompt }
        if let size { body["size"] = size }
        let created = try await client.send("POST", "/v1/signatures", json: try JSONSerialization.data(withJSONObject: body))
        if let error = created.error { throw fail(code: error.code, error.message) }
        let session = try created.decode(SignatureSessionSnapshot.self)
        let ink = InkTracker()
        let reader = Task {
            _ = try? await client.events("/v1/signatures/\(session.id)/events") { event in
                switch event.name {
                case "points":
                    struct Points: Decodable { var points: [[Double]] }
                    if let points = try? JSONDecoder().decode(Points.self, from: Data(event.data.utf8)) {
                        ink.received(points.points.map { $0.count > 4 && $0[4] == 1 })
                    }
                case "cleared": ink.cleared()
                case "ended": ink.sessionEnded()
                default: break
                }
                return event.name != "ended"
            }
            ink.sessionEnded()
        }
        defer { reader.cancel() }
        // The wait polls and sleeps: on a thread for blocking calls, not the cooperative pool.
        let ending = await BlockingCalls.shared.run { [self] () throws(Never) -> Ending in
            waitForTheEnd(announce: session.pad, ended: { ink.hasEnded },
                          inkIdle: { ink.idle(for: .milliseconds(Int(idle * 1000))) })
        }.get()
        if ending == .cancelled {
            _ = try? await client.send("DELETE", "/v1/signatures/\(session.id)")
            throw fail(.cancelled, "cancelled; nothing was saved")
        }
        let finished = try await client.send("POST", "/v1/signatures/\(session.id)/finish")
        if let error = finished.error { throw fail(code: error.code, error.message) }
        let done = try finished.decode(SignatureSessionSnapshot.self)
        let hub = ServiceDeviceHub(socketPath: socket)
        for (manifest, path) in zip(done.attachments, paths) { _ = try await interruptible { try await hub.export(manifest, to: path) } }
        return (done.pad, done.attachments)
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
