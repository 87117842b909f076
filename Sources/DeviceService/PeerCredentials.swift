import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// Who is on the other end of a Unix-socket connection (SO_PEERCRED), read once per connection.
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    /// The peer's process id.
    public var pid: Int32
    /// The peer's user id.
    public var uid: UInt32
    /// The peer's primary group id.
    public var gid: UInt32

    /// Creates credentials.
    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    public var description: String { "uid=\(uid) pid=\(pid)" }

    /// Reads SO_PEERCRED from a socket channel; nil for TCP peers or when the kernel will not say.
    /// Must be called on the channel's event loop.
    static func read(from channel: any Channel) -> PeerCredentials? {
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        let future: EventLoopFuture<KernelPeerCredentials> = provider.unsafeGetSocketOption(level: .socket, name: .init(rawValue: SO_PEERCRED))
        // On the event loop the option is read synchronously; the future is already complete.
        let result = NIOLockedValueBox<PeerCredentials?>(nil)
        future.whenSuccess { credentials in
            if credentials.pid > 0 {
                result.withLockedValue { $0 = PeerCredentials(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid) }
            }
        }
        return result.withLockedValue { $0 }
    }
}

/// The kernel's `struct ucred` (pid_t, uid_t, gid_t), which Glibc's Swift module hides behind _GNU_SOURCE.
struct KernelPeerCredentials {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
