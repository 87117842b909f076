import Attachments
import Cameras
import CounterKitCore
import DocumentImaging
import Foundation
import Scanning
import SignaturePads
import Synchronization

/// The devices of this machine, opened in this process: the one owner of discovery (a `DeviceCatalog`), of
/// per-device exclusivity and queues (a `JobManager` lane per scanner and camera, a `SignatureSessions` entry per
/// pad), and of the attachments captures make. `counterkit serve` answers its routes from one; the CLI, the
/// self-tests and an integrator's app use one when no service runs.
///
/// ```swift
/// let hub = LocalDeviceHub(store: try AttachmentStore(directory: spool))
/// let capture = try await hub.scan(ScanRequest(mode: .color, resolution: 300, format: .pdf)) { print($0.linesDone) }
/// ```
public final class LocalDeviceHub: DeviceHub {
    /// The store captures go to.
    public let store: AttachmentStore
    /// The scanner front-end (its worker and timeouts).
    package let scanner: SANEScanner
    /// The camera front-end.
    package let camera: PhotoCamera
    /// The discovery.
    package let catalog: DeviceCatalog
    /// Scan and photo jobs: one running per device, a bounded queue behind it.
    package let jobs: JobManager
    /// Signature sessions: one per pad.
    package let signatures: SignatureSessions
    /// Camera previews: one stream per camera, any number of viewers.
    package let streams: SharedCameraStreams
    /// The bounds it keeps.
    public let limits: HubLimits
    /// What signs documents citizens sign at the pad; nil: none are signed.
    let documentSigner: (any DocumentSigning)?
    /// Default backend options per scanner id; a request's own options win over them.
    public let deviceOptions: [String: [String: String]]

    /// A hub over `store`, scanning through `scanner` (default: a scanner over the same store) and finding cameras with
    /// `cameras`; `observer` hears of jobs and devices (metrics); `openPad` opens signature pads (USB by default);
    /// `journal` keeps jobs and sessions across restarts (the service's; none by default); `previewLinger` is how long
    /// a camera stays open after its last preview viewer leaves.
    public init(
        store: AttachmentStore, scanner: SANEScanner? = nil, cameras: CameraDiscovery = CameraDiscovery(),
        limits: HubLimits = HubLimits(), deviceOptions: [String: [String: String]] = [:],
        observer: any DeviceHubObserver = IgnoringObserver(), openPad: PadOpener? = nil,
        journal: JobJournal? = nil, previewLinger: Duration = .seconds(2), documentSigner: (any DocumentSigning)? = nil
    ) {
        self.documentSigner = documentSigner
        self.store = store
        self.scanner = scanner ?? SANEScanner(store: store)
        self.camera = PhotoCamera(store: store, discovery: cameras)
        self.limits = limits
        self.deviceOptions = deviceOptions
        self.catalog = DeviceCatalog(
            scanner: self.scanner, cameras: cameras, counted: { kind, count in observer.devicesPresent(kind, count) },
            changed: { observer.devicesChanged($0) })
        self.jobs = JobManager(limits: limits, observer: observer, journal: journal)
        self.streams = SharedCameraStreams(jobs: jobs, linger: previewLinger, observer: observer)
        if let openPad {
            self.signatures = SignatureSessions(
                store: store, limits: limits, observer: observer, openPad: openPad, journal: journal, documentSigner: documentSigner)
        } else {
            self.signatures = SignatureSessions(store: store, limits: limits, observer: observer, journal: journal, documentSigner: documentSigner)
        }
    }

    /// Opens a signature pad (`nil`: the first one found) with its driver: USB by default; a test passes its own.
    public typealias PadOpener = @Sendable (String?) throws(SignaturePadError) -> (transport: HIDTransport, driver: PadDriver)

    public var location: String { store.directory.path }

    /// Tells discovery that a pad came or went (the service's hotplug watch), so the device list follows at once.
    public func padChanged(_ change: USBHotplugMonitor.Change) async { await catalog.padChanged(change) }

