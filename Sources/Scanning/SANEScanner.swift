import Attachments
import CounterKitCore
import Foundation
import Synchronization

/// A scan's progress as the scanner reports it: the capture's progress (pages, lines, bytes: the same value a job
/// shows, read through as `progress.page`, `progress.fraction`…), with the worker's pid and, as a page ends, the page
/// just stored.
@dynamicMemberLookup
public struct ScanProgress: Sendable, Equatable {
    /// Pages, lines and bytes.
    public var capture: CaptureProgress
    /// The worker process running the backend.
    public var workerPID: Int32
    /// The page just stored, on the report sent as a page ends (image formats only: a PDF is stored when the scan
    /// ends). A page is kept as soon as it is whole, so that a caller can hand it on while the feeder goes on.
    public var pageAttachment: AttachmentManifest?

    /// Creates a progress report: `page` (1-based) being scanned, `bytesReceived` over all pages, `linesDone` of
    /// `linesExpected` (nil: unknown height) on the current frame, `pagesDone` finished of `pagesExpected` (1 from a
    /// flatbed, `maxPages` from a feeder, nil: until it is empty).
    public init(
        page: Int, bytesReceived: Int, linesDone: Int, linesExpected: Int?, workerPID: Int32, pagesDone: Int = 0,
        pagesExpected: Int? = nil
    ) {
        let fraction = linesExpected.map { $0 > 0 ? min(1, Double(linesDone) / Double($0)) : 0 }
        capture = CaptureProgress(
            page: page, bytesReceived: bytesReceived, linesDone: linesDone, linesExpected: linesExpected,
            fraction: fraction, pagesDone: pagesDone, pagesExpected: pagesExpected)
        self.workerPID = workerPID
    }

    /// The capture's progress, read through (`progress.page`, `progress.fraction`).
    public subscript<Value>(dynamicMember keyPath: KeyPath<CaptureProgress, Value>) -> Value { capture[keyPath: keyPath] }
}

/// A finished scan.
public struct ScanResult: Sendable, Equatable {
    /// The scanner used.
    public var device: ScannerInfo
    /// The settings actually used, after normalization.
    public var settings: [String: String]
    /// Pages scanned.
    public var pages: Int
    /// The stored attachments: one per page, or one PDF.
    public var attachments: [AttachmentManifest]
}

/// A scanner's options as its backend describes them, with their current values.
public struct DeviceOptions: Sendable, Equatable, Codable {
    /// The scanner.
    public var device: ScannerInfo
    /// Every option descriptor, in the backend's order.
    public var descriptors: [OptionDescriptor]
    /// Each readable option's current value, as text.
    public var values: [String: String]
}

/// A cancel switch for a running scan (the one `CancellationToken` type); takes effect within a second.
public typealias ScanCancellation = CancellationToken

/// Scans through a worker process per session, streaming rows into the store.
public final class SANEScanner: Sendable {
    /// Where attachments go.
    public let store: AttachmentStore
    /// How the worker is started.
    public let worker: ScanWorkerLauncher
    /// A worker silent for longer than this is killed (`timeout`).
    public let idleTimeout: Duration
    /// Discovery is abandoned after this long (`timeout`).
    public let discoveryTimeout: Duration
    /// Bytes of the shared memory each scan's image data goes through (see `SharedRing`).
    let ringCapacity: Int
    private let cache = Mutex<[ScannerInfo]?>(nil)
    private let library = Mutex<String?>(nil)

    /// libsane's version as the worker reported it (after any worker command).
    public var saneVersion: String? { library.withLock { $0 } }

    /// Creates a scanner front end.
    public convenience init(
        store: AttachmentStore, worker: ScanWorkerLauncher = .locate(),
        idleTimeout: Duration = .seconds(60), discoveryTimeout: Duration = .seconds(15)
    ) {
        self.init(
            store: store, worker: worker, idleTimeout: idleTimeout, discoveryTimeout: discoveryTimeout,
            ringCapacity: SharedRing.defaultCapacity)
    }

    /// Creates a scanner front end whose scans go through a ring of `ringCapacity` bytes (tests use a
    /// small one, so that every scan wraps it and waits for room).
    init(store: AttachmentStore, worker: ScanWorkerLauncher, idleTimeout: Duration, discoveryTimeout: Duration, ringCapacity: Int) {
        self.store = store
        self.worker = worker
        self.idleTimeout = idleTimeout
        self.discoveryTimeout = discoveryTimeout
        self.ringCapacity = ringCapacity
    }

    /// The scanners present: cached after the first discovery unless `refresh`.
    public func devices(refresh: Bool = false) throws(ScanError) -> [ScannerInfo] {
        if !refresh, let cached = cache.withLock({ $0 }) { return cached }
        var found: [ScannerInfo] = []
        try run(WorkerCommand(action: .devices), timeout: discoveryTimeout) { (next) throws(ScanError) in
            if case .event(.devices(let list)) = next { found = list; return true }
            return false
        }
        cache.withLock { $0 = found }
        return found
    }

    /// The devices from the last discovery, without waiting (nil before the first).
    public var cachedDevices: [ScannerInfo]? { cache.withLock { $0 } }

