import ArgumentParser
import DeviceService
import ESCL
import Foundation
import Logging
import Sealing
import ServiceLifecycle
import SignedDocuments

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the device service: HTTP/1.1 + JSON on a Unix socket for counter software.",
        discussion: """
            Listens on --socket (default /run/counterkit/api.sock as root, else $XDG_RUNTIME_DIR/counterkit/api.sock), \
            or on the sockets systemd passes (socket activation). Try: curl --unix-socket SOCKET http://localhost/v1/health
            SIGTERM or SIGINT stops it: running jobs are cancelled, devices released, the socket file removed.
            """)

    @Option(
        help: ArgumentHelp(
            "Configuration file (TOML): every option below, and default options per device.",
            discussion: "Default: \(ServiceSettings.defaultPath) when it exists. Flags override the file.", valueName: "FILE"))
    var config: String?

    @Option(help: "Unix socket path to create.")
    var socket: String?

    @Option(help: "Group owning the socket (default: counterkit, when that group exists).")
    var group: String?

    @Option(help: "Socket file mode, octal (default 0660).")
    var mode: String?

    @Option(
        help: ArgumentHelp(
            "Also listen on TCP at a loopback HOST:PORT for web pages: the loopback bridge (no TCP unless given).",
            discussion: "Every request there needs a paired token (`counterkit pair ORIGIN`) and a Host naming this listener.",
            valueName: "HOST:PORT"))
    var listen: String?

    @Option(
        name: .customLong("allow-origin"),
        help: ArgumentHelp(
            "A web origin whose pages may call the bridge from a browser (CORS); repeatable.",
            discussion: "This only lets the browser send the requests: each one still needs the origin's paired token, or the "
                + "answer is 401. Pair it with `counterkit pair ORIGIN` and give the page that token.",
            valueName: "ORIGIN"))
    var allowedOrigins: [String] = []

    @Flag(help: "Serve the device console at /ui/ on the --listen address.")
    var ui = false

    @Option(
        help: ArgumentHelp(
            "Serve eSCL (AirScan) for driverless clients at PORT on loopback, or at HOST:PORT (a LAN address only when given).",
            valueName: "[HOST:]PORT"))
    var escl: String?

    @Option(name: .customLong("escl-device"), help: ArgumentHelp("The scanner served at /eSCL/ (default: the first found).", valueName: "ID"))
    var esclDevice: String?

    @Option(name: .customLong("allow-user"), help: "Only these users (names or uids) may use the API; repeatable.")
    var allowedUsers: [String] = []

    @Option(name: .customLong("allow-group"), help: "Only members of these groups may use the API; repeatable.")
    var allowedGroups: [String] = []

    @Option(help: "Maximum open connections (default \(ServiceLimits().maxConnections)); more are answered 503 too_many_connections.")
    var maxConnections: Int?

    @Option(help: "Maximum jobs waiting per device (default \(ServiceLimits().maxQueuedJobsPerDevice), ?queue=true); more are refused 429 queue_full.")
    var maxQueued: Int?

    @Option(help: "Maximum open event streams (default \(ServiceLimits().maxEventSubscribers)); more are refused 429 too_many_subscribers.")
    var maxSubscribers: Int?

    @Option(help: "Maximum request body in KiB (default \(ServiceLimits().maxRequestBytes >> 10)); larger bodies are refused 413 body_too_large.")
    var maxRequestKb: Int?

    @Option(
        help: "Maximum size of the attachment store in MiB (default \(ServiceLimits().maxStoreBytes >> 20)); once reached, captures are refused 507 store_full."
    )
    var maxStoreMb: Int?

    @Option(
        help:
            "Largest document counter software may upload to be signed, in MiB (default \(ServiceLimits().maxUploadBytes >> 20)); larger are refused 413 body_too_large."
    )
    var maxUploadMb: Int?

    @Option(help: "Seconds before an idle connection is closed (default \(ServiceLimits().idleTimeoutSeconds)).")
    var idleTimeout: Int?

    @Option(help: "Seconds of scanner silence before a scan is abandoned (default 60).")
    var scanTimeout: Int?

    @Option(help: "Ended jobs and signature sessions the journal keeps across restarts (default 500).")
    var journalJobs: Int?

    @Option(help: "Days the journal keeps an ended job or session (default 7).")
    var journalDays: Int?

    @Option(
        name: .customLong("preview-linger-ms"),
        help: "Milliseconds a camera stays open after its last preview viewer leaves (default 2000).")
    var previewLingerMs: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default info).")
    var logLevel: String?

    @Option(
        name: .customLong("seal-key"),
        help: ArgumentHelp(
            "Sign every attachment's manifest with this counter key (PKCS#8 PEM, mode 0600; `counterkit keys init`), or the key a pkcs11: URI names in a token.",
            discussion: "GET /v1/attachments/ID/signature then serves the signature; `counterkit verify` checks it.",
            valueName: "FILE"))
    var sealKey: String?

    @Option(
        name: .customLong("seal-recipient"),
        help: ArgumentHelp(
            "Also encrypt every attachment for this certificate (the back office's, PEM; RSA or P-256): CMS at GET /v1/attachments/ID/sealed.",
            valueName: "CERT"))
    var sealRecipient: String?

    @Option(
        name: .customLong("seal-certificate"),
        help: ArgumentHelp(
            "The counter key's certificate chain (PEM, the counter's certificate first, then its CAs), served at GET /v1/seal/certificate.",
            discussion: "Default: seal.crt beside the key when it exists (what `keys init --cert` writes, or the CA's chain put in its place).",
            valueName: "CHAIN"))
    var sealCertificate: String?

    @Option(
        name: .customLong("plaintext-retention"),
        help: ArgumentHelp(
            "With --seal-recipient: remove an attachment's plaintext this long after it is stored (90s, 15m, 24h, 7d); its envelope stays. 0: never write plaintext.",
            valueName: "DURATION"))
    var plaintextRetention: String?

    @Option(
        name: .customLong("tsa"),
        help: ArgumentHelp("An RFC 3161 time-stamping authority (http://…) that timestamps signed documents (PAdES B-T).", valueName: "URL"))
    var tsa: String?

    @Option(
        name: .customLong("tsa-required"),
        help: ArgumentHelp(
            "Whether a document is left unsigned when the TSA gives no timestamp (default true); false signs it B-B and says so.", valueName: "BOOL"))
    var tsaRequired: Bool?

    @OptionGroup var spool: SpoolOptions

    /// What the flags say; nil where a flag was not given.
    private var flags: ServiceSettings {
        var flags = ServiceSettings()
        flags.socket = socket
        flags.group = group
        flags.mode = mode
        flags.listen = listen
        flags.allowOrigins = allowedOrigins.isEmpty ? nil : allowedOrigins
        flags.ui = ui ? true : nil
        flags.escl = escl
        flags.esclDevice = esclDevice
        flags.allowUsers = allowedUsers.isEmpty ? nil : allowedUsers
        flags.allowGroups = allowedGroups.isEmpty ? nil : allowedGroups
        flags.maxConnections = maxConnections
        flags.maxQueued = maxQueued
        flags.maxSubscribers = maxSubscribers
        flags.maxRequestKb = maxRequestKb
        flags.maxStoreMb = maxStoreMb
        flags.maxUploadMb = maxUploadMb
        flags.idleTimeout = idleTimeout
        flags.scanTimeout = scanTimeout
        flags.journalJobs = journalJobs
        flags.journalDays = journalDays
        flags.previewLingerMs = previewLingerMs
        flags.logLevel = logLevel
        flags.spool = spool.spool
        flags.sealKey = sealKey
        flags.sealRecipient = sealRecipient
        flags.sealCertificate = sealCertificate
        flags.plaintextRetention = plaintextRetention
        flags.sealTSA = tsa
        flags.sealTSARequired = tsaRequired
        return flags
    }

    /// The configuration file's settings with the flags laid over them.
    private func settings() throws -> ServiceSettings {
        let path = config ?? (FileManager.default.fileExists(atPath: ServiceSettings.defaultPath) ? ServiceSettings.defaultPath : nil)
        var file = ServiceSettings()
        if let path {
            do { file = try ServiceSettings.load(path: path) } catch { throw fail(.invalidValue, error.description) }
        }
        return file.overridden(by: flags)
    }

    func run() async throws {
        // The service process, and only it, ignores SIGPIPE: a client or a scan worker that goes away while it is
        // being written to must give that write EPIPE, not end the service. (The libraries never change it.)
        signal(SIGPIPE, SIG_IGN)
        // Large buffers (a JPEG strip pool holds megabytes) always come from mmap and go back to the system when freed.
        // glibc's default raises its mmap threshold after the first such free, and from then on each scan thread's
        // arena kept the freed megabytes: a soak of large scans grew the service by ~1.5 MiB a scan (scripts/soak).
        // Each camera preview and photo runs on a thread of its own; glibc gives new threads new arenas (up to 8 per
        // core), each keeping what its frames freed: the mixed soak grew ~12 MiB over 60 citizens. Two arenas serve a
        // counter's handful of devices.
        // (glibc's mallopt, which Swift's Glibc module does not export; M_MMAP_THRESHOLD is -3, M_ARENA_MAX -8 in
        // <malloc.h>.)
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
            let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
            _ = mallopt(-3, 1 << 20)
            _ = mallopt(-8, 2)
        }
        let settings = try settings()
        guard let level = Logger.Level(rawValue: settings.logLevel ?? "info") else {
            throw fail(.invalidValue, "unknown --log-level '\(settings.logLevel ?? "")'")
        }
        let mode = settings.mode ?? "0660"
        guard let fileMode = mode_t(mode, radix: 8), fileMode <= 0o777 else {
            throw fail(.invalidValue, "--mode expects an octal mode such as 0660, got '\(mode)'")
        }
        // The log goes to stderr (journald under systemd) and to a small rotating file in the spool's log/ directory,
        // which the support bundle collects even where there is no journald.
        let logFile = try? RotatingLogFile(
            path: (settings.spool.map { URL(fileURLWithPath: $0) } ?? spool.directory)
                .appendingPathComponent("log/service.log").path)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            guard let logFile else { return handler }
            var file = RotatingLogFileHandler(label: label, file: logFile)
            file.logLevel = level
            return MultiplexLogHandler([handler, file])
        }
        var addresses: [ListenAddress] = []
        if let socket = settings.socket { addresses.append(.unixSocket(path: socket)) }
        let configuration: ServiceConfiguration
        do {
            if let listen = settings.listen {
                if addresses.isEmpty {
                    let activated = ListenAddress.systemdSockets()
                    addresses += activated.isEmpty ? [.unixSocket(path: ListenAddress.defaultSocketPath)] : activated
                }
                addresses.append(try ListenAddress.parseTCP(listen))
            }
            var permissions = SocketPermissions.default
            permissions.mode = fileMode
            if let group = settings.group { permissions.group = group }
            let defaults = ServiceLimits()
            let limits = ServiceLimits(
                maxConnections: settings.maxConnections ?? defaults.maxConnections,
                maxQueuedJobsPerDevice: settings.maxQueued ?? defaults.maxQueuedJobsPerDevice,
                maxEventSubscribers: settings.maxSubscribers ?? defaults.maxEventSubscribers,
                idleTimeoutSeconds: settings.idleTimeout ?? defaults.idleTimeoutSeconds,
                maxRequestBytes: settings.maxRequestKb.map { $0 << 10 } ?? defaults.maxRequestBytes,
                maxStoreBytes: settings.maxStoreMb.map { $0 << 20 } ?? defaults.maxStoreBytes,
                maxUploadBytes: settings.maxUploadMb.map { $0 << 20 } ?? defaults.maxUploadBytes)
            for (name, value) in [
                ("--max-connections", limits.maxConnections), ("--max-queued", limits.maxQueuedJobsPerDevice),
                ("--max-subscribers", limits.maxEventSubscribers), ("--max-request-kb", limits.maxRequestBytes >> 10),
                ("--max-store-mb", limits.maxStoreBytes >> 20), ("--max-upload-mb", limits.maxUploadBytes >> 20), ("--idle-timeout", limits.idleTimeoutSeconds),
                ("--scan-timeout", settings.scanTimeout ?? 60), ("--journal-jobs", settings.journalJobs ?? 500),
                ("--journal-days", settings.journalDays ?? 7),
                ("--preview-linger-ms", settings.previewLingerMs ?? 2000),
            ] where value < 1 {
                throw fail(.invalidValue, "\(name) must be at least 1, got \(value)")
            }
            var built = ServiceConfiguration(
                addresses: addresses, permissions: permissions,
                access: try AccessPolicy.resolve(users: settings.allowUsers ?? [], groups: settings.allowGroups ?? []),
                limits: limits, spool: settings.spool.map { URL(fileURLWithPath: $0) } ?? spool.directory,
                scanIdleTimeout: .seconds(settings.scanTimeout ?? 60))
            built.deviceOptions = settings.deviceOptions
            var origins: [String] = []
            for origin in settings.allowOrigins ?? [] {
                guard let normalized = PairingStore.normalizedOrigin(origin) else {
                    throw fail(.invalidValue, "--allow-origin expects a web origin such as https://counter.example.gov.cn, got '\(origin)'")
                }
                origins.append(normalized)
            }
            if settings.ui == true && settings.listen == nil { throw fail(.invalidValue, "--ui needs --listen 127.0.0.1:PORT") }
            built.bridge = BridgeConfiguration(allowedOrigins: origins, console: settings.ui ?? false)
            if let escl = settings.escl {
                do throws(ESCLError) { built.escl = try ESCLConfiguration(parsing: escl, defaultDevice: settings.esclDevice) } catch {
                    throw fail(.invalidValue, error.message)
                }
            } else if settings.esclDevice != nil {
                throw fail(.invalidValue, "--escl-device needs --escl")
            }
            built.previewLinger = .milliseconds(settings.previewLingerMs ?? 2000)
            var signsDocuments: (key: CounterKey, certificates: [[UInt8]])?
            if let keyPath = settings.sealKey {
                let key: CounterKey
                do throws(SealError) {
                    key = try CounterKey.load(from: keyPath)
                    built.signer = try CounterSealer.forSpool(built.spool, key: key)
                } catch {
                    throw fail(error.code, "[seal] key: \(error.message)")
                }
                // The chain: as configured, else seal.crt beside the key when there is one. Either must fit the key.
                let beside = CounterCertificateChain.defaultPath(forKey: keyPath)
                if let chainPath = settings.sealCertificate ?? (FileManager.default.fileExists(atPath: beside) ? beside : nil) {
                    do throws(SealError) {
                        let chain = try CounterCertificateChain.load(from: chainPath, for: key.publicKey)
                        built.certificateChainPEM = chain.pem
                        // Documents are signed with the key and its certificate (PAdES has no SM2: such keys sign none).
                        if key.algorithm != .sm2 { signsDocuments = (key, chain.certificates) }
                    } catch {
                        throw fail(error.code, "[seal] certificate: \(error.message)")
                    }
                }
            } else if settings.sealCertificate != nil {
                throw fail(.invalidValue, "[seal] certificate needs [seal] key (--seal-key): the chain certifies the counter key")
            }
            if let recipient = settings.sealRecipient {
                guard settings.sealKey != nil else {
                    throw fail(.invalidValue, "[seal] recipient needs [seal] key (--seal-key): the signed manifest is what names the envelope")
                }
                do throws(SealError) { built.envelopes = try EnvelopeRecipient.load(from: recipient) } catch {
                    throw fail(error.code, "[seal] recipient: \(error.message)")
                }
            }
            if let (key, certificates) = signsDocuments {
                // The pen data of a signed document is encrypted to the back office when there is one.
                var signer = DocumentSigner(key: key, certificates: certificates, recipient: built.envelopes as? EnvelopeRecipient)
                if let url = settings.sealTSA {
                    do throws(DocumentError) { signer.timestamps = try TimestampAuthority(url: url) } catch {
                        throw fail(error.code, "[seal] tsa: \(error.message)")
                    }
                    signer.timestampRequired = settings.sealTSARequired ?? true
                }
                built.documentSigner = signer
            } else if settings.sealTSA != nil {
                throw fail(.invalidValue, "[seal] tsa needs a counter key with a certificate ([seal] key and certificate): it timestamps signed documents")
            }
            if let text = settings.plaintextRetention {
                guard settings.sealRecipient != nil else {
                    throw fail(.invalidValue, "[seal] plaintext-retention needs [seal] recipient: without an envelope the plaintext is all there is")
                }
                guard let seconds = ServiceSettings.duration(text) else { throw fail(.invalidValue, ServiceSettings.durationProblem(text)) }
                built.retention.plaintextMaxAge = seconds
                if seconds == 0 && built.escl != nil {
                    throw fail(
                        .invalidValue,
                        "--escl hands scanned pages to driverless clients as plaintext, which [seal] plaintext-retention = 0 forbids; serve eSCL from a counter that keeps plaintext, or set a retention such as 1s"
                    )
                }
            }
            built.journal = JobJournal.Policy(maxEntries: settings.journalJobs ?? 500, maxAge: Double(settings.journalDays ?? 7) * 24 * 3600)
            configuration = built
        } catch let error as ServiceSetupError {
            throw fail(.invalidValue, error.message)
        }
        let service: CounterKitService
        do { service = try CounterKitService(configuration: configuration) } catch {
            throw fail(.ioError, "\(error)")
        }
        // swift-service-lifecycle runs it: SIGTERM or SIGINT begins a graceful stop (systemd hears STOPPING=1, then
        // running jobs and sessions are cancelled, their devices released, and the listeners closed).
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: ServedCounterKit(service: service))], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "counterkit.lifecycle")))
        do {
            try await group.run()
        } catch let error as ServiceSetupError {
            throw fail(.ioError, error.message)
        }
    }
}

/// `counterkit serve` as a service of swift-service-lifecycle: ready (systemd's READY=1) once it listens; on a graceful
/// shutdown, STOPPING=1 and the service's own stop (its run is cancelled).
struct ServedCounterKit: Service {
    let service: CounterKitService

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await cancelWhenGracefulShutdown {
                try await service.run { _ in SystemdNotifier.notify("READY=1") }
            }
        } onGracefulShutdown: {
            SystemdNotifier.notify("STOPPING=1")
        }
    }
}
