import Attachments
import Cameras
import Foundation
import Scanning
import SignaturePads
import SystemPackage

/// What a capture produced, the same whoever ran it: the device, the settings it used, the pages, the attachments.
public struct Capture: Sendable, Equatable {
    /// The device's id.
    public var device: String
    /// The settings actually used (normalized and vendor values).
    public var settings: [String: String]
    /// Pages captured (1 for a photo).
    public var pages: Int
    /// The stored attachments, in page order.
    public var attachments: [AttachmentManifest]

    /// Creates a capture.
    public init(device: String, settings: [String: String], pages: Int, attachments: [AttachmentManifest]) {
        self.device = device
        self.settings = settings
        self.pages = pages
        self.attachments = attachments
    }
}

/// What counter software asks of its devices, one interface whoever serves it: ``LocalDeviceHub`` opens the devices in
/// this process, the device service's `ServiceDeviceHub` asks a running `counterkit serve` over its socket, and
/// `FakeDeviceHub` (the DeviceHubTesting library) answers from memory for an integrator's own tests. The `counterkit` CLI programs against it, so a
/// command behaves the same either way. Errors are `CounterKitError`s with the one vocabulary's codes.
public protocol DeviceHub: Sendable {
    /// Where the attachments live, for people ("/var/spool/counterkit", "the service at /run/counterkit/api.sock").
    var location: String { get }
    /// Every device, in one schema; `refresh` discovers anew.
    func devices(refresh: Bool) async throws -> DeviceList
    /// A scanner's capabilities and every backend option.
    func scanner(_ id: String) async throws -> DeviceDetail
    /// A camera's formats and controls.
    func camera(_ id: String) async throws -> CameraDetail
    /// Scans, reporting the job's progress; cancelling the calling task cancels the scan and stores nothing. By
    /// default a job (``submit(_:queue:)``) followed to its end.
    func scan(_ request: ScanRequest, progress: @escaping @Sendable (CaptureProgress) -> Void) async throws -> Capture
    /// Takes a photo; cancelling the calling task cancels it. By default a job followed to its end.
    func photo(_ request: PhotoRequest) async throws -> Capture
    /// Whether ``scan(_:progress:)`` and ``photo(_:)`` wait behind another job on their device (a service, which
    /// several programs share) rather than fail `device_busy` (a hub in this process). False by default.
    var queuesCaptures: Bool { get }

    /// Starts a capture as a job on its device's lane and returns it at once, queued or running: with `queue` it waits
    /// behind a running job, else a busy device is `device_busy`. Invalid settings are refused here, before any job.
    func submit(_ request: JobRequest, queue: Bool) async throws -> JobSnapshot
    /// The jobs the hub knows: queued, running, and those that ended recently.
    func jobs() async throws -> [JobSnapshot]
    /// A job as it is now (`job_not_found` for an unknown id).
    func job(_ id: String) async throws -> JobSnapshot
    /// A job's events: its state first, then progress, pages and live rows as they come, and last its final event
    /// (`completed`, `failed` or `cancelled`). A slow reader's progress and rows coalesce; a page or the end is never
    /// dropped. Ending the iteration unsubscribes.
    func jobEvents(_ id: String) async throws -> AsyncThrowingStream<JobEvent, any Error>
    /// Cancels a queued or running job: `cancelling` until its device is released, then `cancelled`; a job that has
    /// ended is returned as it ended.
    func cancelJob(_ id: String) async throws -> JobSnapshot
    /// Copies an attachment's bytes to `path`, never half-written (a temp file beside it, then a rename).
    func export(_ attachment: AttachmentManifest, to path: String) async throws
    /// Streams a camera for `duration` and counts the frames it delivers (nothing is stored).
    func measureFrameRate(_ request: PhotoRequest, duration: Duration) async throws -> FrameRateMeasurement
    /// A camera's live picture, one JPEG per frame, shared with any other viewer of the camera; ending the iteration
    /// leaves. A photo taken while the camera streams comes from the running stream.
    func preview(_ request: PreviewRequest) async throws -> AsyncThrowingStream<PreviewFrame, any Error>

    /// Stores a PDF for a citizen to sign (kind `upload`) once it is checked to be a sound, open PDF
    /// (`invalid_document` otherwise): sign it with a session whose request names it (`SignatureRequest.document`).
    func storeDocument(_ pdf: [UInt8]) async throws -> AttachmentManifest
    /// Opens a pad and starts a signature session on it; `device_busy` when a session already holds the pad.
    func startSignature(_ request: SignatureRequest) async throws -> SignatureSessionSnapshot
    /// The session's live events: its state first, then points, clears, and its end (the stream's last event).
    func signatureEvents(_ id: String) async throws -> AsyncThrowingStream<SignatureStreamEvent, any Error>
    /// A session now; with `samples`, every sample too.
    func signature(_ id: String, samples: Bool) async throws -> SignatureSessionSnapshot
    /// Clears the ink (the pad's screen and the samples); the session goes on.
    func clearSignature(_ id: String) async throws -> SignatureSessionSnapshot
    /// Ends the capture and stores the PNG, SVG, ISO 19794-7 and JSON attachments (`no_ink` while there is none).
    func finishSignature(_ id: String) async throws -> SignatureSessionSnapshot
    /// Cancels a capturing session and releases its pad; nothing is stored.
    func cancelSignature(_ id: String) async throws -> SignatureSessionSnapshot
}

