import Attachments
import Cameras
import DeviceHub
import Foundation
import Scanning
import SignaturePads
import Synchronization

/// A device hub that answers from memory, for an integrator's own tests: the devices it is given, captures made of
/// synthetic pages (real JPEG, PNG, PNM or PDF files in the store, with manifests and SHA-256, as real captures have),
/// scripted failures with real codes, and a record of what was asked. A signature session on its pad is signed at once
/// (a synthetic stroke) and stores the four real signature files when finished. No hardware, no worker process.
///
/// ```swift
/// let hub = FakeDeviceHub(store: try AttachmentStore(directory: temporaryDirectory))
/// hub.failNext(on: "fake:scanner", with: DeviceHubError(.jammed, "paper jam"))
/// await #expect(throws: DeviceHubError(.jammed, "paper jam")) { try await myApp.scanApplication(using: hub) }
/// ```
public final class FakeDeviceHub: DeviceHub {
    /// A scanner and a camera, as the fake lists them by default.
    public static let defaultDevices = [
        DeviceSummary(id: "fake:scanner", kind: .scanner, vendor: "CounterKit", model: "Fake scanner", type: "flatbed scanner"),
        DeviceSummary(id: "fake:camera", kind: .camera, vendor: "CounterKit", model: "Fake camera", type: "video camera"),
        DeviceSummary(id: "fake:pad", kind: .signaturePad, vendor: "CounterKit", model: "Fake pad", type: "signature pad"),
    ]

    /// Where the synthetic captures are stored.
    public let store: AttachmentStore
    /// The devices it lists.
    public let deviceList: [DeviceSummary]
    private let state = Mutex<FakeState>(FakeState())

    private struct FakeState {
        var failures: [String: DeviceHubError] = [:]
        var scans: [ScanRequest] = []
        var photos: [PhotoRequest] = []
        var signatures: [SignatureRequest] = []
        var sessions: [String: SignatureSessionSnapshot] = [:]
        var samples: [String: [PenSample]] = [:]
        var styles: [String: SignatureStyle] = [:]
        var watchers: [String: [AsyncThrowingStream<SignatureStreamEvent, any Error>.Continuation]] = [:]
        var jobs: [String: JobSnapshot] = [:]
        var jobOrder: [String] = []
    }

    /// A fake over `store` listing `devices`.
    public init(store: AttachmentStore, devices: [DeviceSummary] = FakeDeviceHub.defaultDevices) {
        self.store = store
        self.deviceList = devices
    }

    /// The next capture on `device` fails with `error` (and only the next).
    public func failNext(on device: String, with error: DeviceHubError) { state.withLock { $0.failures[device] = error } }

    /// The scan requests received, in order.
    public var scanRequests: [ScanRequest] { state.withLock { $0.scans } }

    /// The photo requests received, in order.
    public var photoRequests: [PhotoRequest] { state.withLock { $0.photos } }

    /// The signature requests received, in order.
    public var signatureRequests: [SignatureRequest] { state.withLock { $0.signatures } }

    public var location: String { store.directory.path }

    public func devices(refresh: Bool) async throws -> DeviceList {
        DeviceList(devices: deviceList, discoveredAt: Date(), errors: [])
    }

    public func scanner(_ id: String) async throws -> DeviceDetail {
        throw DeviceHubError(.deviceNotFound, "the fake hub lists devices but describes none in detail ('\(id)')")
    }

    public func camera(_ id: String) async throws -> CameraDetail {
        throw DeviceHubError(.deviceNotFound, "the fake hub lists devices but describes none in detail ('\(id)')")
    }

