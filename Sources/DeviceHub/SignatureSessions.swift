import Attachments
import CounterKitCore
import Foundation
import SignaturePads

/// A signature session as the API shows it.
public struct SignatureSessionSnapshot: Sendable, Codable, Equatable {
    /// The session's id (a UUID).
    public var id: String
    /// The pad's id.
    public var device: String
    /// The pad it runs on.
    public var pad: PadDescription
    /// `capturing`, `finished`, `cancelled` or `failed`.
    public var state: SignatureSession.State
    /// When the session started.
    public var createdAt: Date
    /// When it ended.
    public var finishedAt: Date?
    /// Samples received so far (after the last clear).
    public var samples: Int
    /// Pen reports lost on the way (gaps in the pad's sequence numbers).
    public var lostReports: Int
    /// The four attachments (PNG, SVG, ISO 19794-7, JSON), once finished.
    public var attachments: [AttachmentManifest]
    /// Why it failed; a failed session keeps its samples (`GET /v1/signatures/{id}?samples=true`).
    public var error: JobError?
    /// The samples themselves, when asked for.
    public var sampleData: [PenSample]?

    /// A snapshot with its fields given (a hub makes these; so may a fake one).
    public init(
        id: String, device: String, pad: PadDescription, state: SignatureSession.State, createdAt: Date, finishedAt: Date? = nil,
        samples: Int, lostReports: Int, attachments: [AttachmentManifest], error: JobError? = nil, sampleData: [PenSample]? = nil
    ) {
        self.id = id
        self.device = device
        self.pad = pad
        self.state = state
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.samples = samples
        self.lostReports = lostReports
        self.attachments = attachments
        self.error = error
        self.sampleData = sampleData
    }
}

/// One event of a session's live stream.
public enum SignatureStreamEvent: Sendable, Equatable {
    /// The session as it is now: the first event every subscriber gets.
    case state(SignatureSessionSnapshot)
    /// New pen samples, in order (batched, at most every 10 ms).
    case points([PenSample])
    /// The ink was cleared.
    case cleared
    /// The session ended (finished, cancelled or failed): the last event.
    case ended(SignatureSessionSnapshot)

    /// Whether this event ends the stream.
    public var isFinal: Bool { if case .ended = self { true } else { false } }
}

/// What a signature capture asks for.
public struct SignatureRequest: Sendable, Equatable {
    /// A pad id from the device list; nil takes the first pad that opens.
    public var device: String?
    /// Text for pads with a screen.
    public var prompt: String?
    /// Seconds after which the session finishes by itself.
    public var timeout: Double
    /// How the PNG and SVG are drawn.
    public var style: SignatureStyle
    /// A stored PDF the citizen signs: the ink is placed on it and it is sealed when the session finishes.
    public var document: SignatureDocument?

    /// A request; by default any pad, no prompt, 120 s, the ink at 300 dpi, no document.
    public init(
        device: String? = nil, prompt: String? = nil, timeout: Double = 120, style: SignatureStyle = SignatureStyle(), document: SignatureDocument? = nil
    ) {
        self.device = device
        self.prompt = prompt
        self.timeout = timeout
        self.style = style
        self.document = document
    }

    /// Throws `invalid_value` for a value no pad could honour; checked before a pad is opened.
    public func validate() throws(DeviceHubError) {
        if let device, device.isEmpty { throw DeviceHubError(.invalidValue, "the pad id must not be empty") }
        if let prompt, prompt.count > 200 { throw DeviceHubError(.invalidValue, "the prompt must be at most 200 characters") }
        guard timeout > 0, timeout <= 3600 else { throw DeviceHubError(.invalidValue, "the timeout must be above 0 and at most 3600 s") }
        guard style.dotsPerInch >= 10, style.dotsPerInch <= 2400 else { throw DeviceHubError(.invalidValue, "the resolution must be 10…2400 dpi") }
    }

    /// A drawing style from the API's and the CLI's words: `size` as `WIDTHxHEIGHT` (nil: the ink at `dpi`).
    public static func style(size: String?, dpi: Double?) throws(DeviceHubError) -> SignatureStyle {
        var style = SignatureStyle(dotsPerInch: dpi ?? 300)
        if let size {
            guard let parsed = SignatureStyle.size(parsing: size) else {
                throw DeviceHubError(.invalidValue, "the size must be WIDTHxHEIGHT with each 1…10000, got '\(size)'")
            }
            style.size = parsed
        }
        return style
    }
}

