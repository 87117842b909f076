import Attachments
import ChildProcesses
import CounterKitTestSupport
import Foundation
import Sealing
import Testing

@testable import DeviceService

/// `counterkit serve` with a counter key (`[seal] key` in its configuration file, or `--seal-key`), seen from outside:
/// curl fetches manifests and signatures, OpenSSL verifies them, `counterkit verify` checks through the socket, a byte
/// changed in the spool is marked and refused, and a bad key stops start-up naming the file and the fix.
@Suite("A sealed service: every capture's manifest signed, checked by OpenSSL and counterkit verify", .serialized)
struct SealedServiceTests {
    let counterkit = SANETestEnvironment.counterkitExecutable

    /// `counterkit ARGS` with standard output and error together.
    func cli(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runCommandAsync(["/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", counterkit] + arguments, environment: SANETestEnvironment.environment)
    }

    /// A response body's bytes over curl (`--unix-socket`), with its HTTP status.
    func curl(_ socket: String, _ path: String, to file: String) async throws -> Int {
        let run = try await runCommandAsync([
            "curl", "-s", "--max-time", "60", "-o", file, "-w", "%{http_code}", "--unix-socket", socket, "http://localhost\(path)",
        ])
        return Int(run.output) ?? 0
    }

    @Test func aSealedServiceSignsEveryScanAndOpenSSLVerifiesWhatItServes() async throws {
        let directory = try TemporaryDirectory("ck-sealed-svc")
        let key = CounterKey.generate(.p256)
        try key.write(to: directory.path("seal.key"))
        try Data(key.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: directory.path("pub.pem")))
        try "[seal]\nkey = \"\(directory.path("seal.key"))\"\n".write(toFile: directory.path("counterkit.toml"), atomically: true, encoding: .utf8)
        let served = try await ServeFlagsTests.Served.start(["--config", directory.path("counterkit.toml")], in: directory)
        let client = ServiceClient(socketPath: served.socket, idleTimeout: .seconds(60))
        let job = try await client.send("POST", "/v1/scans?wait=true", json: Data(#"{"device":"test:0","resolution":75,"paper":"A5","format":"png"}"#.utf8))
            .decode(JobSnapshot.self)
        #expect(job.state == .completed && job.attachments.count == 1, "\(String(describing: job.error))")
        let manifest = try #require(job.attachments.first)
        #expect(manifest.keyId == key.keyID, "the manifest names the key that signed it")

        // What the API serves is what is on disk, and OpenSSL verifies the signature over it with the public key.
        #expect(try await curl(served.socket, "/v1/attachments/\(manifest.id)/manifest", to: directory.path("m.json")) == 200)
        #expect(try await curl(served.socket, "/v1/attachments/\(manifest.id)/signature", to: directory.path("s.json")) == 200)
        let spool = URL(fileURLWithPath: served.spool)
        #expect(
            FileManager.default.contents(atPath: directory.path("m.json"))
                == FileManager.default.contents(atPath: spool.appendingPathComponent(manifest.id + AttachmentStore.manifestSuffix).path))
        let recordBytes = try #require(FileManager.default.contents(atPath: directory.path("s.json")))
        let record = try #require(SignatureRecord.decode(recordBytes))
        #expect(record.algorithm == "ecdsa-p256-sha256" && record.keyId == key.keyID)
        try Data(try #require(record.signatureBytes)).write(to: URL(fileURLWithPath: directory.path("s.der")))
        let openssl = try await runCommandAsync([
            "/bin/sh", "-c", "exec openssl dgst -sha256 -verify \"$1\" -signature \"$2\" \"$3\" 2>&1", "sh",
            directory.path("pub.pem"), directory.path("s.der"), directory.path("m.json"),
        ])
        #expect(openssl.status == 0 && openssl.output.contains("Verified OK"), "\(openssl.output)")
        let listed = try await client.send("GET", "/v1/attachments").decode(AttachmentList.self).attachments
        #expect(listed.map(\.integrity) == [.intact] && listed.first?.keyId == key.keyID)

        // `counterkit verify` through the socket: signature, manifest and the downloaded bytes.
        let valid = try await cli(["verify", "--key", directory.path("pub.pem"), "--socket", served.socket, manifest.id])
        #expect(valid.status == 0 && valid.output.hasPrefix("valid: \(manifest.id) (scan png") && valid.output.contains("its data matches"), "\(valid.output)")

        // One byte of the stored PNG changed on disk: listed broken, never served, and verify names the data.
        let dataPath = spool.appendingPathComponent(manifest.fileName).path
        var bytes = Array(try #require(FileManager.default.contents(atPath: dataPath)))
        bytes[bytes.count / 2] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: dataPath))
        let relisted = try await client.send("GET", "/v1/attachments").decode(AttachmentList.self).attachments
        #expect(relisted.map(\.integrity) == [.broken])
        let refused = try await client.send("GET", "/v1/attachments/\(manifest.id)")
        #expect(
            refused.status == 409 && refused.error?.code == "seal_invalid" && refused.error?.message.contains("its data (\(manifest.fileName))") == true,
            "\(String(describing: refused.error))")
        let invalid = try await cli(["verify", "--key", directory.path("pub.pem"), "--socket", served.socket, manifest.id])
        #expect(invalid.status == 1 && invalid.output.contains("error: seal_invalid: ") && invalid.output.contains("its data"), "\(invalid.output)")

