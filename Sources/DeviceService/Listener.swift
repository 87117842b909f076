import Foundation
import SystemPackage

/// Where the service listens.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// A Unix domain socket at a path, created by the service.
    case unixSocket(path: String)
    /// A socket passed in already listening (systemd socket activation).
    case inherited(fileDescriptor: Int32)
    /// TCP on a loopback address (only when asked for explicitly).
    case tcp(host: String, port: Int)

    public var description: String {
        switch self {
        case .unixSocket(let path): "unix:\(path)"
        case .inherited(let fd): "inherited fd \(fd)"
        case .tcp(let host, let port): "tcp:\(host):\(port)"
        }
    }

    /// The default socket path: `/run/counterkit/api.sock` as root, else `$XDG_RUNTIME_DIR/counterkit/api.sock`
    /// (or `/tmp/counterkit-UID/api.sock` without a runtime directory).
    public static var defaultSocketPath: String {
        if getuid() == 0 { return "/run/counterkit/api.sock" }
        if let runtime = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            return runtime + "/counterkit/api.sock"
        }
        return "/tmp/counterkit-\(getuid())/api.sock"
    }

    /// Sockets handed over by systemd (`LISTEN_PID` = this process, `LISTEN_FDS` = count, starting at fd 3).
    /// The variables are removed so that child processes do not take the sockets for theirs.
    public static func systemdSockets() -> [ListenAddress] {
        let environment = ProcessInfo.processInfo.environment
        guard let pid = environment["LISTEN_PID"].flatMap(Int32.init), pid == getpid(),
            let count = environment["LISTEN_FDS"].flatMap(Int32.init), count > 0
        else { return [] }
        unsetenv("LISTEN_PID")
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_FDNAMES")
        // Inherited without close-on-exec: set it, or every scan worker would hold the API socket open.
        return (0..<count).map { offset in
            _ = fcntl(3 + offset, F_SETFD, FD_CLOEXEC)
            return .inherited(fileDescriptor: 3 + offset)
        }
    }

    /// Parses `HOST:PORT` for `--listen`; only loopback hosts are accepted.
    public static func parseTCP(_ text: String) throws -> ListenAddress {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ServiceSetupError("--listen expects HOST:PORT, got '\(text)'")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard ["127.0.0.1", "::1", "localhost"].contains(host) else {
            throw ServiceSetupError(
                "--listen accepts loopback addresses only (127.0.0.1, ::1), got '\(host)': the bridge is for web pages in "
                    + "a browser on this PC, and a paired token is no network credential (it is sent in the clear and "
                    + "grants every device). Other machines use eSCL (--escl) for scanning, or their own CounterKit")
        }
        return .tcp(host: host, port: port)
    }
}

/// Access to the socket file: its mode and owning group.
public struct SocketPermissions: Sendable, Equatable {
    /// File mode of the socket (default 0660: owner and group read/write).
    public var mode: mode_t
    /// Group owning the socket; nil leaves the creating user's group.
    public var group: String?

    /// Creates permissions.
    public init(mode: mode_t = 0o660, group: String? = nil) {
        self.mode = mode
        self.group = group
    }

    /// The default: mode 0660, group `counterkit` when that group exists.
    public static var `default`: SocketPermissions {
        SocketPermissions(group: getgrnam("counterkit") != nil ? "counterkit" : nil)
    }
}

/// Creating a listening Unix socket safely: refuses to steal a live socket or replace a non-socket,
/// and never exposes the socket with a wider mode than asked for.
enum UnixSocketFactory {
    static func listen(path: String, permissions: SocketPermissions, backlog: Int32 = 256) throws -> Int32 {
        guard UnixSocket.withAddress(path, { _, _ in true }) != nil else {
            throw ServiceSetupError("socket path is \(path.utf8.count) bytes; Unix sockets allow 107: \(path)")
        }
        var gid: gid_t?
        if let group = permissions.group {
            if let number = gid_t(group) {
                gid = number
            } else {
                guard let entry = getgrnam(group) else { throw ServiceSetupError("no group '\(group)' for the socket") }
                gid = entry.pointee.gr_gid
            }
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            // The directory is the service's own: readable by the group so members can reach the socket.
            guard mkdir(directory, gid == nil ? 0o700 : 0o750) == 0 || errno == EEXIST else {
                throw ServiceSetupError("cannot create \(directory): \(Errno(rawValue: errno))")
            }
            if let gid { _ = chown(directory, uid_t.max, gid) }
        }
        try removeStaleSocket(at: path)

        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ServiceSetupError("socket(): \(Errno(rawValue: errno))") }
        // Linux creates the socket file with the socket's own inode mode (less the umask), so an owner-only mode
        // set on the descriptor before bind leaves no window of wider access; it widens to the asked mode after
        // chown. (Changing the umask instead would race with files created meanwhile by other threads.)
        guard fchmod(fd, 0o600) == 0 else {
            let message = Errno(rawValue: errno)
            close(fd)
            throw ServiceSetupError("cannot restrict the socket for \(path): \(message)")
        }
        let bound = UnixSocket.withAddress(path) { bind(fd, $0, $1) } ?? -1
        guard bound == 0 else {
            let failure = Errno(rawValue: errno)
            close(fd)
            throw ServiceSetupError("cannot bind \(path): \(failure)")
        }
        if let gid, chown(path, uid_t.max, gid) != 0 {
            let message = Errno(rawValue: errno)
            close(fd)
            unlink(path)
            throw ServiceSetupError("cannot give \(path) to group \(permissions.group ?? ""): \(message)")
        }
        guard chmod(path, permissions.mode) == 0, Glibc.listen(fd, backlog) == 0 else {
            let message = Errno(rawValue: errno)
            close(fd)
            unlink(path)
            throw ServiceSetupError("cannot listen on \(path): \(message)")
        }
        return fd
    }

    /// A leftover socket from a process that died is removed; a live one, or anything else at the path, is an error.
    private static func removeStaleSocket(at path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw ServiceSetupError("\(path) exists and is not a socket; remove it or choose another --socket")
        }
        if let probe = UnixSocket.connect(path) {
            close(probe)
            throw ServiceSetupError("another process is already serving on \(path)")
        }
        unlink(path)
    }

    /// Whether an inherited descriptor is a listening stream socket.
    static func isListeningSocket(_ fd: Int32) -> Bool {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return false }
        var accepting: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0 && accepting == 1
    }
}
