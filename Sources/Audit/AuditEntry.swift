import Attachments
import Foundation

/// What an audit entry records.
public enum AuditEvent: String, Sendable, Codable, CaseIterable {
    /// The service started on the spool (`detail.version`; `detail.tornBytes` when a power cut had cut the last entry
    /// short and it was removed).
    case start
    /// The counter key changed since the last entry (`detail.previous`, `detail.current`).
    case key
    /// An attachment was stored.
    case capture
    /// An attachment's data was served.
    case download
    /// An attachment was deleted on request.
    case delete
    /// The retention policy removed an attachment.
    case expire
    /// The plaintext retention removed an attachment's data; its envelope stays.
    case plaintextExpire = "plaintext-expire"
    /// A web origin was paired with the loopback bridge or revoked (`detail.origin`, `detail.change`).
    case pairing
}

/// One line of the audit log (`audit/log.jsonl` in the spool).
///
/// A line is the entry's JSON (sorted keys) with its signature as the last member:
/// `{"attachment":…,"detail":{…},"event":"capture","keyId":…,"prev":…,"seq":7,"time":…,"signature":"BASE64"}`. The
/// signature covers the line up to `,"signature":` with `}` in its place; `prev` is the hex SHA-256 of the previous
/// line's bytes (64 zeros for the first), so removing, changing or reordering a line breaks the chain.
public struct AuditEntry: Sendable, Equatable, Codable {
    /// The entry's number: 1 for the first line, then one more per line.
    public var seq: Int
    /// When it was written: ISO 8601, UTC, milliseconds.
    public var time: String
    /// What happened.
    public var event: AuditEvent
    /// The attachment concerned, if any.
    public var attachment: String?
    /// What else is known (the attachment's SHA-256, who asked, …).
    public var detail: [String: String]
    /// The hex SHA-256 of the previous line.
    public var prev: String
    /// The signing key's id.
    public var keyId: String
    /// The signature's algorithm (`ed25519`, `ecdsa-p256-sha256`).
    public var algorithm: String

    /// `prev` of the first entry.
    public static let firstPrev = String(repeating: "0", count: 64)

    /// The bytes the signature covers: the entry's JSON, sorted keys, compact.
    public func signedBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, numbers and a string dictionary always encode.
        return Array(try! encoder.encode(self))
    }

    /// The line as stored (without its newline): ``signedBytes()`` with the signature as the last member.
    public func line(signature: [UInt8]) -> [UInt8] {
        Array(signedBytes().dropLast()) + Array(#","signature":""#.utf8) + Array(Data(signature).base64EncodedString().utf8) + Array(#""}"#.utf8)
    }

    /// A stored line taken apart: the entry, the bytes its signature covers, and the signature; nil when the line is
    /// not one (a line with anything after its signature is not). The signature is the line's last member; everything
    /// before it is what it covers.
    public static func parse(line: some Collection<UInt8>) -> (entry: AuditEntry, signed: [UInt8], signature: [UInt8])? {
        let bytes = Array(line)
        let marker = Array(#","signature":""#.utf8)
        guard bytes.count > marker.count + 2, bytes.suffix(2).elementsEqual(#""}"#.utf8) else { return nil }
        var start: Int?
        var index = bytes.count - marker.count - 2
        while index >= 0 {
            if bytes[index..<(index + marker.count)].elementsEqual(marker) {
                start = index
                break
            }
            index -= 1
        }
        guard let start else { return nil }
        let signed = Array(bytes[..<start]) + [UInt8(ascii: "}")]
        let encoded = bytes[(start + marker.count)..<(bytes.count - 2)]
        guard let signature = Data(base64Encoded: Data(encoded)),
            let entry = try? JSONDecoder().decode(AuditEntry.self, from: Data(signed))
        else { return nil }
        return (entry, signed, Array(signature))
    }
}
