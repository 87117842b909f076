import Attachments
import Audit
import Cameras
import DeviceHub
import ESCL
import Foundation
import Hummingbird
import Logging
import Scanning
import SignaturePads

/// How the service runs.
public struct ServiceConfiguration: Sendable {
    /// Where to listen. Empty means systemd's sockets when started by socket activation, else the default socket path.
    public var addresses: [ListenAddress]
    /// Mode and group of socket files the service creates.
    public var permissions: SocketPermissions
    /// Who may use the API beyond the socket's own permissions.
    public var access: AccessPolicy
    /// Connection, queue, body, subscriber and store limits.
    public var limits: ServiceLimits
    /// The attachment spool.
    public var spool: URL
    /// How long attachments are kept and how much space they may take.
    public var retention: RetentionPolicy
    /// How scan workers are started.
    public var scanWorker: ScanWorkerLauncher
    /// A scanner silent this long is abandoned (`timeout`).
    public var scanIdleTimeout: Duration
    /// Where cameras are looked for (`/dev/video*`).
    public var cameras: CameraDiscovery
    /// Default backend options per scanner id (the configuration file's `[devices."ID".options]`); a request's
    /// own options win over them.
    public var deviceOptions: [String: [String: String]] = [:]
    /// How much of the past the job journal (`journal/` in the spool) keeps across restarts.
    public var journal = JobJournal.Policy()
    /// eSCL for driverless clients (`--escl`); nil: not served.
    public var escl: ESCLConfiguration?
    /// The loopback bridge for web pages: the rules every TCP request meets (origins, tokens) and the console.
    public var bridge = BridgeConfiguration()
    /// Where paired origins' token hashes are kept (default: `bridge/pairings.json` in the spool).
    public var pairingsFile: URL?
    /// How long a camera stays open after its last preview viewer leaves, so the next viewer does not pay a reopen.
    public var previewLinger: Duration = .seconds(2)
    /// What signs every attachment's manifest when it is committed (`[seal] key`; the `Sealing` module's
    /// `CounterSealer`); nil: the spool is not sealed.
    public var signer: (any CounterSigning)?
    /// What encrypts every attachment's data for the back office (`[seal] recipient`; `Sealing`'s `EnvelopeRecipient`);
    /// nil: no envelopes. Its plaintext retention is `retention.plaintextMaxAge`.
    public var envelopes: (any EnvelopeSealing)?
    /// The counter key's certificate chain as PEM, the counter's certificate first (`[seal] certificate`, or `seal.crt`
    /// beside the key): served at `GET /v1/seal/certificate`; nil: none configured.
    public var certificateChainPEM: String?
    /// What signs the documents citizens sign at the pad (`POST /v1/signatures` with `document`): the counter key with
    /// its certificate (`SignedDocuments`' `DocumentSigner`); nil: sessions with a document are refused.
    public var documentSigner: (any DocumentSigning)?

    /// Creates a configuration.
    public init(
        addresses: [ListenAddress] = [], permissions: SocketPermissions = .default, access: AccessPolicy = .open,
        limits: ServiceLimits = ServiceLimits(), spool: URL, retention: RetentionPolicy = .default,
        scanWorker: ScanWorkerLauncher = .locate(), scanIdleTimeout: Duration = .seconds(60),
        cameras: CameraDiscovery = CameraDiscovery()
    ) {
        self.addresses = addresses
        self.permissions = permissions
        self.access = access
        self.limits = limits
        self.spool = spool
        self.retention = retention
        self.scanWorker = scanWorker
        self.scanIdleTimeout = scanIdleTimeout
        self.cameras = cameras
    }

    /// The addresses to bind: the configured ones, else systemd's, else the default socket path.
    public var effectiveAddresses: [ListenAddress] {
        if !addresses.isEmpty { return addresses }
        let activated = ListenAddress.systemdSockets()
        return activated.isEmpty ? [.unixSocket(path: ListenAddress.defaultSocketPath)] : activated
    }
}

/// The CounterKit device service: the HTTP/JSON API on a Unix socket, for counter software.
///
/// ```swift
/// let service = try CounterKitService(configuration: .init(addresses: [.unixSocket(path: "/tmp/ck.sock")], spool: spool))
/// try await service.run { bound in print("listening on", bound) }   // until the task is cancelled
/// ```
public final class CounterKitService: Sendable {
    /// What a listener is bound to once the service accepts connections.
    public typealias BoundAddress = ListenAddress

    private let configuration: ServiceConfiguration
    let core: ServiceCore
    private let logger: Logger
    /// The web origins paired with the loopback bridge.
    public let pairings: PairingStore