    public func scan(_ request: ScanRequest, progress: @escaping @Sendable (CaptureProgress) -> Void) async throws -> Capture {
        let device = try resolve(request.device, kind: .scanner)
        state.withLock { $0.scans.append(request) }
        try takeFailure(device)
        try request.validate()
        let resolution = request.resolution ?? ScanRequest.defaultResolution
        let pages = request.source == .adf || request.source == .duplex ? (request.maxPages ?? 2) : 1
        let mode = request.mode ?? ScanRequest.defaultMode
        let format: PixelFormat = mode == .color ? .rgb8 : .gray8
        // A 2x3 inch page at the asked resolution, at most 600x900 pixels: small, but a real image.
        let width = min(600, max(8, Int(2 * resolution))), height = min(900, max(8, Int(3 * resolution)))
        let image = ImageDescription(format: format, width: width, height: height, dpi: resolution)
        let settings = [
            "mode": mode.rawValue, "resolution": String(Int(resolution)), "source": (request.source ?? .flatbed).rawValue,
            "fake": "true",
        ]
        var attachments: [AttachmentManifest] = []
        do {
            if request.format == .pdf {
                attachments = [
                    try store(kind: .scan, format: .pdf, image: image, pages: pages, device: device, settings: settings) { page in
                        progress(
                            CaptureProgress(
                                page: page, bytesReceived: 0, linesDone: height, linesExpected: height, fraction: 1,
                                pagesDone: page, pagesExpected: pages))
                    }
                ]
            } else {
                for page in 1...pages {
                    try Task.checkCancellation()
                    let fileFormat: AttachmentFormat =
                        switch request.format {
                        case .png: .png;
                        case .pnm: .pnm;
                        default: .jpeg
                        }
                    attachments.append(
                        try store(
                            kind: .scan, format: fileFormat, image: image, pages: 1, device: device,
                            settings: settings.merging(["page": String(page)]) { $1 }
                        ) { _ in })
                    progress(
                        CaptureProgress(
                            page: page, bytesReceived: 0, linesDone: height, linesExpected: height, fraction: 1,
                            pagesDone: page, pagesExpected: pages))
                }
            }
        } catch {
            for manifest in attachments { try? store.delete(id: manifest.id) }
            if error is CancellationError { throw DeviceHubError(.cancelled, "the scan was cancelled") }
            throw error
        }
        return Capture(device: device, settings: settings, pages: pages, attachments: attachments)
    }

    public func photo(_ request: PhotoRequest) async throws -> Capture {
        let device = try resolve(request.device, kind: .camera)
        state.withLock { $0.photos.append(request) }
        try takeFailure(device)
        let size = request.size ?? FrameSize(width: 640, height: 480)
        let image = ImageDescription(format: .rgb8, width: size.width, height: size.height, dpi: 72)
        let settings = ["size": "\(size.width)x\(size.height)", "fake": "true"]
        let manifest = try store(
            kind: .photo, format: request.format == .png ? .png : .jpeg, image: image, pages: 1, device: device,
            settings: settings
        ) { _ in }
        return Capture(device: device, settings: settings, pages: 1, attachments: [manifest])
    }

    // MARK: Jobs

    /// Captures at once (a fake's captures take no time) and keeps the job as it ended: completed with its
    /// attachments, or failed with the scripted error. The document stages are not run; the request is recorded.
    public func submit(_ request: JobRequest, queue: Bool) async throws -> JobSnapshot {
        let started = Date()
        let kind: JobKind, device: String?
        switch request {
        case let .scan(scan, _): (kind, device) = (.scan, scan.device)
        case let .photo(photo, _): (kind, device) = (.photo, photo.device)
        }
        var job = JobSnapshot(
            id: UUID().uuidString.lowercased(), kind: kind, device: device ?? "", state: .completed, createdAt: started,
            startedAt: started, pages: 0, attachments: [])
        do {
            let capture =
                switch request {
                case let .scan(scan, _): try await self.scan(scan) { _ in }
                case let .photo(photo, _): try await self.photo(photo)
                }
            (job.device, job.pages, job.settings, job.attachments) = (capture.device, capture.pages, capture.settings, capture.attachments)
        } catch let error as CounterKitError {
            // Refused before a job would exist (an unknown device, invalid settings) as the real hubs refuse them.
            guard error.code != .deviceNotFound, error.code != .invalidValue, error.code != .unsupportedOption else { throw error }
            (job.state, job.error) = (error.code == .cancelled ? .cancelled : .failed, error)
        }
        job.finishedAt = Date()
        let ended = job
        state.withLock {
            $0.jobs[ended.id] = ended; $0.jobOrder.append(ended.id)
        }
        return ended
    }

