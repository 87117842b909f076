import Attachments
import Audit
import CounterKitTestSupport
import Crypto
import Foundation
import Sealing
import Testing

/// The spool's audit log: every change of the spool a signed, chained line; checked by Python's `cryptography` (an
/// implementation of the documented line format that is not ours) and by `counterkit audit verify`, which names the
/// first missing, altered or reordered entry.
@Suite("The audit log: signed, hash-chained, and every tamper named", .ownThreads)
struct AuditLogTests {
    let counterkit = SANETestEnvironment.counterkitExecutable

    func cli(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runCommand(["/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", counterkit] + arguments)
    }

    /// A spool with an audit log that saw two captures, a deletion and an expiry; the key's public PEM in `pub.pem`.
    func loggedSpool(_ algorithm: SealAlgorithm, in directory: TemporaryDirectory) throws -> (spool: URL, key: CounterKey, ids: [String]) {
        let spool = directory.url.appendingPathComponent("spool")
        let key = try CounterKey.generate(algorithm)
        try Data(key.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: directory.path("pub.pem")))
        let sealer = try CounterSealer.forSpool(spool, key: key)
        let log = try AuditLog(spool: spool, signer: sealer, version: "test")
        let store = try AttachmentStore(directory: spool, retention: RetentionPolicy(maxTotalBytes: 30), signer: sealer) { event in
            try? log.record(event)
        }
        var ids: [String] = []
        for text in ["{\"first\":1}", "{\"second\":22}", "{\"third\":333}"] {
            let pending = try store.begin()
            try pending.file.write(Array(text.utf8))
            ids.append(try store.commit(pending, metadata: AttachmentMetadata(kind: .signature, format: .json, device: "pad:1")).id)
        }
        try store.delete(id: ids[2], detail: ["uid": "1000"])
        try log.append(.download, attachment: ids[1], detail: ["uid": "1000", "pid": "42"])
        return (spool, key, ids)
    }

    func lines(_ spool: URL) throws -> [String] {
        try String(contentsOfFile: spool.appendingPathComponent(AuditLog.relativePath).path, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    func sha256Line(_ spool: URL, _ number: Int) throws -> String {
        SHA256.hash(data: Array(try lines(spool)[number - 1].utf8)).map { String(format: "%02x", $0) }.joined()
    }

    func writeLines(_ lines: [String], to spool: URL) throws {
        try (lines.joined(separator: "\n") + "\n").write(toFile: spool.appendingPathComponent(AuditLog.relativePath).path, atomically: true, encoding: .utf8)
    }

    /// The documented format checked by Python's `cryptography` (Ed25519, P-256) or `gmssl` (SM2): each line's
    /// signature over the line up to `,"signature":` closed by `}`, `seq` counting from 1, `prev` the SHA-256 of the
    /// line before (Tests/Verifiers/counter_signatures.py).
    func pythonVerifies(_ spool: URL, key: String) throws -> String {
        let root = repositoryRoot()
        return try runCommand([
            "/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", root.appendingPathComponent(".build-venv/bin/python").path,
            root.appendingPathComponent("Tests/Verifiers/counter_signatures.py").path, "audit", key,
            spool.appendingPathComponent(AuditLog.relativePath).path,
        ]).output
    }

    /// What a power cut leaves of a line being written.
    static let half = #"{"attachment":"half"#

    struct Entry: Decodable { var seq: Int; var event: String; var attachment: String?; var detail: [String: String]; var keyId: String }

    @Test(arguments: SealAlgorithm.allCases)
    func everySpoolChangeIsASignedChainedLineThatPythonVerifies(_ algorithm: SealAlgorithm) throws {
        let directory = try TemporaryDirectory("ck-audit")
        let (spool, key, ids) = try loggedSpool(algorithm, in: directory)
        let entries = try lines(spool).map { line in
            try JSONDecoder().decode(Entry.self, from: Data(line.utf8))
        }
        // The three captures, the first's expiry (the store holds at most 30 bytes), the third's deletion, a download.
        #expect(entries.map(\.event) == ["start", "capture", "capture", "capture", "expire", "delete", "download"], "\(entries.map(\.event))")
        #expect(entries.map(\.seq) == Array(1...7))
        #expect(entries.map(\.attachment) == [nil, ids[0], ids[1], ids[2], ids[0], ids[2], ids[1]])
        #expect(entries.allSatisfy { $0.keyId == key.keyID })
        #expect(entries[1].detail["sha256"]?.count == 64 && entries[1].detail["kind"] == "signature" && entries[1].detail["device"] == "pad:1")
        #expect(entries[5].detail["uid"] == "1000" && entries[0].detail["version"] == "test")

        let python = try pythonVerifies(spool, key: directory.path("pub.pem"))
        #expect(python.hasPrefix("python: 7 entries valid"), "\(python)")
        let verified = try cli(["audit", "verify", "--spool", spool.path, "--key", directory.path("pub.pem")])
        #expect(verified.status == 0 && verified.output.contains("valid: 7 entries (1…7)"), "\(verified.output)")
        // Both name the same head.
        let head = try #require(python.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        #expect(verified.output.contains("head 7 \(head)"), "\(verified.output) vs \(python)")
        // A kept head: reached, or the log cut short or rewritten since is named.
        let reached = try cli(["audit", "verify", "--spool", spool.path, "--key", directory.path("pub.pem"), "--head", "5 \(try sha256Line(spool, 5))"])
        #expect(reached.status == 0, "\(reached.output)")
        let beyond = try cli(["audit", "verify", "--spool", spool.path, "--key", directory.path("pub.pem"), "--head", "9 \(head)"])
        #expect(beyond.status == 1 && beyond.output.contains("error: audit_broken: the log ends at entry 7, before the kept head 9"), "\(beyond.output)")
        let other = try cli(["audit", "verify", "--spool", spool.path, "--key", directory.path("pub.pem"), "--head", "5 \(head)"])
        #expect(other.status == 1 && other.output.contains("entry 5 is not the one the kept head names"), "\(other.output)")
        // Without --key, the spool's own key ring is used, and said so.
        let ringed = try cli(["audit", "verify", "--spool", spool.path])
        #expect(ringed.status == 0 && ringed.output.contains("note: checking with the keys in"), "\(ringed.output)")
    }

    @Test func everyTamperIsCaughtAndNamed() throws {
        let directory = try TemporaryDirectory("ck-audit-tamper")
        let (spool, _, _) = try loggedSpool(.ed25519, in: directory)
        let original = try lines(spool)
        let stranger = try CounterKey.generate(.ed25519)
        // A forger's line: entry 3 with its detail changed, signed again with a key the back office does not know.
        var forged = try #require(AuditEntry.parse(line: Array(original[2].utf8))).entry
        forged.detail["sha256"] = String(repeating: "a", count: 64)
        forged.keyId = stranger.keyID
        let forgedLine = String(decoding: forged.line(signature: try stranger.signature(for: forged.signedBytes())), as: UTF8.self)

        let cases: [(name: String, lines: [String], says: String)] = [
            (
                "a detail changed", original.enumerated().map { $0 == 2 ? $1.replacingOccurrences(of: "\"pad:1\"", with: "\"pad:9\"") : $1 },
                "entry 3 (line 3) was altered: its signature does not verify"
            ),
            ("an entry removed", original.enumerated().filter { $0.offset != 3 }.map(\.element), "entry 4 is missing: line 4 holds entry 5"),
            (
                "two entries swapped", [original[0], original[1], original[3], original[2]] + original[4...],
                "the entries are reordered: line 3 holds entry 4, and entry 3 is at line 4"
            ),
            ("the first entries removed", Array(original[2...]), "entries 1…2 are missing: line 1 holds entry 3"),
            (
                "a line re-signed by another key", original.enumerated().map { $0 == 2 ? forgedLine : $1 },
                "entry 3 (line 3) is signed by key \(stranger.keyID), which was not given"
            ),
            ("a line that is not an entry", original.enumerated().map { $0 == 4 ? "{\"seq\":5}" : $1 }, "line 5 is not an audit entry"),
            (
                "an entry replaced by a copy of another", original.enumerated().map { $0 == 5 ? original[4] : $1 },
                "the entries are reordered or repeated: line 6 holds entry 5 after entry 5"
            ),
        ]
        for tampered in cases {
            try writeLines(tampered.lines, to: spool)
            let run = try cli(["audit", "verify", "--spool", spool.path, "--key", directory.path("pub.pem")])
            #expect(run.status == 1 && run.output.contains("error: audit_broken: \(tampered.says)"), "\(tampered.name): \(run.output)")
        }

        // A power cut mid-line: verify names the incomplete line; the next start cuts it off and records that.
        try writeLines(original, to: spool)
        let path = spool.appendingPathComponent(AuditLog.relativePath).path
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(Self.half.utf8))
        try handle.close()
        let torn = try cli(["audit", "verify", "--spool", spool.path, "--key", directory.path("pub.pem")])
        #expect(
            torn.status == 1 && torn.output.contains("error: audit_broken: the log ends in an incomplete line of \(Self.half.utf8.count) bytes after entry 7"),
            "\(torn.output)")
    }

    @Test func aTornLastLineIsCutOffAtTheNextStartAndAKeyChangeIsRecorded() throws {
        let directory = try TemporaryDirectory("ck-audit-restart")
        let (spool, oldKey, _) = try loggedSpool(.ed25519, in: directory)
        let path = spool.appendingPathComponent(AuditLog.relativePath).path
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(Self.half.utf8))
        try handle.close()
        // The service starts again with a new key.
        let newKey = try CounterKey.generate(.p256)
        try Data(newKey.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: directory.path("new.pem")))
        let log = try AuditLog(spool: spool, signer: try CounterSealer.forSpool(spool, key: newKey), version: "test 2")
        #expect(log.head.seq == 9)
        let entries = try lines(spool).map { try JSONDecoder().decode(Entry.self, from: Data($0.utf8)) }
        #expect(entries.count == 9)
        #expect(entries[7].event == "key" && entries[7].detail == ["previous": oldKey.keyID, "current": newKey.keyID] && entries[7].keyId == newKey.keyID)
        #expect(entries[8].event == "start" && entries[8].detail == ["version": "test 2", "tornBytes": String(Self.half.utf8.count)])
        // Both keys' entries verify with both public keys; with the new one only, the old entries' key is named.
        let both = try cli(["audit", "verify", "--spool", spool.path, "--key", directory.path("pub.pem"), "--key", directory.path("new.pem")])
        #expect(
            both.status == 0 && both.output.contains("valid: 9 entries") && both.output.contains(oldKey.keyID) && both.output.contains(newKey.keyID),
            "\(both.output)")
        let newOnly = try cli(["audit", "verify", "--spool", spool.path, "--key", directory.path("new.pem")])
        #expect(newOnly.status == 1 && newOnly.output.contains("entry 1 (line 1) is signed by key \(oldKey.keyID), which was not given"), "\(newOnly.output)")
        // What GET /v1/audit?since= serves: the lines after an entry, as stored.
        let all = try lines(spool)
        #expect(try log.lines(since: 6).map { String(decoding: $0, as: UTF8.self) } == Array(all[6...]))
        #expect(try log.lines(since: 9).isEmpty && (try log.lines(since: 0)).count == 9)
        // No spool sealed, no log: said so.
        let none = try cli(["audit", "verify", "--spool", directory.path("empty"), "--key", directory.path("new.pem")])
        #expect(none.status == 1 && none.output.contains("no audit log at"), "\(none.output)")
    }
}
