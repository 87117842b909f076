import Attachments
import CounterKitCore
import Crypto
import Foundation
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The spool's tamper-evident log (电子监察): every capture, download, deletion, expiry, key change and pairing change,
/// one signed line each, chained by SHA-256 (``AuditEntry``), in `audit/log.jsonl`.
///
/// Every entry is signed, not only a checkpoint every N entries: a signature costs tens of microseconds, less than
/// the fsync each entry gets anyway, and an entry that stands alone still verifies when only part of the log is
/// handed over (`GET /v1/audit?since=`). Each line is written whole with `O_APPEND` and synced before `append`
/// returns; a line a power cut left incomplete is cut off at the next start and the `start` entry says how many bytes
/// went (`tornBytes`). What the chain cannot show by itself is the loss of its newest lines: a verifier that kept an
/// earlier head (`seq` and its hash) notices a log that no longer reaches it.
public final class AuditLog: Sendable {
    /// The log's path inside a spool.
    public static let relativePath = "audit/log.jsonl"

    /// The log file.
    public let path: String
    private let signer: any CounterSigning
    private let state: Mutex<State>

    private struct State {
        var file: FileDescriptor
        var seq: Int
        var lastHash: String
        var size: Int64
    }

    /// The log of `spool`, created when missing; appends a `start` entry (and a `key` entry when the signing key is not
    /// the one the last entry was signed with). `version` goes into the `start` entry.
    public init(spool: URL, signer: any CounterSigning, version: String) throws(AttachmentError) {
        let path = spool.appendingPathComponent(Self.relativePath).path
        self.path = path
        self.signer = signer
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            throw AttachmentError(.ioError, "cannot create the audit log's directory for \(path): \(error.localizedDescription)")
        }
        let file = try systemCall(.ioError, "cannot open the audit log \(path)") {
            try FileDescriptor.openClosingOnExec(path, .readWrite, options: [.create, .append, .noFollow], permissions: [.ownerReadWrite])
        }
        let tail: Tail
        do throws(AttachmentError) {
            tail = try Self.readTail(path)
            if tail.tornBytes > 0 {
                let kept = tail.size - Int64(tail.tornBytes)
                try systemCall(.ioError, "cannot cut the incomplete last entry off \(path)") { try file.resize(to: kept) }
                try systemCall(.ioError, "flushing \(path) failed") { try file.sync() }
            }
        } catch {
            try? file.close()
            throw error
        }
        state = Mutex(State(file: file, seq: tail.lines, lastHash: tail.lastHash, size: tail.size - Int64(tail.tornBytes)))
        var detail = ["version": version]
        if tail.tornBytes > 0 { detail["tornBytes"] = String(tail.tornBytes) }
        if let previous = tail.lastKeyID, previous != signer.keyID {
            try append(.key, detail: ["previous": previous, "current": signer.keyID])
        }
        try append(.start, detail: detail)
    }

    deinit { state.withLock { try? $0.file.close() } }

    /// The newest entry's number and the hex SHA-256 of its line (0 and ``AuditEntry/firstPrev`` for an empty log).
    public var head: (seq: Int, sha256: String) { state.withLock { ($0.seq, $0.lastHash) } }

    /// Appends one entry, signed and synced; returns it.
    @discardableResult
    public func append(_ event: AuditEvent, attachment: String? = nil, detail: [String: String] = [:]) throws(AttachmentError) -> AuditEntry {
        let signer = signer
        let path = path
        let result = state.withLock { state -> Result<AuditEntry, AttachmentError> in
            Result { () throws(AttachmentError) -> AuditEntry in
                let time = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
                let entry = AuditEntry(
                    seq: state.seq + 1, time: time, event: event, attachment: attachment, detail: detail, prev: state.lastHash,
                    keyId: signer.keyID, algorithm: signer.algorithm)
                let record = try signer.sign(entry.signedBytes())
                guard let signature = record.signatureBytes else { throw AttachmentError(.internal, "the signer returned a signature that is not base64") }
                let line = entry.line(signature: signature)
                let file = state.file
                let written = Result { () throws(Errno) in
                    do { _ = try file.writeAll(line + [UInt8(ascii: "\n")]) } catch { throw error as? Errno ?? .ioError }
                    try file.syncData()
                }
                if case .failure(let error) = written {
                    // A line written in part is cut off again: the log never holds half an entry it goes on from.
                    try? state.file.resize(to: state.size)
                    throw AttachmentError(.ioError, "cannot append to the audit log \(path)", error)
                }
                state.seq += 1
                state.size += Int64(line.count + 1)
                state.lastHash = Self.hex(SHA256.hash(data: line))
                return entry
            }
        }
        return try result.get()
    }

    /// Appends the entry for a spool change: a capture, a deletion or an expiry, with the attachment's SHA-256.
    public func record(_ event: SpoolEvent) throws(AttachmentError) {
        switch event {
        case .stored(let manifest):
            var detail = [
                "kind": manifest.kind.rawValue, "format": manifest.format.rawValue, "sha256": manifest.sha256, "byteCount": String(manifest.byteCount),
            ]
            if let device = manifest.device { detail["device"] = device }
            if let sealed = manifest.sealed {
                detail["envelopeSha256"] = sealed.sha256
                detail["recipient"] = sealed.recipient
            }
            try append(.capture, attachment: manifest.id, detail: detail)
        case .deleted(let manifest, let who):
            try append(.delete, attachment: manifest.id, detail: who.merging(["sha256": manifest.sha256]) { $1 })
        case .expired(let manifest):
            try append(.expire, attachment: manifest.id, detail: ["sha256": manifest.sha256])
        case .plaintextRemoved(let manifest):
            try append(.plaintextExpire, attachment: manifest.id, detail: ["sha256": manifest.sha256])
        }
    }

    /// The stored lines after entry `since` (line N holds entry N), each without its newline, exactly as written.
    public func lines(since: Int) throws(AttachmentError) -> [[UInt8]] { try snapshot(since: since).lines }

    /// The stored lines after entry `since` up to the head, and that head, taken together: entries appended meanwhile
    /// (by a request served at the same time) are in neither.
    public func snapshot(since: Int) throws(AttachmentError) -> (lines: [[UInt8]], head: (seq: Int, sha256: String)) {
        let head = self.head
        guard since < head.seq else { return ([], head) }
        var lines: [[UInt8]] = []
        try Self.forEachLine(path) { number, line in
            if number > since && number <= head.seq { lines.append(line) }
        }
        return (lines, head)
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String { digest.map { String(format: "%02x", $0) }.joined() }

    /// What opening needs of the log: its whole lines, the last one's hash and key, and the bytes of an incomplete
    /// last line.
    private struct Tail {
        var lines = 0
        var lastHash = AuditEntry.firstPrev
        var lastKeyID: String?
        var size: Int64 = 0
        var tornBytes = 0
    }

    private static func readTail(_ path: String) throws(AttachmentError) -> Tail {
        var tail = Tail()
        var last: [UInt8] = []
        let leftover = try forEachLine(path) { number, line in
            tail.lines = number
            last = line
            tail.size += Int64(line.count + 1)
        }
        tail.tornBytes = leftover
        tail.size += Int64(leftover)
        if tail.lines > 0 {
            tail.lastHash = hex(SHA256.hash(data: last))
            tail.lastKeyID = AuditEntry.parse(line: last)?.entry.keyId
        }
        return tail
    }

    /// Calls `body` with each whole line (numbered from 1, without its newline); returns the byte count of an
    /// incomplete last line (0 when the file ends with a newline).
    @discardableResult
    static func forEachLine(_ path: String, _ body: (Int, [UInt8]) -> Void) throws(AttachmentError) -> Int {
        let file = try systemCall(.ioError, "cannot read the audit log \(path)") { try FileDescriptor.openClosingOnExec(path, .readOnly) }
        defer { try? file.close() }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var pending: [UInt8] = []
        var number = 0
        while true {
            let count = try systemCall(.ioError, "reading the audit log \(path) failed") { try buffer.withUnsafeMutableBytes { try file.read(into: $0) } }
            if count == 0 { break }
            var start = 0
            for index in 0..<count where buffer[index] == UInt8(ascii: "\n") {
                pending += buffer[start..<index]
                number += 1
                body(number, pending)
                pending.removeAll(keepingCapacity: true)
                start = index + 1
            }
            pending += buffer[start..<count]
        }
        return pending.count
    }
}
