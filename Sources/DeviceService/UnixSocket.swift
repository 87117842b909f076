import Foundation

/// Unix-domain socket addresses and connections: the one place that fills a `sockaddr_un`.
public enum UnixSocket: Sendable {
    /// The address for `path`, or nil when the path is too long for a Unix socket (107 bytes on Linux).
    public static func address(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard path.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        return address
    }

    /// Connects a new stream socket (close-on-exec) to `path`; nil when nothing accepts there.
    public static func connect(_ path: String) -> Int32? {
        try? connecting(path).get()
    }

    /// Connects to the socket at `path`: the descriptor, or the errno of the failure.
    static func connecting(_ path: String) -> Result<Int32, Errno> {
        guard var address = address(path) else { return .failure(Errno(code: ENAMETOOLONG)) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(Errno(code: errno)) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let failure = Errno(code: errno)
            close(fd)
            return .failure(failure)
        }
        return .success(fd)
    }

    /// An errno value as an error.
    struct Errno: Error {
        var code: Int32
        var message: String { String(cString: strerror(code)) }
    }
}