    /// Starts a rediscovery that does not hold up the caller (the service's periodic refresh).
    public func refreshDevicesInBackground() async { await catalog.refreshInBackground() }

    // MARK: Devices

    public func devices(refresh: Bool) async throws -> DeviceList {
        let found = await catalog.snapshot(refresh: refresh)
        return found.list(busy: await busyDevices())
    }

    /// The devices a job, an options read or a signature session holds now.
    public func busyDevices() async -> Set<String> {
        await jobs.busyDevices().union(await signatures.padsInUse().keys)
    }

    /// Whether `id` (an id or a device path) names a camera discovery knows.
    public func isCamera(_ id: String) async -> Bool { await catalog.knownCamera(id) != nil }

    /// Reads the scanner's options while it is free (holding it meanwhile); while a job holds it, the options as last
    /// read (`cached`), or `device_busy` when they never were.
    public func scanner(_ id: String) async throws -> DeviceDetail {
        let resolved = try await catalog.resolveScanner(id)
        guard let result = await readOptions(resolved) else {
            guard let remembered = await catalog.cachedOptions(resolved) else {
                throw DeviceHubError(.deviceBusy, "\(resolved) is busy and its options have not been read yet; retry when the job ends")
            }
            return DeviceDetail(remembered, busy: true, cached: true)
        }
        let options = try result.get()
        // Busy as seen now: the reservation has been released, so a job may hold the device again.
        return DeviceDetail(options, busy: await jobs.isBusy(resolved), cached: false)
    }

    public func camera(_ id: String) async throws -> CameraDetail {
        guard let node = await catalog.knownCamera(id) else { throw DeviceHubError(.deviceNotFound, "no camera '\(id)'") }
        let discovery = camera.discovery
        let info = try await BlockingCalls.shared.run { () throws(CameraError) in try discovery.resolve(node.path) }.get()
        return CameraDetail(node: node, camera: info, busy: await jobs.isBusy(node.id))
    }

    // MARK: Jobs

    public func submit(_ request: JobRequest, queue: Bool) async throws -> JobSnapshot {
        switch request {
        case let .scan(scan, document): try await submitScan(scan, document: document, queue: queue)
        case let .photo(photo, document): try await submitPhoto(photo, document: document, queue: queue)
        }
    }

    public func jobs() async -> [JobSnapshot] { await jobs.jobs() }

    public func job(_ id: String) async throws -> JobSnapshot { try await jobs.job(id) }

    public func jobEvents(_ id: String) async throws -> AsyncThrowingStream<JobEvent, any Error> {
        // Read on demand, not forwarded into a buffer: the subscriber's own queue coalesces progress and rows for a
        // slow reader, and a buffer in between would read them all at once and defeat it.
        AsyncThrowingStream(readingOnDemand: try await jobs.subscribe(id))
    }

    public func cancelJob(_ id: String) async throws -> JobSnapshot { try await jobs.cancel(id) }