    public func jobs() async throws -> [JobSnapshot] {
        state.withLock { state in state.jobOrder.compactMap { state.jobs[$0] } }
    }

    public func job(_ id: String) async throws -> JobSnapshot {
        guard let job = state.withLock({ $0.jobs[id] }) else { throw DeviceHubError(.jobNotFound, "no job \(id)") }
        return job
    }

    /// The job's state, then its final event (every fake job has ended by the time it is known).
    public func jobEvents(_ id: String) async throws -> AsyncThrowingStream<JobEvent, any Error> {
        let job = try await self.job(id)
        let final: JobEvent.Name =
            switch job.state {
            case .completed: .completed
            case .cancelled: .cancelled
            default: .failed
            }
        return AsyncThrowingStream { continuation in
            continuation.yield(JobEvent(name: .state, job: job))
            continuation.yield(JobEvent(name: final, job: job))
            continuation.finish()
        }
    }

    /// A job that has ended, as it ended.
    public func cancelJob(_ id: String) async throws -> JobSnapshot { try await job(id) }

    public func export(_ attachment: AttachmentManifest, to path: String) async throws {
        try AttachmentExport.publish(try store.fileURL(id: attachment.id).path, at: path)
    }

    /// A steady 30 frames per second of the asked size (nothing is streamed).
    public func measureFrameRate(_ request: PhotoRequest, duration: Duration) async throws -> FrameRateMeasurement {
        let device = try resolve(request.device, kind: .camera)
        try takeFailure(device)
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return FrameRateMeasurement(
            pixelFormat: request.pixelFormat ?? FourCC("MJPG")!, size: request.size ?? FrameSize(width: 640, height: 480),
            nominalFramesPerSecond: 30, frames: Int(seconds * 30) + 1, flaggedFrames: 0, seconds: seconds)
    }

