import CounterKitCore
import Crypto
import Foundation
import NIOConcurrencyHelpers
import SystemPackage

/// The web origins paired with the loopback bridge and their tokens. A token is shown once, when it is issued;
/// only its SHA-256 is kept, in a file of the service's own (mode 0600), so tokens survive a restart and a copy of
/// the file cannot be replayed as a token.
public final class PairingStore: Sendable {
    /// One issued token, as kept.
    public struct Pairing: Codable, Sendable, Equatable {
        /// The web origin the token is for (`https://counter.example.gov.cn`).
        public var origin: String
        /// SHA-256 of the token, lowercase hex.
        public var tokenSHA256: String
        /// When it was issued.
        public var createdAt: Date
    }

    /// What the store file holds.
    private struct File: Codable {
        var version = 1
        var pairings: [Pairing]
    }

    /// The file the pairings are kept in.
    public let path: String
    private let pairings: NIOLockedValueBox<[Pairing]>

    /// Opens (or starts) the store at `path`; a file that cannot be read is an error, never silently emptied.
    public init(path: String) throws(ServiceSetupError) {
        self.path = path
        var loaded: [Pairing] = []
        if let data = FileManager.default.contents(atPath: path) {
            do { loaded = try Self.decoder.decode(File.self, from: data).pairings } catch {
                throw ServiceSetupError("pairings file \(path) cannot be read: \(error)")
            }
        }
        pairings = NIOLockedValueBox(loaded)
    }

    /// An origin in the form browsers send it: `scheme://host[:port]`, lowercase, without a default port or a path.
    /// Nil for anything else (`null`, a path, userinfo, a non-http scheme).
    public static func normalizedOrigin(_ text: String) -> String? {
        guard let components = URLComponents(string: text.trimmingCharacters(in: .whitespaces)),
            let scheme = components.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = components.host?.lowercased(), !host.isEmpty,
            components.user == nil, components.password == nil, components.query == nil, components.fragment == nil,
            components.path.isEmpty || components.path == "/"
        else { return nil }
        let shownHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let port = components.port.flatMap { ($0 == 80 && scheme == "http") || ($0 == 443 && scheme == "https") ? nil : $0 }
        return "\(scheme)://\(shownHost)\(port.map { ":\($0)" } ?? "")"
    }

    /// Issues a new token for `origin` (already normalized) and keeps its hash; the token itself is returned once.
    public func pair(origin: String) throws(ServiceSetupError) -> (token: String, pairing: Pairing) {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        let token =
            "ckt_"
            + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let pairing = Pairing(origin: origin, tokenSHA256: Self.hash(token), createdAt: Date())
        try update { $0.append(pairing) }
        return (token, pairing)
    }

    /// Removes every token of `origin`; how many there were.
    @discardableResult
    public func revoke(origin: String) throws(ServiceSetupError) -> Int {
        var removed = 0
        try update { list in
            removed = list.count { $0.origin == origin }
            list.removeAll { $0.origin == origin }
        }
        return removed
    }

    /// Every pairing, oldest first.
    public func list() -> [Pairing] { pairings.withLockedValue { $0 } }

    /// Whether `origin` has at least one token.
    public func isPaired(_ origin: String) -> Bool { pairings.withLockedValue { $0.contains { $0.origin == origin } } }

    /// The origin a token was issued for; nil for a token never issued or revoked.
    public func origin(ofToken token: String) -> String? {
        let digest = Self.hash(token)
        return pairings.withLockedValue { $0.first { $0.tokenSHA256 == digest }?.origin }
    }

    /// Changes the list and writes it to a temp file that replaces the store file (fsynced), all under the lock.
    private func update(_ change: (inout [Pairing]) -> Void) throws(ServiceSetupError) {
        let result: Result<Void, ServiceSetupError> = pairings.withLockedValue { list in
            var changed = list
            change(&changed)
            do {
                try write(changed)
                list = changed
                return .success(())
            } catch {
                return .failure(ServiceSetupError("cannot write the pairings file \(path): \(error)"))
            }
        }
        try result.get()
    }

    private func write(_ list: [Pairing]) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let data = try Self.encoder.encode(File(pairings: list))
        let path = self.path
        let replaced = data.withUnsafeBytes { bytes in Result { () throws(Errno) in try replaceFile(at: path, with: bytes, permissions: .ownerReadWrite) } }
        try replaced.get()
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
