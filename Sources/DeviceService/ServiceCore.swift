import Attachments
import Cameras
import DeviceHub
import Foundation
import NIOConcurrencyHelpers
import Scanning
import SignaturePads

/// `GET /v1/health`.
struct Health: Codable, Sendable {
    var status: String
    var version: String
    var pid: Int32
    var uptimeSeconds: Double
    var saneVersion: String?
}

/// The service's parts and the logic behind the routes.
final class ServiceCore: Sendable {
    static let version = CounterKitVersion.current

    let store: AttachmentStore
    let scanner: DocumentScanner
    let camera: PhotoCamera
    let jobs: JobManager
    let signatures: SignatureSessions
    let catalog: DeviceCatalog
    let metrics: ServiceMetrics
    let limits: ServiceLimits
    /// Default backend options per scanner id, from the configuration file.
    let deviceOptions: [String: [String: String]]
    private let startedAt = ContinuousClock.now

    /// Where the service listens, once bound (for the diagnostics report).
    let listening = NIOLockedValueBox<String>("its sockets")

    init(store: AttachmentStore, scanner: DocumentScanner, camera: PhotoCamera, limits: ServiceLimits,
         deviceOptions: [String: [String: String]] = [:]) {
        self.deviceOptions = deviceOptions
        let metrics = ServiceMetrics()
        self.store = store
        self.scanner = scanner
        self.camera = camera
        self.metrics = metrics
        self.limits = limits
        self.jobs = JobManager(limits: limits, metrics: metrics)
        self.signatures = SignatureSessions(store: store, limits: limits, metrics: metrics)
        self.catalog = DeviceCatalog(scanner: scanner, cameras: camera.discovery) { kind, count in metrics.devicesPresent(kind, count) }
    }

    func health() -> Health {
        let elapsed = ContinuousClock.now - startedAt
        return Health(status: "ok", version: Self.version, pid: getpid(),
                      uptimeSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                      saneVersion: scanner.saneVersion)
    }

    func devices(refresh: Bool) async -> DeviceList {
        let found = await catalog.snapshot(refresh: refresh)
        let busy = await jobs.busyDevices().union(await signatures.padsInUse().keys)
        return found.list(busy: busy)
    }

    /// A camera's detail, read live; nil when no camera has this id or path.
    func cameraDetail(_ id: String) async throws(APIError) -> CameraDetail? {
        guard let node = await catalog.knownCamera(id) else { return nil }
        let discovery = camera.discovery
        let described = await BlockingCalls.shared.run { () throws(CameraError) in try discovery.resolve(node.path) }
        do throws(CameraError) {
            let info = try described.get()
            return CameraDetail(node: node, camera: info, busy: await jobs.isBusy(node.id))
        } catch {
            throw APIError(error)
        }
    }

    func device(_ id: String) async throws(APIError) -> DeviceDetail {
        let resolved: String
        do throws(ScanError) { resolved = try await catalog.resolveScanner(id) } catch { throw APIError(error) }
        let options: DeviceOptions
        var cached = false
        if await jobs.reserve(resolved) {
            let scanner = self.scanner
            let result = await BlockingCalls.shared.run { () throws(ScanError) in try scanner.options(device: resolved) }
            await jobs.release(resolved)
            do throws(ScanError) { options = try result.get() } catch { throw APIError(error) }
            await catalog.remember(options)
        } else if let remembered = await catalog.cachedOptions(resolved) {
            options = remembered
            cached = true
        } else {
            throw APIError(.deviceBusy, "\(resolved) is busy and its options have not been read yet; retry when the job ends")
        }
        // Busy as seen now: the reservation above has been released, so a job may hold the device again.
        let busy = cached ? true : await jobs.isBusy(resolved)
        return DeviceDetail(options, busy: busy, cached: cached)
    }

    func submitScan(_ request: ScanRequest, queue: Bool) async throws(APIError) -> JobSnapshot {
        try limits.requireRoom(in: store)
        var request = request
        do throws(ScanError) { request.device = try await catalog.resolveScanner(request.device) } catch { throw APIError(error) }
        // The device's configured defaults first; the request's own options override them.
        request.options = (deviceOptions[request.device!] ?? [:]).merging(request.options) { _, own in own }
        let scanner = self.scanner
        let scan = request
        return try await jobs.submit(kind: .scan, device: scan.device!, queue: queue) { reporter async throws(JobError) in
            do throws(ScanError) {
                let result = try await scanner.scan(scan) { progress in
                    reporter.progress(JobProgress(page: progress.page, bytesReceived: progress.bytesReceived,
                                                  linesDone: progress.linesDone, linesExpected: progress.linesExpected,
                                                  fraction: progress.fraction))
                }
                return JobOutcome(pages: result.pages, settings: result.settings, attachments: result.attachments)
            } catch {
                throw JobError(code: error.code, message: error.message)
            }
        }
    }

    /// Queues or starts a photo on its camera's lane: one capture per camera at a time, like scans per scanner.
    func submitPhoto(_ request: PhotoRequest, queue: Bool) async throws(APIError) -> JobSnapshot {
        try limits.requireRoom(in: store)
        let node: CameraNode
        do throws(CameraError) { node = try await catalog.resolveCamera(request.device) } catch { throw APIError(error) }
        var photo = request
        photo.device = node.path
        let camera = self.camera
        return try await jobs.submit(kind: .photo, device: node.id, queue: queue) { [photo] reporter async throws(JobError) in
            do throws(CameraError) {
                let result = try await camera.capture(photo) { progress in
                    reporter.progress(JobProgress(page: 1, bytesReceived: 0, linesDone: 0, linesExpected: nil, fraction: nil,
                                                  stage: progress.stage, framesReceived: progress.framesReceived))
                }
                return JobOutcome(pages: 1, settings: result.settings, attachments: [result.attachment])
            } catch {
                throw JobError(code: error.code, message: error.message)
            }
        }
    }

    func manifest(_ id: String) throws(APIError) -> AttachmentManifest {
        do throws(AttachmentError) { return try store.manifest(id: id) } catch {
            throw error.code == .invalidId ? APIError(.notFound, "no attachment \(id)") : APIError(error)
        }
    }
}