    /// Every option of a scanner with its current value.
    public func options(device: String?) throws(ScanError) -> DeviceOptions {
        var result: DeviceOptions?
        try run(WorkerCommand(action: .options, device: device), timeout: idleTimeout) { (next) throws(ScanError) in
            if case .event(.options(let info, let descriptors, let values)) = next {
                result = DeviceOptions(device: info, descriptors: descriptors, values: values)
                return true
            }
            return false
        }
        guard let result else { throw ScanError(.backendCrashed, "the worker ended without listing options") }
        return result
    }

    /// Scans, blocking the calling thread until done; rows stream into the store as they arrive.
    /// With `request.live`, `rows` gets the page's rows shrunk for a live view, in bands at most every 100 ms.
    public func scan(
        _ request: ScanRequest, cancellation: ScanCancellation? = nil,
        progress: (@Sendable (ScanProgress) -> Void)? = nil,
        rows: (@Sendable (ScanRowsBand) -> Void)? = nil
    ) throws(ScanError) -> ScanResult {
        try scan(request, cancellation: cancellation, progress: progress, rows: rows, pages: nil)
    }

    /// Scans as `scan(_:cancellation:progress:rows:)` does; with `pages`, each page goes to `pages` in memory as it
    /// ends instead of into the store (the result lists no attachments).
    package func scan(
        _ request: ScanRequest, cancellation: ScanCancellation?, progress: (@Sendable (ScanProgress) -> Void)?,
        rows: (@Sendable (ScanRowsBand) -> Void)?, pages deliverPages: ((ScannedPage) throws(ScanError) -> Void)?
    ) throws(ScanError) -> ScanResult {
        try request.validate()
        var output: (any ScanDestination)?
        var assembler: FrameAssembler?
        var device = ScannerInfo(id: request.device ?? "", vendor: "", model: "", type: "")
        var settings: [String: String] = [:]
        var pages = 0
        var lastReport = ContinuousClock.now
        // The first rows of each page are reported at once (a caller learns the page has begun), later ones every 100 ms.
        var pageReported = false
        var workerPID: Int32 = 0
        var expected: Int?
        do throws(ScanError) {
            try run(
                WorkerCommand(action: .scan, request: request), timeout: request.idleTimeout.map { .milliseconds(Int($0 * 1000)) } ?? idleTimeout,
                cancellation: cancellation,
                started: { workerPID = $0 }
            ) { (next) throws(ScanError) in
                switch next {
                case .event(.applied(let info, let applied, let dpi)):
                    device = info
                    settings = applied
                    let out: any ScanDestination =
                        if let deliverPages { MemoryPages(deliver: deliverPages) } else {
                            ScanOutput(request: request, store: store, device: info.id, settings: applied)
                        }
                    output = out
                    assembler = FrameAssembler(sink: out, dpi: dpi, live: request.live, rows: rows)
                    let fromFeeder = applied["source"] == ScanSource.adf.rawValue || applied["source"] == ScanSource.duplex.rawValue
                    expected = fromFeeder ? request.maxPages : 1
                    progress?(
                        ScanProgress(
                            page: 1, bytesReceived: 0, linesDone: 0, linesExpected: nil, workerPID: workerPID,
                            pagesExpected: expected))
                case .event(.frame(let parameters)):
                    guard let assembler else { throw ScanError(.backendCrashed, "frame before settings") }
                    try assembler.beginFrame(parameters)
                case .data(let bytes):
                    guard let assembler else { throw ScanError(.backendCrashed, "data before settings") }
                    try assembler.consume(bytes)
                    if let progress, !pageReported || ContinuousClock.now - lastReport > .milliseconds(100) {
                        lastReport = ContinuousClock.now
                        pageReported = true
                        let rows = assembler.rowProgress
                        progress(
                            ScanProgress(
                                page: pages + 1, bytesReceived: assembler.bytesReceived,
                                linesDone: rows.done, linesExpected: rows.expected, workerPID: workerPID,
                                pagesDone: pages, pagesExpected: expected))
                    }
                case .event(.frameEnd):
                    try assembler?.endFrame()
                case .event(.pageEnd):
                    let rows = assembler?.rowProgress
                    try assembler?.endPage()
                    pages += 1
                    pageReported = false
                    var report = ScanProgress(
                        page: pages, bytesReceived: assembler?.bytesReceived ?? 0, linesDone: rows?.done ?? 0,
                        linesExpected: rows?.done, workerPID: workerPID, pagesDone: pages, pagesExpected: expected)
                    if request.format != .pdf { report.pageAttachment = output?.committed.last }
                    progress?(report)
                case .event(.done):
                    return true
                default:
                    break
                }
                return false
            }
            guard let output else { throw ScanError(.backendCrashed, "the worker ended before scanning") }
            let attachments = try output.finish()
            if let progress, let assembler {
                progress(
                    ScanProgress(
                        page: pages, bytesReceived: assembler.bytesReceived, linesDone: assembler.rowProgress.done,
                        linesExpected: assembler.rowProgress.done, workerPID: 0, pagesDone: pages, pagesExpected: pages))
            }
            return ScanResult(device: device, settings: settings, pages: pages, attachments: attachments)
        } catch {
            output?.abandon()
            // A cancelled scan stores nothing: a feeder's pages kept so far go too, and so do the pages of a scan whose
            // cancel won the race with its end (see `run`). A failed scan keeps the pages it finished.
            if error.code == .cancelled { output?.discardCommitted() }
            throw error
        }
    }

