import ArgumentParser
import Attachments
import Audit
import CounterKitCore
import Foundation
import Sealing

/// `counterkit audit`: the spool's tamper-evident log.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check the spool's audit log (kept when the spool is sealed).", subcommands: [VerifyCommand.self])

    struct VerifyCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify", abstract: "Check the audit log's chain and signatures.",
            discussion: """
                Every entry must follow the one before (its number one more, its prev the SHA-256 of the line before) and \
                be signed by a given key. Prints `valid: …` and the head to keep (exit 0), or `error: audit_broken: …` naming \
                the first missing, altered or reordered entry (exit 1). Without --key the public keys in the spool's keys/ \
                are used: give --key, from the back office's own copy, for a check that does not trust the spool.
                """)

        @OptionGroup var spool: SpoolOptions

        @Option(
            help: ArgumentHelp(
                "A head printed by an earlier check (\"N SHA256\"): the log must still reach it.",
                discussion: "The chain shows a removed or changed line, but not the loss of its newest lines; a kept head does.",
                valueName: "HEAD"))
        var head: String?

        @Option(
            name: .customLong("key"),
            help: ArgumentHelp("A counter key's public key (PEM) or certificate; repeatable (for earlier keys).", valueName: "PUB.pem"))
        var keys: [String] = []

        func run() throws {
            var known: [String: CounterPublicKey] = [:]
            if keys.isEmpty {
                for key in CounterSealer.ringKeys(of: spool.directory) { known[key.keyID] = key }
                FileHandle.standardError.write(
                    Data("note: checking with the keys in \(CounterSealer.keyRing(of: spool.directory).path); give --key to check with your own copy\n".utf8))
            } else {
                for path in keys {
                    do throws(SealError) {
                        let key = try CounterPublicKey.load(from: path)
                        known[key.keyID] = key
                    } catch {
                        throw fail(error.code, error.message)
                    }
                }
            }
            let keyring = known
            var kept: (seq: Int, sha256: String)?
            if let head {
                let parts = head.split(whereSeparator: { $0 == " " || $0 == ":" })
                guard parts.count == 2, let seq = Int(parts[0]), seq > 0, parts[1].count == 64, parts[1].allSatisfy(\.isHexDigit) else {
                    throw fail(.invalidValue, "--head expects \"N SHA256\" as an earlier check printed it, got '\(head)'")
                }
                kept = (seq, parts[1].lowercased())
            }
            let path = spool.directory.appendingPathComponent(AuditLog.relativePath).path
            do throws(AttachmentError) {
                let report = try AuditCheck.verifyFile(path, reaching: kept) { record, signed in
                    keyring[record.keyId]?.isValid(record, for: signed)
                }
                print(report.summary)
            } catch {
                throw fail(error.code, error.message)
            }
        }
    }
}
