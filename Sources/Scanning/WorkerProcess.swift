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

    /// `$COUNTERKIT_WORKER`, else this process when it is `counterkit`, else
    /// `counterkit` beside this executable, else on `PATH`.
    public static func locate() -> ScanWorkerLauncher {
        if let path = ProcessInfo.processInfo.environment["COUNTERKIT_WORKER"], !path.isEmpty {
            return ScanWorkerLauncher(executable: path)
        }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let url = URL(fileURLWithPath: me)
        if url.lastPathComponent == "counterkit" { return ScanWorkerLauncher(executable: url.path) }
        let sibling = url.deletingLastPathComponent().appendingPathComponent("counterkit").path
        if FileManager.default.isExecutableFile(atPath: sibling) { return ScanWorkerLauncher(executable: sibling) }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin").split(separator: ":") {
            let candidate = "\(directory)/counterkit"
            if FileManager.default.isExecutableFile(atPath: candidate) { return ScanWorkerLauncher(executable: candidate) }
        }
        return ScanWorkerLauncher(executable: "counterkit")
    }
}

/// A running worker child: its pipes, its pid, and the means to end it.
final class WorkerProcess {
    let process = Process()
    let reader: WorkerFrameReader
    private let input: FileHandle

    init(launcher: ScanWorkerLauncher, command: WorkerCommand) throws(ScanError) {
        process.executableURL = URL(fileURLWithPath: launcher.executable)
        process.arguments = launcher.arguments
        process.environment = ProcessInfo.processInfo.environment.merging(launcher.environment) { $1 }
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        do { try process.run() } catch {
            throw ScanError(.backendCrashed, "cannot start the scan worker \(launcher.executable): \(error.localizedDescription)")
        }
        input = stdin.fileHandleForWriting
        reader = WorkerFrameReader(fd: stdout.fileHandleForReading.fileDescriptor)
        // Keep the read end's FileHandle alive as long as the reader uses its fd.
        outputHandle = stdout.fileHandleForReading
        guard var line = try? JSONEncoder().encode(command) else { throw ScanError(.invalidValue, "cannot encode the command") }
        line.append(10)
        send(line)
    }

    private let outputHandle: FileHandle

    var pid: pid_t { process.processIdentifier }

    /// Asks the worker to cancel (it calls sane_cancel and reports `cancelled`).
    func requestCancel() { send(Data("c".utf8)) }

    /// Ends the worker at once.
    func kill() { if process.isRunning { _ = Glibc.kill(pid, SIGKILL) } }

    /// Gives the worker a moment to exit on its own after it has reported, then ends it.
    func finish(grace: Duration = .seconds(2)) {
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        kill()
        process.waitUntilExit()
    }

    /// Waits for exit; describes how it ended.
    func waitForExit() -> String {
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal
            ? "killed by signal \(process.terminationStatus)" : "exited with status \(process.terminationStatus)"
    }

    private func send(_ data: Data) {
        _ = data.withUnsafeBytes { write(input.fileDescriptor, $0.baseAddress, $0.count) }
    }

    deinit {
        kill()
        try? input.close()
        process.waitUntilExit()
    }
}