    /// Starts a scan job on its scanner's lane (the device's configured defaults under the request's own options);
    /// `queue` lets it wait behind a running job, else a busy scanner is `device_busy`.
    ///
    /// With `document`, the pages go through the document stages (crop, clean, colour, blank pages, size limit) before
    /// they are stored: each page goes from the scanner into memory and through the stages as it ends, and the job's
    /// attachments are what the stages make (nothing is written and read back on the way).
    private func submitScan(_ request: ScanRequest, document: DocumentOptions?, queue: Bool) async throws(DeviceHubError) -> JobSnapshot {
        try limits.requireRoom(in: store)
        let finishing = try Self.finishing(document, format: request.format.rawValue, quality: request.quality ?? 85, source: .scanner)
        var scan = request
        scan.device = try await catalog.resolveScanner(request.device)
        scan = scan.withDeviceDefaults(deviceOptions[scan.device!] ?? [:])
        // Refused now with the error the scan would end with, rather than accepted as a job bound to fail.
        if let options = await optionsForPreflight(scan.device!) {
            try ScanPreflight.check(scan, against: options)
        }
        let scanner = self.scanner
        let work: JobWork = { [scan] reporter async throws(JobError) in
            let reported: @Sendable (ScanProgress) -> Void = { update in
                // The page is the job's before its `page` event, so that the event's snapshot lists it (not a page
                // captured for the document stages, which is not what the job will hand out).
                if let page = update.pageAttachment, finishing == nil { reporter.attachment(page) }
                reporter.progress(update.capture)
            }
            var rows: (@Sendable (ScanRowsBand) -> Void)?
            if scan.live != nil { rows = { (band: ScanRowsBand) in reporter.rows(band) } }
            let result: ScanResult
            // The stages' pages, made on the scan's thread as each page ends (so a feeder batch holds its processed
            // pages, not every raw one), read once the scan is over.
            let processed = Mutex<[ProcessedPage]>([]), capturedAt = Date()
            do throws(ScanError) {
                if let finishing {
                    result = try await scanner.scanPages(scan, progress: reported, rows: rows) { page throws(ScanError) in
                        let done = try finishing.process(try DocumentImage(rows: page.rows, of: page.image))
                        processed.withLock { $0.append(done) }
                    }
                } else {
                    result = try await scanner.scan(scan, progress: reported, rows: rows)
                }
            } catch {
                throw await self.explained(error, device: scan.device!)
            }
            guard let finishing else { return JobOutcome(pages: result.pages, settings: result.settings, attachments: result.attachments) }
            let store = self.store, pages = processed.withLock { $0 }
            let finished = try await BlockingCalls.shared.run { () throws(JobError) in
                try finishing.store(pages, kind: .scan, settings: result.settings, capturedAt: capturedAt, device: scan.device, in: store)
            }.get()
            return JobOutcome(pages: result.pages, settings: result.settings, attachments: finished)
        }
        return try await jobs.submit(kind: .scan, device: scan.device!, queue: queue, liveRows: scan.live != nil, work: work)
    }

    /// A scan's failure as the counter should hear it: an I/O error from a scanner that discovery no longer finds is
    /// `device_disconnected` (it was pulled out, or lost power), and the hub then looks for it until it is back.
    private func explained(_ error: ScanError, device: String) async -> JobError {
        guard error.code == .ioError || error.code == .backendCrashed || error.code == .deviceNotFound else {
            return error
        }
        guard !(await catalog.snapshot(refresh: true).scanners.contains { $0.id == device }) else {
            return error
        }
        watchForReturn(device)
        return JobError(
            .deviceDisconnected,
            "\(device) was disconnected during the scan (\(error.code.rawValue): \(error.message)); "
                + "nothing was kept, and it is listed again when it comes back")
    }

    /// Rediscovers every few seconds, for up to an hour, until `device` is found again (it then shows in the list).
    private func watchForReturn(_ device: String) {
        let catalog = self.catalog
        Task {
            for _ in 0..<1200 {
                try? await Task.sleep(for: .seconds(3))
                if await catalog.snapshot(refresh: true).scanners.contains(where: { $0.id == device }) { return }
            }
        }
    }

    /// The scanner's options as last read, or read now while it is free (then remembered); nil when they cannot be had
    /// without waiting (the scan itself will then say what is wrong).
    private func optionsForPreflight(_ device: String) async -> DeviceOptions? {
        if let cached = await catalog.cachedOptions(device) { return cached }
        return try? await readOptions(device)?.get()
    }

    /// Reads a scanner's options holding its lane meanwhile, and remembers them; nil while a job holds the scanner.
    private func readOptions(_ device: String) async -> Result<DeviceOptions, ScanError>? {
        guard await jobs.reserve(device) else { return nil }
        let scanner = self.scanner
        let result = await BlockingCalls.shared.run { () throws(ScanError) in try scanner.options(device: device) }
        await jobs.release(device)
        if let options = try? result.get() { await catalog.remember(options) }
        return result
    }

