import ChildProcesses
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How to start the scan worker: the `counterkit` binary in worker mode.
public struct ScanWorkerLauncher: Sendable {
    /// The `counterkit` executable.
    public var executable: String
    /// Arguments that select worker mode.
    public var arguments: [String]
    /// Extra environment (e.g. `SANE_CONFIG_DIR`).
    public var environment: [String: String]

    /// Creates a launcher.
    public init(executable: String, arguments: [String] = ["worker"], environment: [String: String] = [:]) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
    }

    private static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// This executable in worker mode: for an app that calls `ScanWorker.runIfRequested()` at start, so it
    /// needs no `counterkit` binary beside it.
    public static var currentProcess: ScanWorkerLauncher {
        ScanWorkerLauncher(executable: currentExecutable)
    }

    /// `$COUNTERKIT_WORKER`; else `counterkit-scan-worker` beside this executable (the small worker
    /// binary, which starts fastest); else this process when it is `counterkit`; else `counterkit` beside
    /// this executable; else `counterkit-scan-worker` or `counterkit` on `PATH`.
    public static func locate() -> ScanWorkerLauncher {
        if let path = ProcessInfo.processInfo.environment["COUNTERKIT_WORKER"], !path.isEmpty {
            return ScanWorkerLauncher(executable: path)
        }
        let url = URL(fileURLWithPath: currentExecutable)
        let directory = url.deletingLastPathComponent()
        let smallWorker = directory.appendingPathComponent(dedicatedExecutable).path
        if FileManager.default.isExecutableFile(atPath: smallWorker) { return ScanWorkerLauncher(executable: smallWorker, arguments: []) }
        if url.lastPathComponent == "counterkit" { return ScanWorkerLauncher(executable: url.path) }
        let sibling = directory.appendingPathComponent("counterkit").path
        if FileManager.default.isExecutableFile(atPath: sibling) { return ScanWorkerLauncher(executable: sibling) }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin").split(separator: ":") {
            let candidate = "\(directory)/\(dedicatedExecutable)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return ScanWorkerLauncher(executable: candidate, arguments: []) }
            let full = "\(directory)/counterkit"
            if FileManager.default.isExecutableFile(atPath: full) { return ScanWorkerLauncher(executable: full) }
        }
        return ScanWorkerLauncher(executable: "counterkit")
    }

    /// The name of the dedicated worker executable (it takes no arguments).
    public static let dedicatedExecutable = "counterkit-scan-worker"
}

/// A running worker child: its pipes, its pid, and the means to end it.
final class WorkerProcess {
    private let child: ChildProcess
    let reader: WorkerFrameReader

    init(launcher: ScanWorkerLauncher, command: WorkerCommand, ringCapacity: Int = SharedRing.defaultCapacity) throws(ScanError) {
        var command = command
        // A scan's image bytes go through shared memory, which the worker gets as its descriptor 3.
        let ring = command.action == .scan ? try SharedRing(capacity: ringCapacity) : nil
        if let ring { command.ring = WorkerCommand.Ring(descriptor: 3, capacity: ring.capacity) }
        do {
            child = try ChildProcess(
                executable: launcher.executable, arguments: launcher.arguments, environment: launcher.environment,
                passing: ring.map { [$0.fd] } ?? [])
        } catch {
            throw ScanError(.backendCrashed, "cannot start the scan worker: \(error)")
        }
        reader = WorkerFrameReader(fd: child.standardOutput!, ring: ring) { [child] in child.write(Array("w".utf8)) }
        guard var line = try? JSONEncoder().encode(command) else { throw ScanError(.invalidValue, "cannot encode the command") }
        line.append(10)
        child.write(Array(line))
    }

    var pid: pid_t { child.pid }

    /// Asks the worker to cancel (it calls sane_cancel and reports `cancelled`).
    func requestCancel() { child.write(Array("c".utf8)) }

    /// Ends the worker at once.
    func kill() { child.signal(SIGKILL) }

    /// Gives the worker a moment to exit on its own after it has reported, then ends it.
    func finish(grace: Duration = .seconds(2)) {
        // The worker's exit closes its end of the pipe: wait for that rather than polling for the exit.
        let closed = reader.waitForClose(within: grace)
        if !closed { kill() }
        child.wait()
    }

    /// Waits for exit; describes how it ended.
    func waitForExit() -> String { child.wait().description }
}