    /// Frames of the asked size (default 640x480) at the asked rate (default 15 per second): a gray picture whose
    /// brightness steps with the frame number, compressed by libjpeg-turbo, until the iteration ends.
    public func preview(_ request: PreviewRequest) async throws -> AsyncThrowingStream<PreviewFrame, any Error> {
        _ = try resolve(request.device, kind: .camera)
        try request.validate()
        let size = request.size ?? PreviewRequest.defaultSize
        let interval = Duration.milliseconds(Int(1000 / (request.framesPerSecond ?? 15)))
        let encoder = try JPEGMemoryEncoder(quality: request.quality ?? 80)
        let (frames, continuation) = AsyncThrowingStream<PreviewFrame, any Error>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let producer = Task { [encoder = UncheckedBox(encoder)] in
            var sequence = 0
            var pixels = [UInt8](repeating: 0, count: size.width * size.height)
            while !Task.isCancelled {
                sequence += 1
                for index in pixels.indices { pixels[index] = UInt8(truncatingIfNeeded: sequence * 8) }
                guard
                    let jpeg = try? pixels.withUnsafeBytes({ bytes throws(AttachmentError) in
                        try encoder.value.encode(bytes, format: .gray8, width: size.width, height: size.height)
                    })
                else { break }
                continuation.yield(PreviewFrame(jpeg: jpeg, width: size.width, height: size.height, sequence: sequence, passthrough: false))
                try? await Task.sleep(for: interval)
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in producer.cancel() }
        return frames
    }

    /// Stores the PDF as an `upload` as it comes: the fake reads no PDF (a real hub checks it with qpdf first); one that
    /// does not begin with `%PDF-` is `invalid_document`.
    public func storeDocument(_ pdf: [UInt8]) async throws -> AttachmentManifest {
        guard pdf.starts(with: Array("%PDF-".utf8)) else { throw DeviceHubError(.invalidDocument, "the document is not a PDF") }
        return try store.store(pdf, metadata: AttachmentMetadata(kind: .upload, format: .pdf))
    }

    /// The pad of the fake "signs" at once: a synthetic stroke, its points sent as the session's first events.
    public func startSignature(_ request: SignatureRequest) async throws -> SignatureSessionSnapshot {
        try request.validate()
        let device = try resolve(request.device, kind: .signaturePad)
        state.withLock { $0.signatures.append(request) }
        try takeFailure(device)
        let pad = PadDescription(
            id: device, driver: "fake", model: "Fake pad", vendorID: 0, productID: 0, areaWidth: 100, areaHeight: 50,
            maxPressure: 1023, reportRate: 200)
        // A loop across the pad, pen down for 400 reports (2 s at 200 reports per second), then lifted.
        let samples = (0...400).map { index -> PenSample in
            let t = Double(index) / 400
            return PenSample(
                time: Double(index) * 5, x: 10 + 80 * t, y: 25 + 15 * sin(t * 4 * .pi), pressure: 0.6,
                inRange: true, touching: index < 400)
        }
        let snapshot = SignatureSessionSnapshot(
            id: UUID().uuidString.lowercased(), device: device, pad: pad, state: .capturing, createdAt: Date(),
            samples: samples.count, lostReports: 0, attachments: [])
        return try state.withLock { state throws(DeviceHubError) in
            guard !state.sessions.values.contains(where: { $0.device == device && $0.state == .capturing }) else {
                throw DeviceHubError(.deviceBusy, "\(device) has a signature session; finish or cancel it first")
            }
            state.sessions[snapshot.id] = snapshot
            state.samples[snapshot.id] = samples
            state.styles[snapshot.id] = request.style
            return snapshot
        }
    }

    public func signatureEvents(_ id: String) async throws -> AsyncThrowingStream<SignatureStreamEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<SignatureStreamEvent, any Error>.makeStream()
        try state.withLock { state throws(DeviceHubError) in
            guard let session = state.sessions[id] else { throw DeviceHubError(.sessionNotFound, "no signature session \(id)") }
            continuation.yield(.state(session))
            guard session.state == .capturing else { return continuation.finish() }
            continuation.yield(.points(state.samples[id] ?? []))
            state.watchers[id, default: []].append(continuation)
        }
        return stream
    }

    public func signature(_ id: String, samples: Bool) async throws -> SignatureSessionSnapshot {
        try state.withLock { state throws(DeviceHubError) in
            guard var session = state.sessions[id] else { throw DeviceHubError(.sessionNotFound, "no signature session \(id)") }
            if samples { session.sampleData = state.samples[id] }
            return session
        }
    }

    public func clearSignature(_ id: String) async throws -> SignatureSessionSnapshot {
        try capturing(id)
        state.withLock { state in
            state.samples[id] = []
            state.sessions[id]?.samples = 0
            for watcher in state.watchers[id] ?? [] { watcher.yield(.cleared) }
        }
        return try await signature(id, samples: false)
    }

    public func finishSignature(_ id: String) async throws -> SignatureSessionSnapshot {
        let session = try capturing(id)
        let (samples, style) = state.withLock { ($0.samples[id] ?? [], $0.styles[id] ?? SignatureStyle()) }
        guard samples.contains(where: \.touching) else {
            throw DeviceHubError(.noInk, "the signature has no ink yet: let the citizen sign, or cancel the session")
        }
        let signature = Signature(
            device: session.device, model: session.pad.model, areaWidth: session.pad.areaWidth,
            areaHeight: session.pad.areaHeight, capturedAt: session.createdAt, samples: samples)
        let attachments = try SignatureOutputs(store: store, style: style).save(signature)
        return end(id, .finished) { $0.attachments = attachments }
    }