    /// Starts a photo job on its camera's lane: one capture per camera at a time, like scans per scanner. On a camera
    /// that is streaming a preview, the photo comes from the running stream instead (no `device_busy`, no warm-up).
    /// With `document`, the photo goes through the document stages (find and flatten the page, clean, colour, size
    /// limit) before it is stored.
    private func submitPhoto(_ request: PhotoRequest, document: DocumentOptions?, queue: Bool) async throws(DeviceHubError) -> JobSnapshot {
        try limits.requireRoom(in: store)
        let finishing = try Self.finishing(document, format: request.format.rawValue, quality: request.quality ?? 90, source: .camera)
        let store = self.store
        /// With document stages, the photo is taken into memory and goes through the stages into the store once.
        @Sendable func finished(_ photo: PhotoImage, capturedAt: Date, finishing: DocumentFinishing) async throws(JobError) -> JobOutcome {
            let stored = try await BlockingCalls.shared.run { () throws(JobError) in
                let page = try finishing.process(try DocumentImage(rows: photo.pixels.rows, of: photo.pixels.image))
                return try finishing.store([page], kind: .photo, settings: photo.settings, capturedAt: capturedAt, device: photo.device, in: store)
            }.get()
            return JobOutcome(pages: 1, settings: photo.settings, attachments: stored)
        }
        let node = try await catalog.resolveCamera(request.device)
        var photo = request
        photo.device = node.path
        let camera = self.camera, streams = self.streams
        if let stream = await streams.lease(node.id) {
            do {
                return try await jobs.submit(kind: .photo, device: node.id, queue: queue, onLane: false) { [photo] reporter async throws(JobError) in
                    defer { Task { await streams.release(node.id) } }
                    reporter.progress(.photo(stage: "streaming", framesReceived: 0))
                    if let finishing {
                        return try await finished(try await stream.photoImage(photo), capturedAt: Date(), finishing: finishing)
                    }
                    let result = try await stream.photo(photo)
                    return JobOutcome(pages: 1, settings: result.settings, attachments: [result.attachment])
                }
            } catch {
                await streams.release(node.id)
                throw error
            }
        }
        return try await jobs.submit(kind: .photo, device: node.id, queue: queue) { [photo] reporter async throws(JobError) in
            if let finishing {
                return try await finished(try await camera.captureImage(photo) { reporter.progress($0) }, capturedAt: Date(), finishing: finishing)
            }
            let result = try await camera.capture(photo) { reporter.progress($0) }
            return JobOutcome(pages: 1, settings: result.settings, attachments: [result.attachment])
        }
    }

    /// The document stages for a capture in `format`, when asked for; invalid options and formats the stages cannot
    /// write are refused before the capture.
    static func finishing(
        _ options: DocumentOptions?, format: String, quality: Int,
        source: PageSource
    ) throws(DeviceHubError) -> DocumentFinishing? {
        guard let options else { return nil }
        try options.validate()
        guard let output = DocumentFileFormat(rawValue: format) else {
            throw DeviceHubError(.invalidValue, "document processing writes jpeg, png or pdf, not \(format)")
        }
        return DocumentFinishing(options: options, source: source, format: output, quality: quality)
    }

    public func preview(_ request: PreviewRequest) async throws -> AsyncThrowingStream<PreviewFrame, any Error> {
        try await watchPreview(request).frames
    }

    /// A camera's preview with the stream it shares (its camera, size and format).
    public func watchPreview(
        _ request: PreviewRequest
    ) async throws(DeviceHubError) -> (stream: CameraStream, frames: AsyncThrowingStream<PreviewFrame, any Error>) {
        try request.validate()
        let node = try await catalog.resolveCamera(request.device)
        return try await streams.watch(node.id, path: node.path, camera: camera, request: request)
    }