/// The document a signature session signs: a stored PDF attachment and where on it the ink goes.
public struct SignatureDocument: Sendable, Equatable {
    /// The attachment's id (an upload, or a scanned PDF).
    public var attachment: String
    /// The page, the rectangle, the reason and name.
    public var placement: SignaturePlacement

    /// A document to sign.
    public init(attachment: String, placement: SignaturePlacement) {
        self.attachment = attachment
        self.placement = placement
    }
}

/// Signature sessions: one per pad at a time, live points to subscribers, outputs stored on finish.
package actor SignatureSessions {
    private struct Entry {
        var session: SignatureSession
        var snapshot: SignatureSessionSnapshot
        /// How the PNG and SVG are drawn when the session is stored.
        var style: SignatureStyle
        /// The document the citizen signs, if any.
        var document: SignatureDocument?
        var subscribers: [UUID: AsyncStream<SignatureStreamEvent>.Continuation] = [:]
        /// Set once `finish` runs, so that the session's own end event does not finish it twice.
        var finishing = false
        /// Points not yet sent to subscribers, and when points were last sent (batches at most every 10 ms).
        var pendingPoints: [PenSample] = []
        var lastFlush = ContinuousClock.now - .seconds(1)
        var flushScheduled = false
    }

    /// Opens a pad (`nil`: the first usable one) with its driver. The service opens USB pads; tests open emulators.
    package typealias PadOpener = @Sendable (String?) throws(SignaturePadError) -> (transport: HIDTransport, driver: PadDriver)

    private var entries: [String: Entry] = [:]
    private var finishedOrder: [String] = []
    /// Opening a pad suspends the actor; opens take turns so that "is the pad busy?" and recording the new session
    /// happen with no other open in between (two requests for one pad: one session, one `device_busy`).
    private var opening = false
    private var waitingToOpen: [CheckedContinuation<Void, Never>] = []
    private let store: AttachmentStore
    private let limits: HubLimits
    private let observer: any DeviceHubObserver
    private let openPad: PadOpener

    /// Sessions storing into `store`; `openPad` opens a pad and its driver (USB by default; tests pass emulators).
    public init(
        store: AttachmentStore, limits: HubLimits = HubLimits(), observer: any DeviceHubObserver = IgnoringObserver(),
        openPad: @escaping PadOpener = { device throws(SignaturePadError) in try SignaturePadDrivers.openPad(device) },
        journal: JobJournal? = nil, documentSigner: (any DocumentSigning)? = nil
    ) {
        self.store = store
        self.limits = limits
        self.observer = observer
        self.openPad = openPad
        self.journal = journal
        self.documentSigner = documentSigner
        for session in journal?.recoveredSessions ?? [] { restored[session.id] = session }
    }

    private let journal: JobJournal?
    /// What signs documents (the counter key with its certificate); nil: sessions cannot sign documents.
    private let documentSigner: (any DocumentSigning)?
    /// Sessions of an earlier run of the service, as its journal left them (they have no pad any more).
    private var restored: [String: SignatureSessionSnapshot] = [:]

    /// The error for a session this run does not hold: one of an earlier run has ended, any other does not exist.
    private func notHeld(_ id: String) -> DeviceHubError {
        guard let earlier = restored[id] else { return DeviceHubError(.sessionNotFound, "no signature session \(id)") }
        return DeviceHubError(
            .sessionFinished,
            "the session has already \(earlier.state.rawValue)"
                + (earlier.error.map { " (\($0.code.rawValue): \($0.message))" } ?? ""))
    }

    private func takeTurnToOpen() async {
        guard opening else { opening = true; return }
        await withCheckedContinuation { waitingToOpen.append($0) }
    }

    private func endTurnToOpen() {
        if waitingToOpen.isEmpty { opening = false } else { waitingToOpen.removeFirst().resume() }
    }

    /// The pads held by capturing sessions, with the session holding each.
    public func padsInUse() -> [String: String] {
        var held: [String: String] = [:]
        for entry in entries.values where entry.snapshot.state == .capturing { held[entry.snapshot.device] = "signature session \(entry.snapshot.id)" }
        return held
    }

    /// Whether a session captures on this pad now.
    public func isBusy(_ device: String) -> Bool { entries.values.contains { $0.snapshot.device == device && $0.snapshot.state == .capturing } }

    /// Opens the pad (the first usable one when `device` is nil) and starts capturing.
    public func create(_ request: SignatureRequest) async throws(DeviceHubError) -> SignatureSessionSnapshot {
        try request.validate()
        try limits.requireRoom(in: store)
        // A document is checked whole before the pad prompts: it exists, is a sound PDF, the rectangle is on its page.
        if let document = request.document { _ = try documentToSign(document) }
        let device = request.device, prompt = request.prompt, timeout = request.timeout, style = request.style
        await takeTurnToOpen()
        defer { endTurnToOpen() }
        if let device, isBusy(device) { throw DeviceHubError(.deviceBusy, "\(device) has a signature session; finish or cancel it first") }
        let id = UUID().uuidString.lowercased()
        // The pad's events reach the actor through one stream, so that they keep their order.
        let (events, eventSink) = AsyncStream<SignatureEvent>.makeStream()
        let openPad = self.openPad
        let opened = await BlockingCalls.shared.run { () throws(SignaturePadError) in
            let (connection, driver) = try openPad(device)
            do throws(SignaturePadError) {
                let session = try SignatureSession(
                    transport: connection, driver: driver, prompt: prompt,
                    timeout: .milliseconds(Int(timeout * 1000))
                ) { event in
                    eventSink.yield(event)
                    if case .ended = event { eventSink.finish() }
                }
                return session
            } catch {
                connection.close()
                throw error
            }
        }
        let session: SignatureSession
        do throws(SignaturePadError) { session = try opened.get() } catch {
            eventSink.finish()
            throw error
        }
        if isBusy(session.pad.id) {
            // Asked for "any pad" and given one a session already holds: release it again.
            _ = await BlockingCalls.shared.run { () throws(Never) in session.cancel() }
            throw DeviceHubError(.deviceBusy, "\(session.pad.id) has a signature session; finish or cancel it first")
        }
        Task {
            for await event in events { self.forward(id, event) }
        }
        let snapshot = SignatureSessionSnapshot(
            id: id, device: session.pad.id, pad: session.pad, state: .capturing, createdAt: Date(),
            samples: 0, lostReports: 0, attachments: [])
        entries[id] = Entry(session: session, snapshot: snapshot, style: style, document: request.document)
        // Answered as started once its line is on disk (the actor serves others meanwhile).
        if let journal { await journal.synced(journal.record(snapshot)) }
        observer.sessionStarted(snapshot)
        return snapshot
    }

    /// A session now; with `samples`, its samples too.
    public func snapshot(_ id: String, samples: Bool = false) throws(DeviceHubError) -> SignatureSessionSnapshot {
        if entries[id] == nil, let earlier = restored[id] { return earlier }
        guard let entry = entries[id] else { throw notHeld(id) }
        var snapshot = refreshed(entry)
        if samples { snapshot.sampleData = entry.session.snapshot.samples }
        return snapshot
    }

    /// Live events: first the state, then points (batched by the pad's reader, at most every 10 ms), clears, and the end.
    public func subscribe(_ id: String) throws(DeviceHubError) -> AsyncStream<SignatureStreamEvent> {
        let (stream, continuation) = AsyncStream<SignatureStreamEvent>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        if entries[id] == nil, let earlier = restored[id] {
            continuation.yield(.state(earlier))
            continuation.yield(.ended(earlier))
            continuation.finish()
            return stream
        }
        guard let entry = entries[id] else { throw notHeld(id) }
        let snapshot = refreshed(entry)
        continuation.yield(.state(snapshot))
        if snapshot.state != .capturing {
            continuation.finish()
            return stream
        }
        let token = UUID()
        entries[id]!.subscribers[token] = continuation
        continuation.onTermination = { _ in Task { await self.unsubscribe(id, token) } }
        return stream
    }

    /// Clears the ink (pad screen and samples).
    public func clear(_ id: String) async throws(DeviceHubError) -> SignatureSessionSnapshot {
        let session = try capturing(id)
        let result = await BlockingCalls.shared.run { () throws(SignaturePadError) in try session.clear() }
        try result.get()
        return try snapshot(id)
    }

    /// Ends the capture and stores the four attachments. A session with no ink yet is refused with
    /// `no_ink` and keeps capturing; a failed or cancelled one answers with why it ended.
    public func finish(_ id: String) async throws(DeviceHubError) -> SignatureSessionSnapshot {
        guard let entry = entries[id] else { throw notHeld(id) }
        let current = refreshed(entry)
        switch current.state {
        case .finished where !current.attachments.isEmpty:
            return current
        case .failed, .cancelled:
            throw DeviceHubError(.sessionFinished, current.error.map { "the session failed (\($0.code)): \($0.message)" } ?? "the session was cancelled")
        case .capturing where !entry.finishing && entry.session.snapshot.state == .capturing && entry.session.partialSignature().inkBounds == nil:
            throw DeviceHubError(.noInk, "the signature has no ink yet: let the citizen sign, or cancel the session")
        default:
            break
        }
        guard !entry.finishing else { throw DeviceHubError(.sessionFinishing, "the session is being finished") }
        entries[id]?.finishing = true
        defer { entries[id]?.finishing = false }
        let session = entry.session, store = self.store, style = entry.style
        var toSign: (bytes: [UInt8], pages: Int, signer: any DocumentSigning, document: SignatureDocument)?
        if let document = entry.document {
            // Read again at the end: a document deleted while the citizen signed fails the session, and nothing is stored.
            do throws(DeviceHubError) {
                let (bytes, pages, signer) = try documentToSign(document)
                toSign = (bytes, pages, signer, document)
            } catch {
                session.cancel()
                end(id, state: .failed, error: SignaturePadError(error.code, "the document to sign: \(error.message); nothing was stored"))
                throw error
            }
        }
        let pdf = toSign
        let result = await BlockingCalls.shared.run { () throws(SignaturePadError) -> [AttachmentManifest] in
            let signature = try session.finish()
            guard signature.inkBounds != nil else { throw SignaturePadError(.noInk, "the session ended with no ink; nothing was stored") }
            guard let pdf else { return try SignatureOutputs(store: store, style: style).save(signature) }
            // Signed first: if the document cannot be signed, nothing of the session is stored.
            let record = try ISO19794Signature.encode(signature)
            let strokes: [UInt8]
            do { strokes = Array(try SignatureJSON.encode(signature)) } catch { throw SignaturePadError(.internal, "the stroke JSON: \(error)") }
            let name = "document \(pdf.document.attachment)"
            let signed = try pdf.signer.sign(
                pdf.bytes, placement: pdf.document.placement, ink: signature, evidence: SignatureEvidence(iso19794: record, strokes: strokes), name: name,
                time: Date())
            var manifests = try SignatureOutputs(store: store, style: style).save(signature)
            let placement = pdf.document.placement
            var settings = [
                "document.attachment": pdf.document.attachment, "document.page": String(placement.page),
                "document.rect": placement.rect.map { String($0) }.joined(separator: ","), "document.signature": signed.level,
            ]
            if let problem = signed.timestampProblem { settings["document.timestamp"] = "unavailable: \(problem)" }
            if let reason = placement.reason { settings["document.reason"] = reason }
            if let signer = placement.name { settings["document.name"] = signer }
            do throws(AttachmentError) {
                manifests.append(
                    try store.store(
                        signed.bytes,
                        metadata: AttachmentMetadata(
                            kind: .signedDocument, format: .pdf, pages: pdf.pages, device: signature.device,
                            capturedAt: signature.capturedAt, settings: settings)))
            } catch {
                for manifest in manifests { try? store.delete(id: manifest.id) }
                throw SignaturePadError(error.code, "storing the signed document failed: \(error.message)")
            }
            return manifests
        }
        do throws(SignaturePadError) {
            let manifests = try result.get()
            entries[id]?.snapshot.attachments = manifests
            end(id, state: .finished, error: nil)
        } catch {
            // No ink here means the session had ended by itself (its timeout): it fails, saying so.
            end(id, state: .failed, error: error.code == .noInk ? SignaturePadError(.timeout, "the session timed out with no ink; nothing was stored") : error)
            throw error
        }
        return try snapshot(id)
    }

    /// The document to sign and what signs it, checked: the attachment is a PDF whose plaintext is here, the signer
    /// has a key and certificate, the page and rectangle are on it.
    private func documentToSign(_ document: SignatureDocument) throws(DeviceHubError) -> ([UInt8], Int, any DocumentSigning) {
        guard let signer = documentSigner else {
            throw DeviceHubError(
                .invalidValue, "this service signs no documents: it needs a counter key with a certificate ([seal] key and certificate)")
        }
        let manifest = try store.manifest(id: document.attachment)
        guard manifest.format == .pdf else {
            throw DeviceHubError(.invalidDocument, "attachment \(document.attachment) is \(manifest.format.rawValue); a document to sign is a PDF")
        }
        if try store.isSealedOnly(id: document.attachment) {
            throw DeviceHubError(.sealedOnly, "attachment \(document.attachment) is sealed for the back office and its plaintext is no longer kept")
        }
        guard let data = FileManager.default.contents(atPath: try store.fileURL(id: document.attachment).path) else {
            throw DeviceHubError(.notFound, "attachment \(document.attachment) cannot be read")
        }
        let bytes = [UInt8](data)
        // A signature adds a revision, never a page: the count checked here is the signed document's too.
        let pages = try signer.check(document.placement, in: bytes, name: "document \(document.attachment)")
        return (bytes, pages, signer)
    }

    /// Cancels a capturing session (the pad is released); a finished one is left as it is.
    public func cancel(_ id: String) throws(DeviceHubError) -> SignatureSessionSnapshot {
        guard let entry = entries[id] else { throw notHeld(id) }
        guard entry.snapshot.state == .capturing else {
            throw DeviceHubError(.sessionFinished, "the session has already \(entry.snapshot.state.rawValue)")
        }
        entry.session.cancel()
        end(id, state: .cancelled, error: nil)
        return try snapshot(id)
    }

    /// Cancels every capturing session (service shutdown).
    public func shutdown() {
        for (id, entry) in entries where entry.snapshot.state == .capturing {
            entry.session.cancel()
            end(id, state: .cancelled, error: nil)
        }
    }

    private func capturing(_ id: String) throws(DeviceHubError) -> SignatureSession {
        guard let entry = entries[id] else { throw notHeld(id) }
        guard entry.session.snapshot.state == .capturing else {
            throw DeviceHubError(.sessionFinished, "the session has already \(entry.session.snapshot.state.rawValue)")
        }
        return entry.session
    }

    private func refreshed(_ entry: Entry) -> SignatureSessionSnapshot {
        var snapshot = entry.snapshot
        let live = entry.session.snapshot
        snapshot.samples = live.samples.count
        snapshot.lostReports = live.lostReports
        // A session the pad ended as finished (its timeout) is reported finished only once its attachments are
        // stored (`end`), so a client never sees "finished" without them; a failure or cancel shows at once.
        if snapshot.state == .capturing, live.state == .failed || live.state == .cancelled {
            snapshot.state = live.state
            snapshot.error = live.error
        }
        return snapshot
    }

    private func forward(_ id: String, _ event: SignatureEvent) {
        guard let entry = entries[id] else { return }
        switch event {
        case .samples(let batch):
            entries[id]?.pendingPoints += batch
            let due = entry.lastFlush + .milliseconds(10)
            if ContinuousClock.now >= due {
                flushPoints(id)
            } else if !entry.flushScheduled {
                entries[id]?.flushScheduled = true
                Task {
                    try? await Task.sleep(until: due, clock: .continuous)
                    self.flushPoints(id)
                }
            }
        case .cleared:
            entries[id]?.pendingPoints = []
            broadcast(id, .cleared)
        case .ended(let state, let error):
            // Finishing through the API stores the attachments there; a timeout finishes (and stores) here;
            // an unplug or a cancel ends the session as it is.
            guard entry.snapshot.state == .capturing else { return }
            if state == .finished && error == nil {
                if !entry.finishing { Task { _ = try? await self.finish(id) } }
            } else {
                end(id, state: state, error: error)
            }
        }
    }

    private func end(_ id: String, state: SignatureSession.State, error: SignaturePadError?) {
        guard var entry = entries[id], entry.snapshot.state == .capturing || (state == .finished && entry.snapshot.finishedAt == nil) else { return }
        entry.snapshot = refreshed(entry)
        entry.snapshot.state = state
        entry.snapshot.finishedAt = Date()
        if let error { entry.snapshot.error = error }
        entries[id] = entry
        flushPoints(id)
        journal?.record(entry.snapshot)
        observer.sessionEnded(entry.snapshot)
        broadcast(id, .ended(entry.snapshot))
        for continuation in entry.subscribers.values { continuation.finish() }
        entries[id]?.subscribers = [:]
        finishedOrder.append(id)
        while finishedOrder.count > limits.retainedJobs { entries.removeValue(forKey: finishedOrder.removeFirst()) }
    }

    /// Sends the pending points as one `points` event.
    private func flushPoints(_ id: String) {
        guard var entry = entries[id] else { return }
        entry.flushScheduled = false
        guard !entry.pendingPoints.isEmpty else { entries[id] = entry; return }
        let points = entry.pendingPoints
        entry.pendingPoints = []
        entry.lastFlush = ContinuousClock.now
        entries[id] = entry
        broadcast(id, .points(points))
    }

    private func broadcast(_ id: String, _ event: SignatureStreamEvent) {
        guard let subscribers = entries[id]?.subscribers else { return }
        for continuation in subscribers.values { continuation.yield(event) }
    }

    private func unsubscribe(_ id: String, _ token: UUID) { entries[id]?.subscribers.removeValue(forKey: token) }
}
