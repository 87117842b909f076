import Foundation

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
