import Foundation
import SystemPackage

/// Unix-domain socket addresses and connections: the one place that fills a `sockaddr_un`.
public enum UnixSocket: Sendable {
    /// Calls `body` with the address for `path` as `bind`, `connect` and `sendto` take it; nil (and `body` is not
    /// called) when the path is too long for a Unix socket (107 bytes on Linux). A path that starts with `@` names the
    /// abstract namespace (as systemd's `NOTIFY_SOCKET` may).
    public static func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> T) rethrows -> T? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        // An abstract name is exactly its bytes; a path's address is the whole structure (its name ends at the NUL).
        let length = abstract ? socklen_t(MemoryLayout<sa_family_t>.size + bytes.count) : socklen_t(MemoryLayout<sockaddr_un>.size)
        return try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, length) }
        }
    }

    /// Connects a new stream socket (close-on-exec) to `path`; nil when nothing accepts there.
    public static func connect(_ path: String) -> Int32? {
        try? connecting(path).get()
    }

    /// Connects to the socket at `path`: the descriptor, or the errno of the failure.
    static func connecting(_ path: String) -> Result<Int32, Errno> {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(Errno(rawValue: errno)) }
        guard let connected = withAddress(path, { Glibc.connect(fd, $0, $1) }) else {
            close(fd)
            return .failure(.fileNameTooLong)
        }
        guard connected == 0 else {
            let failure = Errno(rawValue: errno)
            close(fd)
            return .failure(failure)
        }
        return .success(fd)
    }
}
