import Foundation
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with `posix_spawn`, with pipes to its stdin and from its stdout.
///
/// Foundation's `Process` reaps children on a shared queue: while one `waitUntilExit()` blocks, other children
/// stay zombies, which a long-running service that starts many workers cannot afford. Here each child is reaped
/// by `waitpid` on its own pid, by whoever asks first.
public final class ChildProcess: Sendable {
    /// How a child ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        public var description: String {
            switch self {
            case .exited(let status): "exited with status \(status)"
            case .signalled(let signal): "killed by signal \(signal)"
            }
        }
    }

    /// A failure to start.
    public struct SpawnError: Error, Sendable, CustomStringConvertible {
        public var executable: String
        public var errno: Int32
        public var description: String { "cannot start \(executable): \(Errno(rawValue: errno))" }
    }

    /// The child's pid.
    public let pid: pid_t
    /// Write end of the child's stdin (nil when stdin was not piped).
    public let standardInput: Int32?
    /// Read end of the child's stdout (nil when stdout was not piped).
    public let standardOutput: Int32?
    private let termination = Mutex<Termination?>(nil)

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module does not import.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Starts `executable` (searched on PATH when it has no slash) with `arguments` and the environment
    /// of this process overlaid with `environment`. Signals are reset to their defaults in the child.
    /// The child gets `passing[i]` as its file descriptor `3 + i`; no other descriptor beyond 2.
    public init(
        executable: String, arguments: [String], environment: [String: String] = [:],
        pipeInput: Bool = true, pipeOutput: Bool = true, discardErrors: Bool = false,
        passing: [Int32] = []
    ) throws(SpawnError) {
        // Pipes are made close-on-exec and the child spawned under one lock, so that a child spawned
        // at the same time from another thread never inherits this child's pipe ends.
        Self.spawnLock.lock()
        defer { Self.spawnLock.unlock() }
        // Each passed descriptor is first copied above the slots it goes to, so that no copy overwrites
        // another's source and none is already in its slot (where dup2 would keep close-on-exec set).
        var copies: [Int32] = []
        defer { copies.forEach { close($0) } }
        for descriptor in passing {
            let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, Int32(3 + passing.count))
            guard copy >= 0 else { throw SpawnError(executable: executable, errno: errno) }
            copies.append(copy)
        }
        var inputPipe: [Int32] = [-1, -1], outputPipe: [Int32] = [-1, -1]
        if pipeInput { guard Self.makePipe(&inputPipe) else { throw SpawnError(executable: executable, errno: errno) } }
        if pipeOutput {
            guard Self.makePipe(&outputPipe) else {
                let failure = SpawnError(executable: executable, errno: errno)
                if pipeInput { close(inputPipe[0]); close(inputPipe[1]) }
                throw failure
            }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if pipeInput { posix_spawn_file_actions_adddup2(&actions, inputPipe[0], STDIN_FILENO) }
        if pipeOutput { posix_spawn_file_actions_adddup2(&actions, outputPipe[1], STDOUT_FILENO) }
        if discardErrors { posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0) }
        for (slot, copy) in copies.enumerated() { posix_spawn_file_actions_adddup2(&actions, copy, Int32(3 + slot)) }
        // Nothing else this process has open (device nodes, sockets, files a library opened without
        // close-on-exec) reaches the child.
        _ = Self.closeFrom?(&actions, Int32(3 + passing.count))

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), defaults = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&defaults)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let status =
            executable.contains("/")
            ? posix_spawn(&child, executable, &actions, &attributes, argv, envp)
            : posix_spawnp(&child, executable, &actions, &attributes, argv, envp)
        if pipeInput { close(inputPipe[0]) }
        if pipeOutput { close(outputPipe[1]) }
        guard status == 0 else {
            if pipeInput { close(inputPipe[1]) }
            if pipeOutput { close(outputPipe[0]) }
            throw SpawnError(executable: executable, errno: status)
        }
        pid = child
        standardInput = pipeInput ? inputPipe[1] : nil
        standardOutput = pipeOutput ? outputPipe[0] : nil
    }

    /// Whether the child is still running (reaps it if it has ended).
    public var isRunning: Bool { poll() == nil }

    /// How the child ended, without waiting (nil while it runs).
    public func poll() -> Termination? {
        termination.withLock { state in
            if state == nil { state = Self.reap(pid, options: WNOHANG) }
            return state
        }
    }

    /// Waits for the child to end.
    @discardableResult
    public func wait() -> Termination {
        if let ended = termination.withLock({ $0 }) { return ended }
        let ended = Self.reap(pid, options: 0) ?? .exited(-1)
        return termination.withLock { state in
            if state == nil { state = ended }
            return state!
        }
    }

    /// Sends a signal while the child runs.
    public func signal(_ number: Int32) {
        if isRunning { _ = Glibc.kill(pid, number) }
    }

    /// Writes all of `bytes` to the child's stdin; false when the pipe is closed (the child has gone).
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        guard let fd = standardInput else { return false }
        return Self.withSIGPIPEBlocked {
            (try? FileDescriptor(rawValue: fd).writeAll(bytes)) != nil
        }
    }

    /// Runs `body` with SIGPIPE blocked on this thread, so that writing to a child that has died gives EPIPE
    /// instead of killing the process, and takes a SIGPIPE that `body` raised off the thread before unblocking.
    /// The process's signal dispositions are left alone: an app that embeds CounterKit keeps its own.
    private static func withSIGPIPEBlocked<T>(_ body: () -> T) -> T {
        var pipeSignal = sigset_t(), previous = sigset_t(), pending = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        sigpending(&pending)
        let alreadyPending = sigismember(&pending, SIGPIPE) == 1
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous)
        defer {
            sigpending(&pending)
            if !alreadyPending && sigismember(&pending, SIGPIPE) == 1 {
                var now = timespec(tv_sec: 0, tv_nsec: 0)
                while sigtimedwait(&pipeSignal, nil, &now) == -1 && errno == EINTR {}
            }
            pthread_sigmask(SIG_SETMASK, &previous, nil)
        }
        return body()
    }

    /// Reads the child's stdout to its end.
    public func readAllOutput() -> [UInt8] {
        guard let fd = standardOutput else { return [] }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while let count = try? buffer.withUnsafeMutableBytes({ try FileDescriptor(rawValue: fd).read(into: $0) }), count > 0 {
            output += buffer[0..<count]
        }
        return output
    }

    private static let spawnLock = NSLock()

    private static func makePipe(_ ends: inout [Int32]) -> Bool {
        guard pipe(&ends) == 0 else { return false }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }

    private static func reap(_ pid: pid_t, options: Int32) -> Termination? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, options)
            if result == pid { break }
            if result == 0 { return nil }
            if errno == EINTR { continue }
            return .exited(-1)  // ECHILD: already reaped elsewhere
        }
        let low = status & 0x7f
        return low == 0 ? .exited((status >> 8) & 0xff) : .signalled(low)
    }

    deinit {
        if let fd = standardInput { close(fd) }
        if let fd = standardOutput { close(fd) }
        if termination.withLock({ $0 }) == nil {
            _ = Glibc.kill(pid, SIGKILL)
            _ = Self.reap(pid, options: 0)
        }
    }
}
