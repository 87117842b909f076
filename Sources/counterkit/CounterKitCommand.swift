import ArgumentParser
import Attachments
import DeviceHub
import DeviceService
import Diagnostics
import Foundation
import Scanning

@main
struct CounterKitCommand: AsyncParsableCommand {
    static let version = CounterKitVersion.current

    static let configuration = CommandConfiguration(
        commandName: "counterkit",
        abstract: "CounterKit: scanners, cameras and signature pads for service-counter software.",
        version: version,
        subcommands: [
            VersionCommand.self, DoctorCommand.self, SelfTestCommand.self, BundleCommand.self, SetupCommand.self, DevicesCommand.self, ScanCommand.self,
            PhotoCommand.self, PreviewCommand.self, SignCommand.self, DocumentCommand.self, ServeCommand.self, PairCommand.self, KeysCommand.self,
            VerifyCommand.self, AuditCommand.self,
            WorkerCommand.self,
        ]
    )
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print CounterKit's version.")
    func run() { print("counterkit \(CounterKitCommand.version)") }
}

/// Installation helpers for technicians.
struct SetupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup", abstract: "Print what installation needs (udev rules).", subcommands: [UdevRulesCommand.self])

    struct UdevRulesCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "udev-rules", abstract: "Print the udev rules CounterKit needs.",
            discussion: "Install: \(UdevRules.installCommand)")
        func run() { print(UdevRules.text) }
    }
}

/// The scan worker: runs libsane in its own process (see `ScanWorker`). Not for people.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Run a scanner session in a worker process (internal).", shouldDisplay: false)
    func run() throws { throw ExitCode(ScanWorker.run()) }
}

/// Options shared by commands that store attachments.
struct SpoolOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Spool directory for attachments.",
            discussion: "Default: $COUNTERKIT_SPOOL, else /var/spool/counterkit as root, else ~/.local/share/counterkit/spool."))
    var spool: String?

    var directory: URL {
        if let spool { return URL(fileURLWithPath: spool) }
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["COUNTERKIT_SPOOL"], !path.isEmpty { return URL(fileURLWithPath: path) }
        if getuid() == 0 { return URL(fileURLWithPath: "/var/spool/counterkit") }
        let data =
            environment["XDG_DATA_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share")
        return data.appendingPathComponent("counterkit/spool")
    }

    /// Opens the spool, failing with the store's error code, and reports (once, on stderr) what migrating a spool of
    /// an earlier release could not recover.
    func openStore() throws -> AttachmentStore {
        let store: AttachmentStore
        do { store = try AttachmentStore(directory: directory) } catch { throw fail(error.code, error.message) }
        for line in SpoolMigrationReport.lines(store.migration, spool: directory) {
            FileHandle.standardError.write(Data("warning: \(line)\n".utf8))
        }
        return store
    }
}

/// Prints `error: CODE: message` on stderr and exits non-zero.
func fail(_ code: ErrorCode, _ message: String) -> ExitCode { fail(code: code.rawValue, message) }

/// Runs `work`, cancelling it on Ctrl-C (a second Ctrl-C exits at once); a CounterKit error becomes `error: CODE: …`.
func interruptible<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
    let task = Task { try await work() }
    InterruptHandler.install { task.cancel() }
    do { return try await task.value } catch let error as CounterKitError { throw fail(error.code, error.message) }
}

/// Prints `error: CODE: message` on stderr with a code as the service sent it, and exits non-zero.
func fail(code: String, _ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(code): \(message)\n".utf8))
    return ExitCode(1)
}

/// JSON for machines: sorted keys, ISO 8601 dates.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Whether a command goes through a running service (so it never fights the service for a device) or opens devices itself.
struct ServiceConnection: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Talk to the service on this socket instead of opening devices.",
            discussion: "Without it, the default socket is used when a service answers there.", valueName: "PATH"))
    var socket: String?

    @Flag(help: "Open devices directly even when a service is running.")
    var direct = false

    /// The devices' hub: the running service's (over its socket) or this process's (opening devices itself, storing in
    /// `spool`). Commands program against it, so they behave the same either way.
    func hub(spool: SpoolOptions) throws -> any DeviceHub {
        if let socket = try socketToUse() { return ServiceDeviceHub(socketPath: socket) }
        return LocalDeviceHub(store: try spool.openStore())
    }

    /// A hub for a command whose captures the user does not keep (listing, the doctor, self-tests): the running
    /// service's, or this process's storing in `directory` (the caller removes it), discovering scanners within
    /// `discoveryTimeout`.
    func hub(
        storingIn directory: URL, discoveryTimeout: Duration = .seconds(15),
        idleTimeout: Duration = .seconds(60)
    ) throws -> (hub: any DeviceHub, viaService: Bool) {
        if let socket = try socketToUse() { return (ServiceDeviceHub(socketPath: socket, idleTimeout: idleTimeout), true) }
        let store: AttachmentStore
        do { store = try AttachmentStore(directory: directory) } catch { throw fail(error.code, "\(directory.path): \(error.message)") }
        return (LocalDeviceHub(store: store, scanner: SANEScanner(store: store, discoveryTimeout: discoveryTimeout)), false)
    }

    /// The socket to use, or nil to open devices directly.
    func socketToUse() throws -> String? {
        if direct { return nil }
        if let socket {
            guard ServiceClient.isServing(at: socket) else {
                throw fail(.serviceUnavailable, "no service answers on \(socket) (is `counterkit serve` running?)")
            }
            return socket
        }
        let path = ListenAddress.defaultSocketPath
        return ServiceClient.isServing(at: path) ? path : nil
    }
}