/// The job loop every hub shares: submit, follow to the end, cancel with the caller.
extension DeviceHub {
    public var queuesCaptures: Bool { false }

    public func scan(_ request: ScanRequest, progress: @escaping @Sendable (CaptureProgress) -> Void) async throws -> Capture {
        try await capture(.scan(request), progress: progress)
    }

    public func photo(_ request: PhotoRequest) async throws -> Capture {
        try await capture(.photo(request))
    }

    /// Runs a capture as a job and returns what it stored, handing its progress to `progress`. Cancelling the calling
    /// task cancels the job and still waits until it has ended (its device released, nothing stored); a job that fails
    /// or is cancelled throws its error.
    public func capture(_ request: JobRequest, progress: @escaping @Sendable (CaptureProgress) -> Void = { _ in }) async throws -> Capture {
        // Submitted in a task of its own, so that a job the hub accepted is always known here (a cancelled caller's
        // request abandoned mid-flight could leave a job running unseen); the wait for its end likewise, so that the
        // caller's cancellation cancels the job, not the wait.
        let queue = queuesCaptures
        let job = try await Task { try await submit(request, queue: queue) }.value
        let ended = try await withTaskCancellationHandler {
            try await Task { try await follow(job.id, progress: progress) }.value
        } onCancel: {
            Task { _ = try? await cancelJob(job.id) }
        }
        guard ended.state == .completed else {
            throw DeviceHubError(ended.error?.code ?? .cancelled, ended.error?.message ?? "the job ended as \(ended.state.rawValue)")
        }
        return Capture(device: ended.device, settings: ended.settings ?? [:], pages: ended.pages, attachments: ended.attachments)
    }

    /// Waits until a job has ended and returns it as it ended.
    public func waitUntilFinished(_ id: String) async throws -> JobSnapshot {
        try await follow(id) { _ in }
    }

    /// Follows a job's events to its end, handing each new progress to `progress` (whatever event shows it: a slow
    /// reader's progress coalesces, and a short job may show its only progress in its first or last event); a stream
    /// that ends before the job does (a service that stopped) is answered by asking for the job once more.
    private func follow(_ id: String, progress: @Sendable (CaptureProgress) -> Void) async throws -> JobSnapshot {
        var last: CaptureProgress?
        for try await event in try await jobEvents(id) {
            if let update = event.job.progress, update != last {
                last = update
                progress(update)
            }
            if event.isFinal || event.job.state.isFinished { return event.job }
        }
        return try await job(id)
    }
}

/// The DeviceHub family's errors: a `CounterKitError` raised by the hub itself (its `family` is `.deviceHub`); a
/// device's own error passes through the hub unchanged.
public typealias DeviceHubError = CounterKitError

/// Copies of attachments that are never half-written, all made by one rule: an output file is a new file of the
/// user's (mode 0666 less the umask, 0644 with the usual umask 022), whether the hub is local or the service's; the
/// spool's own files stay 0640.
public enum AttachmentExport {
    /// The temp name beside `path` that an output is written under before its rename (`.NAME.PID.part`), cleared.
    public static func temporaryPath(for path: String) -> String {
        let target = URL(fileURLWithPath: path)
        let temp = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(getpid()).part").path
        unlink(temp)
        return temp
    }

    /// Creates an output's temp file (mode 0666 less the umask) and returns its descriptor.
    package static func createOutput(_ temp: String) throws(DeviceHubError) -> FileDescriptor {
        try systemCall(.ioError, "cannot create \(temp)") {
            try FileDescriptor.openClosingOnExec(
                temp, .writeOnly, options: [.create, .exclusiveCreate], permissions: [.ownerReadWrite, .groupReadWrite, .otherReadWrite])
        }
    }

    /// Renames the finished temp file `temp` to `path`; on failure removes it and says why.
    package static func commit(_ temp: String, to path: String) throws(DeviceHubError) {
        do throws(Errno) { try renameFile(temp, to: path) } catch {
            unlink(temp)
            throw DeviceHubError(.ioError, "cannot write \(path)", error)
        }
    }

    /// Publishes the stored file at `storedPath` as `path`: copied under a temp name beside `path`, then renamed into place.
    public static func publish(_ storedPath: String, at path: String) throws {
        let temp = temporaryPath(for: path)
        do throws(DeviceHubError) {
            let source = try systemCall(.ioError, "cannot read \(storedPath)") { try FileDescriptor.openClosingOnExec(storedPath, .readOnly) }
            defer { try? source.close() }
            let target = try createOutput(temp)
            defer { try? target.close() }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let count = try systemCall(.ioError, "cannot read \(storedPath)") { try buffer.withUnsafeMutableBytes { try source.read(into: $0) } }
                if count == 0 { break }
                _ = try systemCall(.ioError, "cannot write \(path)") {
                    try buffer.withUnsafeBytes { try target.writeAll(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
                }
            }
        } catch {
            unlink(temp)
            throw error
        }
        try commit(temp, to: path)
    }
}