    /// Scans without blocking the caller's task; cancelling the task cancels the scan.
    public func scan(
        _ request: ScanRequest, progress: (@Sendable (ScanProgress) -> Void)? = nil,
        rows: (@Sendable (ScanRowsBand) -> Void)? = nil
    ) async throws(ScanError) -> ScanResult {
        let cancellation = ScanCancellation()
        let result: Result<ScanResult, ScanError> = await withTaskCancellationHandler {
            await BlockingCalls.shared.runOnOwnThread(named: "counterkit-scan") { () throws(ScanError) in
                try self.scan(request, cancellation: cancellation, progress: progress, rows: rows)
            }
        } onCancel: {
            cancellation.cancel()
        }
        return try result.get()
    }

    /// Scans without blocking the caller's task into memory: each page goes to `pages` as it ends; nothing is stored.
    package func scanPages(
        _ request: ScanRequest, progress: (@Sendable (ScanProgress) -> Void)? = nil, rows: (@Sendable (ScanRowsBand) -> Void)? = nil,
        pages: @escaping @Sendable (ScannedPage) throws(ScanError) -> Void
    ) async throws(ScanError) -> ScanResult {
        let cancellation = ScanCancellation()
        let result: Result<ScanResult, ScanError> = await withTaskCancellationHandler {
            await BlockingCalls.shared.runOnOwnThread(named: "counterkit-scan") { () throws(ScanError) in
                try self.scan(request, cancellation: cancellation, progress: progress, rows: rows, pages: pages)
            }
        } onCancel: {
            cancellation.cancel()
        }
        return try result.get()
    }

    /// Scans, as an `AsyncSequence`: `.progress` while rows arrive, then `.completed` with the result.
    /// Each iteration is one scan. Stopping the iteration early, or cancelling its task, cancels the scan and
    /// stores nothing (attachments of a scan that finished meanwhile are deleted); a failure is thrown as a `ScanError`.
    ///
    /// ```swift
    /// for try await update in scanner.updates(ScanRequest(mode: .color, resolution: 300, format: .pdf)) {
    ///     switch update {
    ///     case .progress(let progress): print("page", progress.page, progress.fraction ?? 0)
    ///     case .completed(let result): print(result.attachments.map(\.fileName))
    ///     }
    /// }
    /// ```
    public func updates(_ request: ScanRequest) -> CaptureUpdates<ScanProgress, ScanResult> {
        CaptureUpdates(
            undo: { [store] result in
                for attachment in result.attachments { try? store.delete(id: attachment.id) }
            },
            work: { progress in
                try await self.scan(request, progress: progress)
            })
    }

    /// Runs one worker command: feeds each frame to `handle` until it returns true.
    /// Bounds silence by `timeout`, honours cancellation within a second, and turns
    /// a worker that dies into `backend_crashed`.
    private func run(
        _ command: WorkerCommand, timeout: Duration, cancellation: ScanCancellation? = nil,
        started: (Int32) -> Void = { _ in },
        handle: (WorkerFrameReader.Next) throws(ScanError) -> Bool
    ) throws(ScanError) {
        let process = try WorkerProcess(launcher: worker, command: command, ringCapacity: ringCapacity)
        started(process.pid)
        let clock = ContinuousClock()
        var lastHeard = clock.now
        var cancelSentAt: ContinuousClock.Instant?
        while true {
            if let cancellation, cancellation.isCancelled {
                if let sent = cancelSentAt {
                    if clock.now - sent > .milliseconds(900) {
                        process.kill()
                        _ = process.waitForExit()
                        throw ScanError(.cancelled, "the scan was cancelled")
                    }
                } else {
                    process.requestCancel()
                    cancelSentAt = clock.now
                }
            }
            let next = try process.reader.next(pollMilliseconds: 50)
            switch next {
            case .idle:
                if clock.now - lastHeard > timeout {
                    process.kill()
                    _ = process.waitForExit()
                    throw ScanError(.timeout, "the scanner backend did not respond for \(timeout); its worker was stopped")
                }
            case .closed:
                let how = process.waitForExit()
                if cancelSentAt != nil { throw ScanError(.cancelled, "the scan was cancelled") }
                throw ScanError(.backendCrashed, "the scanner backend's worker \(how) before finishing")
            case .event(.failure(let error)):
                process.finish()
                throw error
            case .event(.library(let version)):
                lastHeard = clock.now
                library.withLock { $0 = version }
            default:
                lastHeard = clock.now
                if try handle(next) {
                    process.finish()
                    // A cancel asked for before the last frame was taken wins: the caller discards what was written.
                    if let cancellation, cancellation.isCancelled { throw ScanError(.cancelled, "the scan was cancelled") }
                    return
                }
            }
        }
    }
}