    public func cancelSignature(_ id: String) async throws -> SignatureSessionSnapshot {
        try capturing(id)
        return end(id, .cancelled) { _ in }
    }

    @discardableResult
    private func capturing(_ id: String) throws(DeviceHubError) -> SignatureSessionSnapshot {
        let session = try state.withLock { state throws(DeviceHubError) in
            guard let session = state.sessions[id] else { throw DeviceHubError(.sessionNotFound, "no signature session \(id)") }
            return session
        }
        guard session.state == .capturing else { throw DeviceHubError(.sessionFinished, "the session has already \(session.state.rawValue)") }
        return session
    }

    private func end(_ id: String, _ ending: SignatureSession.State, _ change: (inout SignatureSessionSnapshot) -> Void) -> SignatureSessionSnapshot {
        state.withLock { state in
            var session = state.sessions[id]!
            session.state = ending
            session.finishedAt = Date()
            change(&session)
            state.sessions[id] = session
            for watcher in state.watchers.removeValue(forKey: id) ?? [] {
                watcher.yield(.ended(session))
                watcher.finish()
            }
            return session
        }
    }

    private func resolve(_ requested: String?, kind: DeviceKind) throws(DeviceHubError) -> String {
        guard let device = deviceList.first(where: { $0.kind == kind && (requested == nil || $0.id == requested) }) else {
            throw DeviceHubError(.deviceNotFound, requested.map { "no \(kind.rawValue) '\($0)'" } ?? "no \(kind.rawValue) found")
        }
        return device.id
    }

    private func takeFailure(_ device: String) throws(DeviceHubError) {
        if let failure = state.withLock({ $0.failures.removeValue(forKey: device) }) { throw failure }
    }

    /// A gradient image (colour or gray) encoded into the store as `format`; PDFs get `pages` pages.
    private func store(
        kind: AttachmentKind, format: AttachmentFormat, image: ImageDescription, pages: Int, device: String,
        settings: [String: String], pageDone: (Int) -> Void
    ) throws -> AttachmentManifest {
        let pending = try store.begin()
        do {
            func writeRows(_ encoder: RowEncoder) throws {
                let channels = image.format.channels
                var row = [UInt8](repeating: 0, count: image.width * channels)
                for y in 0..<image.height {
                    for x in 0..<image.width {
                        for c in 0..<channels { row[x * channels + c] = UInt8(truncatingIfNeeded: (x * (c + 1) + y * (3 - c)) / 3) }
                    }
                    try row.withUnsafeBytes { try encoder.write(row: $0) }
                }
                try encoder.finish()
            }
            switch format {
            case .pdf:
                let pdf = try PDFWriter(output: pending.file, title: "fake scan")
                for page in 1...pages {
                    try writeRows(try pdf.beginPage(image: image, compression: .jpeg(JPEGOptions(quality: 85))))
                    pageDone(page)
                }
                try pdf.finish()
            case .png: try writeRows(try ImageFileFormat.png(.default).makeEncoder(image: image, output: pending.file))
            case .pnm: try writeRows(try ImageFileFormat.pnm.makeEncoder(image: image, output: pending.file))
            default: try writeRows(try ImageFileFormat.jpeg(JPEGOptions(quality: 85)).makeEncoder(image: image, output: pending.file))
            }
            return try store.commit(
                pending,
                metadata: AttachmentMetadata(
                    kind: kind, format: format, pixelWidth: image.width, pixelHeight: image.height, dpi: image.dpi,
                    pages: format == .pdf ? pages : nil, device: device, settings: settings))
        } catch {
            store.discard(pending)
            throw error
        }
    }
}

/// A value handed to the one task that uses it from then on.
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
