import ArgumentParser
import DeviceService
import Foundation
import Logging

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the device service: HTTP/1.1 + JSON on a Unix socket for counter software.",
        discussion: """
            Listens on --socket (default /run/counterkit/api.sock as root, else $XDG_RUNTIME_DIR/counterkit/api.sock), \
            or on the sockets systemd passes (socket activation). Try: curl --unix-socket SOCKET http://localhost/v1/health
            SIGTERM or SIGINT stops it: running jobs are cancelled, devices released, the socket file removed.
            """)

    @Option(help: "Unix socket path to create.")
    var socket: String?

    @Option(help: "Group owning the socket (default: counterkit, when that group exists).")
    var group: String?

    @Option(help: "Socket file mode, octal.")
    var mode: String = "0660"

    @Option(help: ArgumentHelp("Also listen on TCP at a loopback HOST:PORT (no TCP unless given).", valueName: "HOST:PORT"))
    var listen: String?

    @Option(name: .customLong("allow-user"), help: "Only these users (names or uids) may use the API; repeatable.")
    var allowedUsers: [String] = []

    @Option(name: .customLong("allow-group"), help: "Only members of these groups may use the API; repeatable.")
    var allowedGroups: [String] = []

    @Option(help: "Maximum open connections; more are answered 503 too_many_connections.")
    var maxConnections: Int = ServiceLimits().maxConnections

    @Option(help: "Maximum jobs waiting per device (?queue=true); more are refused 429 queue_full.")
    var maxQueued: Int = ServiceLimits().maxQueuedJobsPerDevice

    @Option(help: "Maximum open event streams; more are refused 429 too_many_subscribers.")
    var maxSubscribers: Int = ServiceLimits().maxEventSubscribers

    @Option(help: "Maximum request body in KiB; larger bodies are refused 413 body_too_large.")
    var maxRequestKb: Int = ServiceLimits().maxRequestBytes >> 10

    @Option(help: "Maximum size of the attachment store in MiB; once reached, captures are refused 507 store_full.")
    var maxStoreMb: Int = ServiceLimits().maxStoreBytes >> 20

    @Option(help: "Seconds before an idle connection is closed.")
    var idleTimeout: Int = ServiceLimits().idleTimeoutSeconds

    @Option(help: "Seconds of scanner silence before a scan is abandoned.")
    var scanTimeout: Int = 60

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @OptionGroup var spool: SpoolOptions

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw fail(.invalidValue, "unknown --log-level '\(logLevel)'")
        }
        guard let fileMode = mode_t(mode, radix: 8), fileMode <= 0o777 else {
            throw fail(.invalidValue, "--mode expects an octal mode such as 0660, got '\(mode)'")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var addresses: [ListenAddress] = []
        if let socket { addresses.append(.unixSocket(path: socket)) }
        let configuration: ServiceConfiguration
        do {
            if let listen {
                if addresses.isEmpty {
                    let activated = ListenAddress.systemdSockets()
                    addresses += activated.isEmpty ? [.unixSocket(path: ListenAddress.defaultSocketPath)] : activated
                }
                addresses.append(try ListenAddress.parseTCP(listen))
            }
            var permissions = SocketPermissions.default
            permissions.mode = fileMode
            if let group { permissions.group = group }
            for (name, value) in [("--max-connections", maxConnections), ("--max-queued", maxQueued), ("--max-subscribers", maxSubscribers),
                                  ("--max-request-kb", maxRequestKb), ("--max-store-mb", maxStoreMb), ("--idle-timeout", idleTimeout)] where value < 1 {
                throw fail(.invalidValue, "\(name) must be at least 1, got \(value)")
            }
            let limits = ServiceLimits(maxConnections: maxConnections, maxQueuedJobsPerDevice: maxQueued, maxEventSubscribers: maxSubscribers,
                                       idleTimeoutSeconds: idleTimeout, maxRequestBytes: maxRequestKb << 10, maxStoreBytes: maxStoreMb << 20)
            configuration = ServiceConfiguration(
                addresses: addresses, permissions: permissions,
                access: try AccessPolicy.resolve(users: allowedUsers, groups: allowedGroups),
                limits: limits, spool: spool.directory, scanIdleTimeout: .seconds(scanTimeout))
        } catch let error as ServiceSetupError {
            throw fail(.invalidValue, error.message)
        }
        let service: CounterKitService
        do { service = try CounterKitService(configuration: configuration) } catch {
            throw fail(.ioError, "\(error)")
        }
        let task = Task {
            try await service.run { _ in SystemdNotifier.notify("READY=1") }
        }
        let stop: @Sendable () -> Void = {
            SystemdNotifier.notify("STOPPING=1")
            task.cancel()
        }
        let signals = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: stop)
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        do {
            try await task.value
        } catch let error as ServiceSetupError {
            throw fail(.ioError, error.message)
        }
    }
}

/// `sd_notify(3)`: tells systemd (Type=notify) that the service is ready or stopping. Does nothing outside systemd.
enum SystemdNotifier {
    static func notify(_ state: String) {
        guard let path = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"], !path.isEmpty else { return }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        _ = state.withCString { text in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, text, strlen(text), 0, $0, length) }
            }
        }
    }
}
