import Attachments
import Audit
import Cameras
import CounterKitCore
import DeviceHub
import Foundation
import Logging
import NIOConcurrencyHelpers
import Scanning
import SignaturePads
import SignedDocuments

/// `GET /v1/health`.
struct Health: Codable, Sendable {
    var status: String
    var version: String
    var pid: Int32
    var uptimeSeconds: Double
    var saneVersion: String?
}

/// The service's parts: the device hub that owns devices, jobs and sessions, its metrics and limits.
final class ServiceCore: Sendable {
    static let version = CounterKitVersion.current

    let hub: LocalDeviceHub
    let metrics: ServiceMetrics
    let limits: ServiceLimits
    /// The spool's audit log, when it is sealed.
    let audit: AuditLog?
    /// The counter key's certificate chain (PEM), when one is configured.
    let certificateChainPEM: String?
    private let logger: Logger
    private let startedAt = ContinuousClock.now

    /// Where the service listens, once bound (for the diagnostics report).
    let listening = NIOLockedValueBox<String>("its sockets")
    /// The eSCL root URL, once listening (nil: eSCL is not served).
    let escl = NIOLockedValueBox<String?>(nil)

    var store: AttachmentStore { hub.store }

    init(
        store: AttachmentStore, audit: AuditLog? = nil, journal: JobJournal? = nil, scanner: SANEScanner, cameras: CameraDiscovery, limits: ServiceLimits,
        deviceOptions: [String: [String: String]] = [:], previewLinger: Duration = .seconds(2), certificateChainPEM: String? = nil,
        documentSigner: (any DocumentSigning)? = nil, logger: Logger
    ) {
        let metrics = ServiceMetrics()
        self.audit = audit
        self.certificateChainPEM = certificateChainPEM
        self.logger = logger
        self.metrics = metrics
        self.limits = limits
        self.hub = LocalDeviceHub(
            store: store, scanner: scanner, cameras: cameras, limits: limits.hub, deviceOptions: deviceOptions,
            observer: ServiceObserver(metrics: metrics, logger: logger), journal: journal,
            previewLinger: previewLinger, documentSigner: documentSigner)
    }

    func health() -> Health {
        let elapsed = ContinuousClock.now - startedAt
        return Health(
            status: "ok", version: Self.version, pid: getpid(),
            uptimeSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            saneVersion: hub.scanner.saneVersion)
    }

    /// Runs a short blocking call (reading or hashing a spool file) off the cooperative pool.
    func onDeviceThread<T: Sendable>(_ work: @escaping @Sendable () throws(AttachmentError) -> T) async throws(AttachmentError) -> T {
        try await BlockingCalls.shared.run(work).get()
    }

    /// Appends to the audit log (a sealed spool's) off the pool; a failure is logged, never the request's.
    func audit(_ event: AuditEvent, attachment: String? = nil, detail: [String: String]) async {
        guard let audit else { return }
        let outcome = await BlockingCalls.shared.run { () throws(AttachmentError) in try audit.append(event, attachment: attachment, detail: detail) }
        if case .failure(let error) = outcome { logger.error("audit log: \(error.message)") }
    }

    /// Stores a document counter software wants signed (`POST /v1/attachments`): a sound, open PDF (qpdf checks it),
    /// kind `upload`; a bad one is `invalid_document` and nothing is stored.
    func storeUpload(_ bytes: [UInt8]) async throws(CounterKitError) -> AttachmentManifest {
        let store = store, limits = limits
        return try await onDeviceThread { () throws(CounterKitError) in
            try LocalDeviceHub.storeUpload(bytes, pages: try DocumentSigner.inspect(bytes, name: "the uploaded document"), in: store, limits: limits.hub)
        }
    }

    /// Every attachment with its integrity.
    func listedAttachments() async throws(AttachmentError) -> [ListedAttachment] {
        let store = store
        return try await onDeviceThread { () throws(AttachmentError) in
            try store.list().map { manifest throws(AttachmentError) in
                ListedAttachment(
                    manifest: manifest, integrity: try store.integrity(id: manifest.id),
                    sealedOnly: manifest.sealed == nil ? nil : try store.isSealedOnly(id: manifest.id))
            }
        }
    }

    /// `seal_invalid` naming what changed when attachment `id`'s files are not as committed: it is never served as valid.
    func requireIntact(_ id: String) async throws(AttachmentError) {
        let store = store
        let problem = try await onDeviceThread { () throws(AttachmentError) in try store.integrityProblem(id: id) }
        if let problem { throw AttachmentError(.sealInvalid, "attachment \(id) is not as it was stored: \(problem)") }
    }

    /// `sealed_only` when attachment `id`'s plaintext retention has ended: only its envelope is served.
    func requirePlaintext(_ id: String) throws(AttachmentError) {
        if try store.isSealedOnly(id: id) {
            throw AttachmentError(
                .sealedOnly,
                "attachment \(id)'s plaintext was removed after its retention ([seal] plaintext-retention); GET /v1/attachments/\(id)/sealed serves its envelope"
            )
        }
    }

    func manifest(_ id: String) throws(APIError) -> AttachmentManifest {
        do throws(AttachmentError) { return try store.manifest(id: id) } catch {
            throw error.code == .invalidId ? APIError(.notFound, "no attachment \(id)") : error
        }
    }
}