    public func export(_ attachment: AttachmentManifest, to path: String) async throws {
        try AttachmentExport.publish(try store.fileURL(id: attachment.id).path, at: path)
    }

    /// Counts frames while holding the camera's lane (`device_busy` while a photo runs).
    public func measureFrameRate(_ request: PhotoRequest, duration: Duration) async throws -> FrameRateMeasurement {
        let node = try await catalog.resolveCamera(request.device)
        guard await jobs.reserve(node.id) else { throw DeviceHubError(.deviceBusy, "\(node.id) is busy with a photo; retry when it ends") }
        var request = request
        request.device = node.path
        let streamed = request, camera = self.camera
        let result = await BlockingCalls.shared.run { () throws(CameraError) in try camera.measureFrameRate(streamed, duration: duration) }
        await jobs.release(node.id)
        return try result.get()
    }

    // MARK: Signatures

    public func storeDocument(_ pdf: [UInt8]) async throws -> AttachmentManifest {
        guard let documentSigner else {
            throw DeviceHubError(.invalidValue, "this hub signs no documents: it needs a counter key with a certificate")
        }
        let store = self.store, limits = self.limits
        return try await BlockingCalls.shared.run { () throws(CounterKitError) -> AttachmentManifest in
            try Self.storeUpload(pdf, pages: try documentSigner.pageCount(of: pdf, name: "the document"), in: store, limits: limits)
        }.get()
    }

    /// Stores a checked PDF of `pages` pages as an `upload` attachment (what the service's `POST /v1/attachments` and
    /// `storeDocument(_:)` keep).
    package static func storeUpload(_ pdf: [UInt8], pages: Int, in store: AttachmentStore, limits: HubLimits) throws(CounterKitError) -> AttachmentManifest {
        try limits.requireRoom(in: store)
        return try store.store(pdf, metadata: AttachmentMetadata(kind: .upload, format: .pdf, pages: pages, settings: ["upload.pages": String(pages)]))
    }

    public func startSignature(_ request: SignatureRequest) async throws -> SignatureSessionSnapshot {
        try await signatures.create(request)
    }

    public func signatureEvents(_ id: String) async throws -> AsyncThrowingStream<SignatureStreamEvent, any Error> {
        AsyncThrowingStream(readingOnDemand: try await signatures.subscribe(id))
    }

    public func signature(_ id: String, samples: Bool) async throws -> SignatureSessionSnapshot {
        try await signatures.snapshot(id, samples: samples)
    }

    public func clearSignature(_ id: String) async throws -> SignatureSessionSnapshot { try await signatures.clear(id) }

    public func finishSignature(_ id: String) async throws -> SignatureSessionSnapshot { try await signatures.finish(id) }

    public func cancelSignature(_ id: String) async throws -> SignatureSessionSnapshot { try await signatures.cancel(id) }

    /// Cancels every job and session and waits for their devices to be released (at shutdown).
    public func shutdown() async {
        await streams.shutdown()
        await jobs.shutdown()
        await signatures.shutdown()
    }
}

extension AsyncThrowingStream where Failure == any Error {
    /// A stream that reads `events` only when its consumer asks for the next element: no buffer in between, so the
    /// source's own policy (a job subscriber's coalescing of progress and rows) holds for a slow reader.
    init<Events: AsyncSequence & Sendable>(readingOnDemand events: Events) where Events.Element == Element {
        let reader = OnDemandReader(events.makeAsyncIterator())
        self.init(unfolding: { try await reader.next() })
    }
}

/// An iterator read by one consumer at a time: `AsyncThrowingStream(unfolding:)` asks for the next element only once
/// the last one was taken, so the iterator is never used by two tasks at once.
private final class OnDemandReader<Iterator: AsyncIteratorProtocol>: @unchecked Sendable {
    private var iterator: Iterator

    init(_ iterator: Iterator) { self.iterator = iterator }

    func next() async throws -> Iterator.Element? { try await iterator.next() }
}
