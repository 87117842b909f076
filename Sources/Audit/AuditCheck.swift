import Attachments
import CounterKitCore
import Crypto
import Foundation

/// What a check of an audit log established.
public struct AuditReport: Sendable, Equatable {
    /// How many entries, numbered 1 to `entries`, verified.
    public var entries: Int
    /// The hex SHA-256 of the last line: the head to keep, to notice a log cut short later.
    public var head: String
    /// The keys that signed them.
    public var keyIDs: [String]

    /// One line for people.
    public var summary: String {
        entries == 0
            ? "valid: the audit log is empty"
            : "valid: \(entries) entries (1…\(entries)) chained and signed by key \(keyIDs.joined(separator: ", ")); head \(entries) \(head)"
    }
}

/// Checks an audit log line by line: each line an entry, numbered one more than the one before, chained to it by
/// `prev`, and signed by a known key. Names the first missing, altered or reordered entry (`audit_broken`).
public enum AuditCheck {
    /// How a check verifies one entry's signature: true or false, or nil when the key is not known.
    public typealias Verifier = @Sendable (_ signature: SignatureRecord, _ signed: [UInt8]) -> Bool?

    /// Checks the log file at `path`; with `head` (an entry's number and hash kept from an earlier check), also that
    /// the log still reaches it.
    public static func verifyFile(_ path: String, reaching head: (seq: Int, sha256: String)? = nil, verifier: Verifier) throws(AttachmentError) -> AuditReport {
        guard FileManager.default.fileExists(atPath: path) else {
            throw AttachmentError(.notFound, "no audit log at \(path): the spool was never sealed ([seal] key)")
        }
        var lines: [[UInt8]] = []
        let torn = try AuditLog.forEachLine(path) { _, line in lines.append(line) }
        let report = try verify(lines: lines, reaching: head, verifier: verifier)
        if torn > 0 {
            throw AttachmentError(
                .auditBroken,
                "the log ends in an incomplete line of \(torn) bytes after entry \(report.entries) "
                    + "(a power cut while the service ran; its next start cuts it off and records that)")
        }
        return report
    }

    /// Checks `lines` (each without its newline), the first being entry 1; with `head`, also that entry `head.seq`'s
    /// line has the hash `head.sha256` (the log was not cut short or rewritten since that head was kept).
    public static func verify(
        lines: [[UInt8]], reaching head: (seq: Int, sha256: String)? = nil, verifier: Verifier
    ) throws(AttachmentError) -> AuditReport {
        var previousHash = AuditEntry.firstPrev
        var keys: [String] = []
        let numbers = lines.map { AuditEntry.parse(line: $0)?.entry.seq }
        for (index, line) in lines.enumerated() {
            let expected = index + 1
            let at = "line \(expected)"
            guard let (entry, signed, signature) = AuditEntry.parse(line: line) else {
                throw AttachmentError(.auditBroken, "\(at) is not an audit entry: it was altered (entry \(expected) expected)")
            }
            let record = SignatureRecord(algorithm: entry.algorithm, keyId: entry.keyId, signature: signature)
            switch verifier(record, signed) {
            case nil:
                throw AttachmentError(.auditBroken, "entry \(entry.seq) (\(at)) is signed by key \(entry.keyId), which was not given: give its public key")
            case false?:
                throw AttachmentError(.auditBroken, "entry \(entry.seq) (\(at)) was altered: its signature does not verify with key \(entry.keyId)")
            case true?:
                break
            }
            if entry.seq > expected, let later = numbers[(index + 1)...].firstIndex(of: expected) {
                throw AttachmentError(
                    .auditBroken, "the entries are reordered: \(at) holds entry \(entry.seq), and entry \(expected) is at line \(later + 1)")
            }
            if entry.seq > expected {
                throw AttachmentError(
                    .auditBroken,
                    expected == entry.seq - 1
                        ? "entry \(expected) is missing: \(at) holds entry \(entry.seq)"
                        : "entries \(expected)…\(entry.seq - 1) are missing: \(at) holds entry \(entry.seq)")
            }
            if entry.seq < expected {
                throw AttachmentError(.auditBroken, "the entries are reordered or repeated: \(at) holds entry \(entry.seq) after entry \(expected - 1)")
            }
            guard entry.prev == previousHash else {
                throw AttachmentError(
                    .auditBroken,
                    expected == 1
                        ? "entry 1 (\(at)) does not start a log: earlier entries were removed"
                        : "entry \(entry.seq) (\(at)) does not follow entry \(expected - 1): that entry was altered or replaced")
            }
            previousHash = AuditLog.hex(SHA256.hash(data: line))
            if !keys.contains(entry.keyId) { keys.append(entry.keyId) }
            if let head, head.seq == entry.seq, head.sha256 != previousHash {
                throw AttachmentError(.auditBroken, "entry \(head.seq) is not the one the kept head names: the log was rewritten from there on")
            }
        }
        if let head, head.seq > lines.count {
            throw AttachmentError(
                .auditBroken, "the log ends at entry \(lines.count), before the kept head \(head.seq): its newest entries were removed")
        }
        return AuditReport(entries: lines.count, head: previousHash, keyIDs: keys)
    }
}