        // Deleted, its signature goes with it; an unknown id is 404 for the signature too.
        #expect(try await client.send("DELETE", "/v1/attachments/\(manifest.id)").status == 204)
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: spool.path)).contains { $0.hasPrefix(manifest.id) })
        #expect(try await client.send("GET", "/v1/attachments/\(manifest.id)/signature").status == 404)
        await served.stop()
    }

    @Test func anUnsealedServiceHasNoSignaturesToServe() async throws {
        let service = try await RunningService.start()
        let job = try service.job(try await service.post("/v1/scans?wait=true", #"{"device":"test:0","resolution":50,"paper":"ID1"}"#))
        let id = try #require(job.attachments.first?.id)
        #expect(job.attachments.first?.keyId == nil)
        let reply = try await service.get("/v1/attachments/\(id)/signature")
        #expect(reply.status == 404 && reply.error?.message.contains("not signed") == true, "\(String(describing: reply.error))")
        // The manifest route serves the stored file, which decodes to the manifest the job reported.
        let manifest = try await service.get("/v1/attachments/\(id)/manifest")
        #expect(try AttachmentManifest.makeDecoder().decode(AttachmentManifest.self, from: Data(manifest.body)) == job.attachments.first)
        try await service.stop()
    }

    @Test func aBadKeyStopsStartUpNamingTheFileAndTheFix() async throws {
        let directory = try TemporaryDirectory("ck-sealed-bad")
        let key = CounterKey.generate(.ed25519)
        let exposed = directory.path("exposed.key")
        try key.write(to: exposed)
        chmod(exposed, 0o640)
        let publicOnly = directory.path("public.key")
        try Data(key.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: publicOnly))
        chmod(publicOnly, 0o600)
        let cases: [(flags: [String], says: [String])] = [
            (["--seal-key", exposed], [exposed, "can be read by others", "chmod 600 \(exposed)"]),
            (["--seal-key", directory.path("missing.key")], [directory.path("missing.key"), "counterkit keys init"]),
            (["--seal-key", publicOnly], [publicOnly, "not a PKCS#8 private key"]),
            (["--seal-key", directory.path("")], ["is not a file"]),
        ]
        for (flags, says) in cases {
            let run = try await cli(["serve", "--socket", directory.path("api.sock"), "--spool", directory.path("spool")] + flags)
            #expect(run.status == 1 && run.output.contains("error: ") && says.allSatisfy { run.output.contains($0) }, "\(flags): \(run.output)")
            #expect(!FileManager.default.fileExists(atPath: directory.path("api.sock")), "nothing listened")
        }
        // The configuration file's [seal] table takes only what is built: a key.
        try "[seal]\nkey = \"\(exposed)\"\nrecipient = \"/etc/counterkit/back-office.pem\"\n".write(
            toFile: directory.path("counterkit.toml"), atomically: true, encoding: .utf8)
        let unknown = try await cli(["serve", "--socket", directory.path("api.sock"), "--config", directory.path("counterkit.toml")])
        #expect(unknown.status == 1 && unknown.output.contains("line 3") && unknown.output.contains("unknown key 'recipient' in [seal]"), "\(unknown.output)")
    }
}