    /// Opens the spool (cleaning up after any crash) and prepares the API; nothing listens yet.
    public init(configuration: ServiceConfiguration, logger: Logger = Logger(label: "counterkit")) throws {
        // A sealed spool keeps an audit log, opened first so that it sees the start's own retention expiries.
        var audit: AuditLog?
        if let signer = configuration.signer {
            do throws(AttachmentError) { audit = try AuditLog(spool: configuration.spool, signer: signer, version: ServiceCore.version) } catch {
                throw ServiceSetupError("audit log: \(error.message)")
            }
        }
        var observer: (@Sendable (SpoolEvent) -> Void)?
        if let audit {
            observer = { @Sendable event in
                do throws(AttachmentError) { try audit.record(event) } catch { logger.error("audit log: \(error.message)") }
            }
        }
        let store: AttachmentStore
        do throws(AttachmentError) {
            store = try AttachmentStore(
                directory: configuration.spool, retention: configuration.retention, signer: configuration.signer,
                envelopes: configuration.envelopes, observer: observer)
        } catch {
            throw ServiceSetupError("spool \(configuration.spool.path): \(error.message)")
        }
        for line in SpoolMigrationReport.lines(store.migration, spool: configuration.spool) { logger.warning("\(line)") }
        self.configuration = configuration
        self.logger = logger
        pairings = try PairingStore(path: (configuration.pairingsFile ?? configuration.spool.appendingPathComponent("bridge/pairings.json")).path)
        let journal: JobJournal
        do throws(DeviceHubError) {
            journal = try JobJournal(directory: configuration.spool.appendingPathComponent("journal"), policy: configuration.journal)
        } catch {
            throw ServiceSetupError("job journal: \(error.message)")
        }
        let interrupted =
            journal.recoveredJobs.filter { $0.error?.code == .interrupted }.count
            + journal.recoveredSessions.filter { $0.error?.code == .interrupted }.count
        if interrupted > 0 {
            logger.warning("\(interrupted) job(s) or session(s) were in flight when the service stopped; they are reported failed (interrupted)")
        }
        self.core = ServiceCore(
            store: store, audit: audit, journal: journal,
            scanner: SANEScanner(
                store: store, worker: configuration.scanWorker,
                idleTimeout: configuration.scanIdleTimeout),
            cameras: configuration.cameras,
            limits: configuration.limits, deviceOptions: configuration.deviceOptions,
            previewLinger: configuration.previewLinger, certificateChainPEM: configuration.certificateChainPEM,
            documentSigner: configuration.documentSigner, logger: logger)
    }

    private func makeRouter() -> Router<ServiceRequestContext> {
        let routes = Routes(core: core)
        let pairingRoutes = PairingRoutes(pairings: pairings, audit: core.audit, logger: logger)
        let browserRoutes = BrowserRoutes(console: configuration.bridge.console)
        let register = { (router: Router<ServiceRequestContext>) in
            routes.register(on: router)
            pairingRoutes.register(on: router)
            browserRoutes.register(on: router)
        }
        // The middlewares answer 405 from the routes themselves: registered once on a router of their own to read them.
        let probe = Router(context: ServiceRequestContext.self)
        register(probe)
        let router = Router(context: ServiceRequestContext.self, options: [.autoGenerateHeadEndpoints])
        let bridge = LoopbackBridge(configuration: configuration.bridge, pairings: pairings)
        let table = RouteTable(probe)
        router.add(middleware: RequestLogging(logger: logger))
        router.add(middleware: AccessCheck(policy: configuration.access, bridge: bridge))
        router.add(middleware: AllowHeader(routes: table))
        router.add(middleware: ErrorResponses(routes: table, logger: logger))
        register(router)
        return router
    }

    /// The eSCL root URL (`http://HOST:PORT/eSCL/`) once it listens; nil when eSCL is not served.
    public var esclURL: String? { core.escl.withLockedValue { $0 } }

    /// Every route as `METHOD /path/{param}` (HEAD routes generated for GET are left out).
    var routeDescriptions: [String] {
        makeRouter().routes.filter { $0.method != .head }.map { "\($0.method) \($0.path)" }
    }

