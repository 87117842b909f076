import Attachments
import CounterKitTestSupport
import ESCL
import Foundation
import Logging
import Scanning
import Sealing
import SignaturePads
import Synchronization
import Testing

@testable import DeviceService

/// A real service on a temporary socket, scanning with libsane's test backend.
final class RunningService: Sendable {
    let directory: TemporaryDirectory
    let socket: String
    let spool: URL
    let client: ServiceClient
    let bound: [ListenAddress]
    /// The eSCL root URL, when the service serves eSCL.
    let esclURL: String?
    private let task: Task<Void, any Error>

    private init(
        directory: TemporaryDirectory, socket: String, spool: URL, bound: [ListenAddress], esclURL: String?,
        task: Task<Void, any Error>
    ) {
        self.esclURL = esclURL
        self.directory = directory
        self.socket = socket
        self.spool = spool
        self.client = ServiceClient(socketPath: socket, idleTimeout: .seconds(120))
        self.bound = bound
        self.task = task
    }

    /// Starts a service; returns once it accepts connections.
    static func start(
        in existing: TemporaryDirectory? = nil, access: AccessPolicy = .open, limits: ServiceLimits = ServiceLimits(),
        tcp: Bool = false, tcpPort: Int = 0, deviceOptions: [String: [String: String]] = [:],
        scanWorker: ScanWorkerLauncher = SANETestEnvironment.launcher, spool: URL? = nil,
        escl: ESCLConfiguration? = nil, bridge: BridgeConfiguration = BridgeConfiguration(), signer: (any CounterSigning)? = nil,
        envelopes: (any EnvelopeSealing)? = nil, certificateChainPEM: String? = nil, retention: RetentionPolicy? = nil,
        documentSigner: (any DocumentSigning)? = nil
    ) async throws -> RunningService {
        let directory = try existing ?? TemporaryDirectory("ck-svc")
        let socket = directory.path("api.sock")
        let spool = spool ?? directory.url.appendingPathComponent("spool")
        var addresses: [ListenAddress] = [.unixSocket(path: socket)]
        if tcp { addresses.append(.tcp(host: "127.0.0.1", port: tcpPort)) }
        var configuration = ServiceConfiguration(
            addresses: addresses, permissions: SocketPermissions(mode: 0o660), access: access,
            limits: limits, spool: spool, scanWorker: scanWorker,
            scanIdleTimeout: .seconds(30))
        configuration.deviceOptions = deviceOptions
        configuration.escl = escl
        configuration.bridge = bridge
        configuration.signer = signer
        configuration.envelopes = envelopes
        configuration.certificateChainPEM = certificateChainPEM
        if let retention { configuration.retention = retention }
        configuration.documentSigner = documentSigner
        // Access lines at info would bury a failing expectation in the test output; COUNTERKIT_TEST_LOG_LEVEL=info shows them.
        var logger = Logger(label: "counterkit")
        logger.logLevel = ProcessInfo.processInfo.environment["COUNTERKIT_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        let service = try CounterKitService(configuration: configuration, logger: logger)
        let (ready, readyContinuation) = AsyncStream<[ListenAddress]>.makeStream()
        let task = Task {
            // A service that fails before listening ends the stream, so that start() reports its error
            // instead of waiting for an address forever.
            defer { readyContinuation.finish() }
            try await service.run { readyContinuation.yield($0) }
        }
        var bound: [ListenAddress]?
        for await addresses in ready { bound = addresses; break }
        guard let bound else {
            try await task.value
            throw ServiceSetupError("the service at \(socket) ended before it listened")
        }
        return RunningService(directory: directory, socket: socket, spool: spool, bound: bound, esclURL: service.esclURL, task: task)
    }

    /// The TCP port of the loopback bridge, when the service listens on TCP.
    var tcpPort: Int? { bound.compactMap { if case .tcp(_, let port) = $0 { port } else { nil } }.first }

    /// Pairs `origin` over the Unix socket and returns its token.
    func pair(_ origin: String) async throws -> String {
        struct Issued: Decodable { var token: String }
        return try await post("/v1/pairings", #"{"origin":"\#(origin)"}"#).decode(Issued.self).token
    }

    /// Stops the service (cancels jobs, removes the socket) and waits for it.
    func stop() async throws {
        task.cancel()
        // A service that does not stop fails the test (saying so) rather than hanging the suite.
        let stopped = Atomic<Bool>(false)
        let task = self.task
        Task {
            _ = try? await task.value; stopped.store(true, ordering: .relaxed)
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while !stopped.load(ordering: .relaxed) {
            guard ContinuousClock.now < deadline else { throw ServiceSetupError("the service at \(socket) did not stop within 60 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await task.value
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> ServiceClient.Reply {
        try await client.send("GET", path, headers: headers)
    }

    func post(_ path: String, _ body: String) async throws -> ServiceClient.Reply {
        try await client.send("POST", path, json: Data(body.utf8))
    }

    func delete(_ path: String) async throws -> ServiceClient.Reply {
        try await client.send("DELETE", path)
    }

    /// A job from a reply, checked to decode.
    func job(_ reply: ServiceClient.Reply) throws -> JobSnapshot {
        try reply.decode(JobSnapshot.self)
    }

    /// What is wrong with the seal of each attachment in `ids`: its served manifest must be signed by `key` over its
    /// exact bytes, name that key, and describe the served data (size and SHA-256).
    func sealProblems(_ ids: [String], key: CounterKey) async throws -> [String] {
        var problems: [String] = []
        for id in ids {
            let manifest = try await get("/v1/attachments/\(id)/manifest").body, signature = try await get("/v1/attachments/\(id)/signature").body
            let data = try await get("/v1/attachments/\(id)").body
            do throws(SealError) {
                let report = try SealCheck.verify(manifest: manifest, signature: signature, key: key.publicKey, data: [data])
                if !report.dataChecked { problems.append("\(id): data not checked") }
            } catch {
                problems.append("\(id): \(error.message)")
            }
        }
        return problems
    }

    /// Waits until the job has finished, by polling.
    func waitForJob(_ id: String, timeout: Duration = .seconds(60)) async throws -> JobSnapshot {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let job = try await self.job(get("/v1/jobs/\(id)"))
            if job.state.isFinished { return job }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TimeoutError(what: "job \(id)")
    }
}

struct TimeoutError: Error { var what: String }

/// A scan slow enough to be observed: the test backend waits between reads.
let slowScan = #"{"device":"test:0","resolution":100,"options":{"read-delay":true,"read-delay-duration":100000}}"#

/// A scan that takes seconds even alone (a fifth of a second between each of some 65 reads): long enough that a
/// test's next steps happen while it runs on a machine loaded with every other suite.
let longScan = #"{"device":"test:0","resolution":150,"options":{"read-delay":true,"read-delay-duration":200000}}"#
