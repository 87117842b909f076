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

/// Who may use the API. Empty lists admit everyone who can open the socket (its mode and group decide).
public struct AccessPolicy: Sendable, Equatable {
    /// User ids allowed in.
    public var allowedUsers: Set<UInt32>
    /// Group ids allowed in (primary or supplementary membership).
    public var allowedGroups: Set<UInt32>

    /// Creates a policy.
    public init(allowedUsers: Set<UInt32> = [], allowedGroups: Set<UInt32> = []) {
        self.allowedUsers = allowedUsers
        self.allowedGroups = allowedGroups
    }

    /// Everyone who can reach the socket.
    public static let open = AccessPolicy()

    /// Whether the policy restricts anyone.
    public var isRestricted: Bool { !allowedUsers.isEmpty || !allowedGroups.isEmpty }

    /// Whether a peer may use the API. Peers without credentials (TCP) pass only an open policy.
    public func admits(_ peer: PeerCredentials?) -> Bool {
        guard isRestricted else { return true }
        guard let peer else { return false }
        if peer.uid == 0 || allowedUsers.contains(peer.uid) || allowedGroups.contains(peer.gid) { return true }
        guard !allowedGroups.isEmpty else { return false }
        return !allowedGroups.isDisjoint(with: Self.groups(ofUser: peer.uid, primary: peer.gid))
    }

    /// The groups a user belongs to, from the group database.
    static func groups(ofUser uid: UInt32, primary: UInt32) -> Set<UInt32> {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return [primary] }
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, primary, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            guard getgrouplist(name, primary, &groups, &count) >= 0 else { return [primary] }
        }
        return Set(groups.prefix(Int(count)))
    }

    /// Resolves user and group names or numbers; throws a message naming the one not found.
    public static func resolve(users: [String], groups: [String]) throws -> AccessPolicy {
        var policy = AccessPolicy()
        for user in users {
            if let uid = UInt32(user) { policy.allowedUsers.insert(uid); continue }
            guard let entry = getpwnam(user) else { throw ServiceSetupError("no user '\(user)'") }
            policy.allowedUsers.insert(entry.pointee.pw_uid)
        }
        for group in groups {
            if let gid = UInt32(group) { policy.allowedGroups.insert(gid); continue }
            guard let entry = getgrnam(group) else { throw ServiceSetupError("no group '\(group)'") }
            policy.allowedGroups.insert(entry.pointee.gr_gid)
        }
        return policy
    }
}

/// A problem that stops the service from starting (bad socket path, unknown group…).
public struct ServiceSetupError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
