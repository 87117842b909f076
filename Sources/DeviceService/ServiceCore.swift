import Attachments
import Cameras
import Diagnostics
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

/// `GET /v1/devices/{id}`: the device, its normalized capabilities and every backend option.
struct DeviceDetail: Codable, Sendable {
    var device: DeviceSummary
    var capabilities: ScannerCapabilities
    var options: [OptionDescriptor]
    var values: [String: String]
    /// True when the options come from the cache because a job holds the device.
    var cached: Bool
}

/// `GET /v1/devices/{id}` for a camera: the device and everything the driver offers, read live
/// (reading formats and controls does not disturb a capture in progress).
struct CameraDetail: Codable, Sendable {
    var device: DeviceSummary
    var camera: CameraInfo
}

/// The service's parts and the logic behind the routes.
final class ServiceCore: Sendable {
    static let version = CounterKitVersion.current

    let store: AttachmentStore
    let scanner: DocumentScanner
    let camera: PhotoCamera
    let jobs: JobManager
    let signatures: SignatureSessions
    let directory: DeviceDirectory
    let metrics: ServiceMetrics
    let limits: ServiceLimits
    private let startedAt = ContinuousClock.now

    /// Where the service listens, once bound (for the diagnostics report).
    let listening = NIOLockedValueBox<String>("its sockets")

    init(store: AttachmentStore, scanner: DocumentScanner, camera: PhotoCamera, limits: ServiceLimits) {
        let metrics = ServiceMetrics()
        self.store = store
        self.scanner = scanner
        self.camera = camera
        self.metrics = metrics
        self.limits = limits
        self.jobs = JobManager(limits: limits, metrics: metrics)
        self.signatures = SignatureSessions(store: store, limits: limits, metrics: metrics)
        self.directory = DeviceDirectory(scanner: scanner, cameras: camera.discovery, metrics: metrics)
    }

    func health() -> Health {
        let elapsed = ContinuousClock.now - startedAt
        return Health(status: "ok", version: Self.version, pid: getpid(),
                      uptimeSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                      saneVersion: scanner.saneVersion)
    }

    func devices(refresh: Bool) async -> DeviceList {
        let found = await directory.list(refresh: refresh)
        let busy = await jobs.busyDevices()
        var devices = found.scanners.map {
            DeviceSummary(id: $0.id, kind: .scanner, vendor: $0.vendor, model: $0.model, type: $0.type, busy: busy.contains($0.id))
        }
        devices += found.cameras.map { summary($0, busy: busy.contains($0.id)) }
        for pad in found.pads {
            let model = STU.model(vendorID: pad.vendorID, productID: pad.productID)
            devices.append(DeviceSummary(id: pad.id, kind: .signaturePad, vendor: pad.manufacturer ?? (model != nil ? "Wacom" : "USB"),
                                         model: pad.product ?? model?.name ?? "HID digitizer",
                                         type: model != nil ? "signature pad (Wacom STU)" : "signature pad (HID digitizer)",
                                         busy: await signatures.isBusy(pad.id)))
        }
        return DeviceList(devices: devices, discoveredAt: found.discoveredAt, errors: found.errors)
    }

    private func summary(_ camera: CameraNode, busy: Bool) -> DeviceSummary {
        DeviceSummary(id: camera.id, kind: .camera, vendor: camera.manufacturer ?? camera.driver, model: camera.card,
                      type: "video camera", busy: busy)
    }

    /// A camera's detail, read live; nil when no camera has this id or path.
    func cameraDetail(_ id: String) async throws(APIError) -> CameraDetail? {
        guard let node = await directory.knownCamera(id) else { return nil }
        let discovery = camera.discovery
        let described = await offThread { () throws(CameraError) in try discovery.resolve(node.path) }
        do throws(CameraError) {
            let info = try described.get()
            return CameraDetail(device: summary(node, busy: await jobs.isBusy(node.id)), camera: info)
        } catch {
            throw APIError(error)
        }
    }

    func device(_ id: String) async throws(APIError) -> DeviceDetail {
        let resolved = try await directory.resolveScanner(id)
        let options: DeviceOptions
        var cached = false
        if await jobs.reserve(resolved) {
            let scanner = self.scanner
            let result = await offThread { () throws(ScanError) in try scanner.options(device: resolved) }
            await jobs.release(resolved)
            do throws(ScanError) { options = try result.get() } catch { throw APIError(error) }
            await directory.remember(options)
        } else if let remembered = await directory.cachedOptions(resolved) {
            options = remembered
            cached = true
        } else {
            throw APIError(.deviceBusy, "\(resolved) is busy and its options have not been read yet; retry when the job ends")
        }
        // Busy as seen now: the reservation above has been released, so a job may hold the device again.
        let busy = cached ? true : await jobs.isBusy(resolved)
        let summary = DeviceSummary(id: options.device.id, kind: .scanner, vendor: options.device.vendor, model: options.device.model,
                                    type: options.device.type, busy: busy)
        return DeviceDetail(device: summary, capabilities: ScannerCapabilities(options), options: options.descriptors,
                            values: options.values, cached: cached)
    }

    func submitScan(_ request: ScanRequest, queue: Bool) async throws(APIError) -> JobSnapshot {
        try limits.requireRoom(in: store)
        var request = request
        request.device = try await directory.resolveScanner(request.device)
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
        let node = try await directory.resolveCamera(request.device)
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
