import Attachments
import ChildProcesses
import CounterKitTestSupport
import Foundation
import Sealing
import Testing

@testable import DeviceService

/// The service killed with SIGKILL at random moments while scans run and attachments are written, many times
/// over, with sealing on (signed manifests, and envelopes for the back office encrypted as the data is written):
/// after each restart every listed attachment matches its manifest, its envelope matches the manifest's `sealed`, its
/// manifest's signature verifies, no manifest is on disk without its signature, nothing partial is listed or left
/// behind, and the next scan works; at the end OpenSSL opens every envelope to its attachment's bytes.
@Suite struct CrashSafetyTests {
    static let kills = 12

    /// What a restart must find in the spool.
    struct SpoolCheck {
        var listed = 0
        var problems: [String] = []
    }

    static func check(_ spool: URL, listed: [ListedAttachment], key: CounterPublicKey) throws -> SpoolCheck {
        var result = SpoolCheck(listed: listed.count)
        for manifest in listed {
            let path = spool.appendingPathComponent(manifest.fileName).path
            let (size, sha256) = try AttachmentStore.hashFile(atPath: path)
            if size != manifest.byteCount || sha256 != manifest.sha256 { result.problems.append("\(manifest.id): bytes differ from the manifest") }
            if manifest.integrity != .intact { result.problems.append("\(manifest.id): listed \(manifest.integrity)") }
            if let sealed = manifest.sealed {
                let envelope = try AttachmentStore.hashFile(atPath: spool.appendingPathComponent(sealed.fileName).path)
                if envelope.0 != sealed.byteCount || envelope.1 != sealed.sha256 {
                    result.problems.append("\(manifest.id): its envelope differs from the manifest")
                }
            } else {
                result.problems.append("\(manifest.id): not sealed for the back office")
            }
            let manifestBytes = FileManager.default.contents(atPath: spool.appendingPathComponent(manifest.id + AttachmentStore.manifestSuffix).path)
            let record = FileManager.default.contents(atPath: spool.appendingPathComponent(manifest.id + AttachmentStore.signatureSuffix).path)
            do throws(SealError) {
                _ = try SealCheck.verify(manifest: Array(manifestBytes ?? Data()), signature: Array(record ?? Data()), key: key)
            } catch {
                result.problems.append("\(manifest.id): its signature does not hold: \(error.message)")
            }
        }
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: spool.path))
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: spool.appendingPathComponent("tmp").path)) ?? []
        if !leftovers.isEmpty { result.problems.append("temp files left: \(leftovers)") }
        let manifests = Set(listed.map { $0.id + AttachmentStore.manifestSuffix }), files = Set(listed.map(\.fileName))
        let signatures = Set(listed.map { $0.id + AttachmentStore.signatureSuffix }).union(listed.compactMap { $0.sealed?.fileName })
        // tmp/ holds writes in progress; log/ is the service's own log file, journal/ its job journal, keys/ the public
        // halves of the keys that signed and audit/ the audit log, not attachments.
        let unlisted = names.subtracting(manifests).subtracting(files).subtracting(signatures).subtracting(["tmp", "log", "journal", "keys", "audit"])
        if !unlisted.isEmpty { result.problems.append("files no manifest lists: \(unlisted.sorted())") }
        return result
    }

    @Test func killedAtRandomMomentsNothingIsLostOrHalfWritten() async throws {
        let directory = try TemporaryDirectory("ck-crash")
        let socket = directory.path("api.sock")
        let spool = directory.url.appendingPathComponent("spool")
        let client = ServiceClient(socketPath: socket, idleTimeout: .seconds(60))
        let key = try CounterKey.generate(.ed25519)
        try key.write(to: directory.path("seal.key"))
        let office = try await runCommandAsync([
            "/bin/sh", "-c",
            "exec openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \"$1\" -out \"$2\" -subj /CN=office -days 30 2>&1",
            "sh", directory.path("office.key"), directory.path("office.crt"),
        ])
        #expect(office.status == 0, "\(office.output)")
        // The kill moments come from a seed that is printed, so a failing run can be replayed (COUNTERKIT_CRASH_SEED).
        let seed = ProcessInfo.processInfo.environment["COUNTERKIT_CRASH_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("CrashSafetyTests: kill moments from seed \(seed) (COUNTERKIT_CRASH_SEED=\(seed) replays them)")
        var random = SeededRandom(seed: seed)
        // Reads slowed by the test backend (read-delay), so that pages take a second or more and most kills land
        // while one is being written; with a limit on each read, the pages arrive in many small pieces.
        let slow = #""read-delay":true,"read-delay-duration":20000,"read-limit":true,"read-limit-size":8192"#
        let scans = [
            #"{"device":"test:0","resolution":150,"format":"png","options":{\#(slow)}}"#,
            #"{"device":"test:1","resolution":100,"source":"adf","format":"pdf","maxPages":3,"options":{\#(slow)}}"#,
            #"{"device":"test:0","resolution":150,"format":"jpeg","options":{\#(slow)}}"#,
        ]
        var survived = 0, verified = 0, killedMidWrite = 0, kept = 0
        for round in 0...Self.kills {
            let service = try ChildProcess(
                executable: SANETestEnvironment.counterkitExecutable,
                arguments: [
                    "serve", "--socket", socket, "--spool", spool.path, "--seal-key", directory.path("seal.key"), "--seal-recipient",
                    directory.path("office.crt"), "--log-level", "error",
                ],
                environment: SANETestEnvironment.environment, pipeInput: false, pipeOutput: false, discardErrors: true)
            #expect(await eventually(within: .seconds(20)) { ServiceClient.isServing(at: socket) }, "round \(round): the service starts")
            let listed = try await client.send("GET", "/v1/attachments").decode(AttachmentList.self).attachments
            var spoolCheck = try Self.check(spool, listed: listed, key: key.publicKey)
            // The audit log's chain is whole after every kill: a line cut short was cut off at this start.
            try Data(key.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: directory.path("pub.pem")))
            let audit = try await runCommandAsync([
                "/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", SANETestEnvironment.counterkitExecutable, "audit", "verify", "--spool", spool.path,
                "--key", directory.path("pub.pem"),
            ])
            if audit.status != 0 { spoolCheck.problems.append("the audit log: \(audit.output)") }
            #expect(spoolCheck.problems.isEmpty, "round \(round) (seed \(seed)): \(spoolCheck.problems)")
            verified += spoolCheck.listed
            kept = spoolCheck.listed
            if round == Self.kills {
                // The last restart: a scan still works.
                let done = try await client.send("POST", "/v1/scans?wait=true", json: Data(#"{"device":"test:0","resolution":75}"#.utf8))
                    .decode(JobSnapshot.self)
                #expect(done.state == .completed)
                // OpenSSL opens every envelope the kills left to its attachment's bytes.
                for manifest in try await client.send("GET", "/v1/attachments").decode(AttachmentList.self).attachments {
                    let opened = try await runCommandAsync([
                        "/bin/sh", "-c", "openssl cms -decrypt -inform DER -in \"$1\" -inkey \"$2\" | cmp - \"$3\" && echo same",
                        "sh", spool.appendingPathComponent(manifest.sealed?.fileName ?? "-").path, directory.path("office.key"),
                        spool.appendingPathComponent(manifest.fileName).path,
                    ])
                    #expect(opened.output.contains("same"), "\(manifest.id): \(opened.output)")
                }
                service.signal(SIGTERM)
                _ = await service.ended()
                break
            }
            for scan in scans { _ = try await client.send("POST", "/v1/scans?queue=true", json: Data(scan.utf8)) }
            try await Task.sleep(for: .milliseconds(Int.random(in: 200...3000, using: &random)))
            service.signal(SIGKILL)
            #expect(await service.ended() == .signalled(SIGKILL))
            survived += 1
            // A temp file at this moment means the kill landed while an attachment was being written.
            let partial = (try? FileManager.default.contentsOfDirectory(atPath: spool.appendingPathComponent("tmp").path)) ?? []
            if !partial.isEmpty { killedMidWrite += 1 }
            // The killed service's scan workers notice their parent is gone and exit.
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(survived == Self.kills)
        #expect(verified > 0, "some attachments were completed between kills and checked after restarts")
        #expect(killedMidWrite > 0, "some kills landed while an attachment was being written")
        print(
            "crash safety: \(survived) SIGKILLs survived, \(killedMidWrite) of them during an attachment write; "
                + "\(kept) attachments kept, each verified against its SHA-256 and its signature after every restart (\(verified) checks)")
    }
}
