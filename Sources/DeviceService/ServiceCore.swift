import Attachments
import Foundation
import Scanning

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

/// The service's parts and the logic behind the routes.
final class ServiceCore: Sendable {
    static let version = "0.1.0"

    let store: AttachmentStore
    let scanner: DocumentScanner
    let jobs: JobManager
    let directory: DeviceDirectory
    let metrics: ServiceMetrics
    private let startedAt = ContinuousClock.now

    init(store: AttachmentStore, scanner: DocumentScanner, limits: ServiceLimits) {
        let metrics = ServiceMetrics()
        self.store = store
        self.scanner = scanner
        self.metrics = metrics
        self.jobs = JobManager(limits: limits, metrics: metrics)
        self.directory = DeviceDirectory(scanner: scanner, metrics: metrics)
    }

    func health() -> Health {
        let elapsed = ContinuousClock.now - startedAt
        return Health(status: "ok", version: Self.version, pid: getpid(),
                      uptimeSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                      saneVersion: scanner.saneVersion)
    }

    func devices(refresh: Bool) async -> DeviceList {
        let found = await directory.list(refresh: refresh)
        var devices: [DeviceSummary] = []
        for info in found.scanners {
            devices.append(DeviceSummary(id: info.id, kind: .scanner, vendor: info.vendor, model: info.model, type: info.type,
                                         busy: await jobs.isBusy(info.id)))
        }
        return DeviceList(devices: devices, discoveredAt: found.discoveredAt, errors: found.errors)
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
            throw APIError(.conflict, "device_busy", "\(resolved) is busy and its options have not been read yet; retry when the job ends")
        }
        let summary = DeviceSummary(id: options.device.id, kind: .scanner, vendor: options.device.vendor, model: options.device.model,
                                    type: options.device.type, busy: await jobs.isBusy(resolved))
        return DeviceDetail(device: summary, capabilities: ScannerCapabilities(options), options: options.descriptors,
                            values: options.values, cached: cached)
    }

    func submitScan(_ request: ScanRequest, queue: Bool) async throws(APIError) -> JobSnapshot {
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
                throw JobError(code: error.code.rawValue, message: error.message)
            }
        }
    }

    func manifest(_ id: String) throws(APIError) -> AttachmentManifest {
        do throws(AttachmentError) { return try store.manifest(id: id) } catch {
            throw error.code == .invalidId ? APIError(.notFound, "not_found", "no attachment \(id)") : APIError(error)
        }
    }
}