    /// Listens, discovers devices in the background, and serves until the calling task is cancelled;
    /// then cancels running jobs (their devices are released) and removes the socket files it created.
    public func run(onListening: @escaping @Sendable ([BoundAddress]) -> Void = { _ in }) async throws {
        let server = HTTPServer(responder: makeRouter().buildResponder(), limits: configuration.limits, logger: logger)
        let core = self.core
        let logger = self.logger
        let housekeeping = Task {
            // Discovery starts once the socket accepts, so that a slow backend never delays start-up.
            while !Task.isCancelled {
                let removed = core.store.applyRetention()
                if !removed.isEmpty { logger.info("retention removed \(removed.count) attachments") }
                // Hourly, or often enough that a plaintext retention ends within a tenth of itself.
                try? await Task.sleep(for: .seconds(core.store.retention.plaintextMaxAge.map { min(3600, max(1, $0 / 10)) } ?? 3600))
            }
        }
        defer { housekeeping.cancel() }
        // Pads that arrive or leave update the device list at once (libusb hotplug, or a rescan every 2 s).
        let hotplug = USBHotplugMonitor(interval: .seconds(2), filter: SignaturePadDrivers.isCandidate) { change in
            Task { await core.hub.padChanged(change) }
        }
        hotplug.start()
        defer { hotplug.stop() }
        let kept = core.store.list().count
        logger.info("counterkit \(ServiceCore.version) starting (pid \(getpid())): spool \(core.store.directory.path), \(kept) attachment(s) kept")
        defer { logger.info("counterkit stopped") }
        // eSCL listens first, so that a port already taken stops the start-up before the API is announced ready.
        let escl = try await startESCL(core: core)
        defer { escl?.cancel() }
        // On cancellation, jobs are cancelled at once so that event streams end and connections can close.
        try await withTaskCancellationHandler {
            try await serve(server, core: core, logger: logger, onListening: onListening)
        } onCancel: {
            logger.info("shutting down: running jobs and signature sessions are cancelled, their devices released")
            escl?.cancel()
            Task { await core.hub.shutdown() }
        }
        escl?.cancel()
        _ = await escl?.result
        await core.hub.shutdown()
    }

    /// Binds and serves eSCL when configured (and advertises it over mDNS where avahi runs); the task serving it.
    private func startESCL(core: ServiceCore) async throws -> Task<Void, any Error>? {
        guard let settings = configuration.escl else { return nil }
        let escl = ESCLService(hub: core.hub, store: core.store, configuration: settings, logger: logger)
        let router = Router(context: ServiceRequestContext.self)
        escl.register(on: router)
        let server = HTTPServer(responder: router.buildResponder(), limits: configuration.limits, logger: logger)
        let (bound, announce) = AsyncStream<[HTTPServer.Bound]>.makeStream()
        let logger = self.logger
        let task = Task {
            defer { announce.finish() }
            try await server.run([.tcp(host: settings.host, port: settings.port)], permissions: configuration.permissions) {
                announce.yield($0)
                announce.finish()
            }
        }
        var listening: [HTTPServer.Bound]?
        for await addresses in bound { listening = addresses }
        guard case .tcp(let host, let port)? = listening?.first else {
            _ = try await task.value
            throw ServiceSetupError("eSCL did not start listening on \(settings.host):\(settings.port)")
        }
        let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/eSCL/"
        logger.info("eSCL on \(url)\(settings.isLoopback ? " (this machine only; give --escl a LAN address to serve others)" : "")")
        core.escl.withLockedValue { $0 = url }
        if settings.advertise {
            let advertiser = ESCLAdvertiser(service: escl, port: port, logger: logger)
            return Task {
                try await withTaskCancellationHandler {
                    await advertiser.run()
                    _ = try await task.value
                } onCancel: {
                    task.cancel()
                }
            }
        }
        return task
    }

    private func serve(
        _ server: HTTPServer, core: ServiceCore, logger: Logger,
        onListening: @escaping @Sendable ([BoundAddress]) -> Void
    ) async throws {
        try await server.run(configuration.effectiveAddresses, permissions: configuration.permissions) { bound in
            let addresses: [BoundAddress] = bound.map {
                switch $0 {
                case .unixSocket(let path): .unixSocket(path: path)
                case .inherited(let fd): .inherited(fileDescriptor: fd)
                case .tcp(let host, let port): .tcp(host: host, port: port)
                }
            }
            let description = addresses.map(\.description).joined(separator: ", ")
            logger.info("listening on \(description)")
            if self.configuration.bridge.console {
                for case .tcp(let host, let port) in addresses {
                    let shown = host.contains(":") ? "[\(host)]" : host
                    logger.info("the device console is at http://\(shown):\(port)/ui/ (paste a token from `counterkit pair http://\(shown):\(port)`)")
                }
            }
            core.listening.withLockedValue { $0 = description }
            Task { await core.hub.refreshDevicesInBackground() }
            onListening(addresses)
        }
    }
}
