import Attachments
import ChildProcesses
import CounterKitTestSupport
import Crypto
import DocumentImaging
import Foundation
import Sealing
import Testing

@testable import DeviceService

/// One-way encryption to the back office (`[seal] recipient`): every capture also served as a CMS envelope that
/// `openssl cms -decrypt` opens with the back office's key (RSA and P-256), the plaintext removed after its retention
/// while envelope, manifest and signature stay, and a certificate that cannot be used refused at start-up.
@Suite("Envelopes for the back office: opened by openssl cms, plaintext retention, bad certificates refused", .serialized)
struct SealedEnvelopeTests {
    let counterkit = SANETestEnvironment.counterkitExecutable

    func shell(_ script: String, _ arguments: [String] = []) async throws -> (status: Int32, output: String) {
        try await runCommandAsync(["/bin/sh", "-c", script + " 2>&1", "sh"] + arguments, environment: SANETestEnvironment.environment)
    }

    /// A back-office key and self-signed certificate made by OpenSSL: `NAME.key`, `NAME.crt`.
    func backOffice(_ type: String, usage: String, in directory: TemporaryDirectory, name: String) async throws {
        let key =
            switch type {
            case "rsa": "-newkey rsa:2048"
            case "sm2": "-newkey sm2 -sm3 -sigopt distid:1234567812345678"
            default: "-newkey ec -pkeyopt ec_paramgen_curve:P-256"
            }
        let made = try await shell(
            "openssl req -x509 \(key) -nodes -keyout \"$1\" -out \"$2\" -subj \"/CN=Back office \(name)\" -days 30 -addext keyUsage=\(usage)",
            [directory.path("\(name).key"), directory.path("\(name).crt")])
        #expect(made.status == 0, "\(made.output)")
    }

    @Test(arguments: ["rsa", "p256"])
    func everyCaptureIsSealedForTheBackOfficeAndOpenSSLOpensIt(_ type: String) async throws {
        let directory = try TemporaryDirectory("ck-envelope")
        try await backOffice(type, usage: type == "rsa" ? "keyEncipherment" : "keyAgreement", in: directory, name: "office")
        let key = try CounterKey.generate(.ed25519)
        try key.write(to: directory.path("seal.key"))
        let served = try await ServeFlagsTests.Served.start(
            ["--seal-key", directory.path("seal.key"), "--seal-recipient", directory.path("office.crt")], in: directory)
        let client = ServiceClient(socketPath: served.socket, idleTimeout: .seconds(60))
        let job = try await client.send("POST", "/v1/scans?wait=true", json: Data(#"{"device":"test:0","resolution":75,"paper":"A5","format":"png"}"#.utf8))
            .decode(JobSnapshot.self)
        let manifest = try #require(job.attachments.first)
        let sealed = try #require(manifest.sealed, "the manifest names the envelope")
        #expect(sealed.fileName == manifest.id + ".p7m" && sealed.encryption == "aes-256-gcm")
        // The recipient is named by the SHA-256 of its certificate's SubjectPublicKeyInfo, as OpenSSL computes it.
        let spki = try await shell("openssl x509 -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum", [directory.path("office.crt")])
        #expect(spki.output.hasPrefix(sealed.recipient), "\(spki.output) vs \(sealed.recipient)")

        // Served as S/MIME's authenticated envelope; its bytes are the ones the signed manifest describes.
        let envelope = try await client.send("GET", "/v1/attachments/\(manifest.id)/sealed")
        #expect(envelope.status == 200 && envelope.headers.first(name: "Content-Type") == "application/pkcs7-mime; smime-type=authEnveloped-data")
        #expect(envelope.body.count == sealed.byteCount && SHA256.hash(data: envelope.body).map { String(format: "%02x", $0) }.joined() == sealed.sha256)
        try Data(envelope.body).write(to: URL(fileURLWithPath: directory.path("sealed.p7m")))
        let plain = try await client.send("GET", "/v1/attachments/\(manifest.id)").body
        // OpenSSL opens it with the back office's key: the same bytes; it is AuthEnvelopedData with AES-256-GCM.
        let opened = try await shell(
            "openssl cms -decrypt -inform DER -in \"$1\" -inkey \"$2\" -recip \"$3\" -out \"$4\"",
            [directory.path("sealed.p7m"), directory.path("office.key"), directory.path("office.crt"), directory.path("opened")])
        #expect(opened.status == 0, "\(opened.output)")
        #expect(FileManager.default.contents(atPath: directory.path("opened")) == Data(plain), "the envelope holds the plaintext, byte for byte")
        let printed = try await shell("openssl cms -cmsout -print -inform DER -in \"$1\"", [directory.path("sealed.p7m")])
        #expect(printed.output.contains("authEnvelopedData") && printed.output.contains("aes-256-gcm"), "\(printed.output.prefix(600))")
        #expect(printed.output.contains(type == "rsa" ? "d.ktri" : "d.kari"), "RSA key transport or ECDH key agreement")
        // Another key cannot open it.
        try await backOffice(type, usage: type == "rsa" ? "keyEncipherment" : "keyAgreement", in: directory, name: "stranger")
        let refused = try await shell(
            "openssl cms -decrypt -inform DER -in \"$1\" -inkey \"$2\" -recip \"$3\" -out /dev/null",
            [directory.path("sealed.p7m"), directory.path("stranger.key"), directory.path("stranger.crt")])
        #expect(refused.status != 0)
        // The signed manifest covers the envelope's hash.
        let signature = try await client.send("GET", "/v1/attachments/\(manifest.id)/signature").body
        let report = try SealCheck.verify(
            manifest: try await client.send("GET", "/v1/attachments/\(manifest.id)/manifest").body, signature: signature, key: key.publicKey)
        #expect(report.manifest.sealed == sealed)
        await served.stop()
    }

    /// The all-GM profile: an SM2 counter key signs, and every capture is sealed for an SM2 back-office certificate in
    /// a GM/T 0010 envelope (SM4-CBC, its key encrypted by SM2), which OpenSSL's command line and gmssl each open.
    @Test func anSM2RecipientGetsAGMEnvelopeThatOpenSSLAndGmsslOpen() async throws {
        let directory = try TemporaryDirectory("ck-envelope-sm2")
        try await backOffice("sm2", usage: "keyEncipherment", in: directory, name: "office")
        let key = try CounterKey.generate(.sm2)
        try key.write(to: directory.path("seal.key"))
        let served = try await ServeFlagsTests.Served.start(
            ["--seal-key", directory.path("seal.key"), "--seal-recipient", directory.path("office.crt")], in: directory)
        let client = ServiceClient(socketPath: served.socket, idleTimeout: .seconds(60))
        let job = try await client.send("POST", "/v1/scans?wait=true", json: Data(#"{"device":"test:0","resolution":75,"paper":"A5","format":"jpeg"}"#.utf8))
            .decode(JobSnapshot.self)
        let manifest = try #require(job.attachments.first)
        let sealed = try #require(manifest.sealed, "the manifest names the envelope")
        #expect(sealed.encryption == "sm4-cbc" && manifest.sm3 != nil)
        let spki = try await shell("openssl x509 -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum", [directory.path("office.crt")])
        #expect(spki.output.hasPrefix(sealed.recipient), "\(spki.output) vs \(sealed.recipient)")

        let envelope = try await client.send("GET", "/v1/attachments/\(manifest.id)/sealed")
        #expect(envelope.status == 200 && envelope.headers.first(name: "Content-Type") == "application/pkcs7-mime; smime-type=enveloped-data")
        #expect(envelope.body.count == sealed.byteCount && SHA256.hash(data: envelope.body).map { String(format: "%02x", $0) }.joined() == sealed.sha256)
        try Data(envelope.body).write(to: URL(fileURLWithPath: directory.path("sealed.der")))
        let plain = try await client.send("GET", "/v1/attachments/\(manifest.id)").body
        let root = repositoryRoot()
        let opened = try await shell(
            "\"$1\" \"$2\" \"$3\" \"$4\" \"$5\"",
            [
                root.appendingPathComponent(".build-venv/bin/python").path, root.appendingPathComponent("Tests/Verifiers/gm_envelope.py").path,
                directory.path("sealed.der"), directory.path("office.key"), directory.path("opened"),
            ])
        #expect(opened.status == 0 && opened.output.contains("gm: opened \(plain.count) bytes"), "\(opened.output)")
        #expect(opened.output.contains("gm: versions [1, 1]"), "\(opened.output)")
        #expect(FileManager.default.contents(atPath: directory.path("opened")) == Data(plain), "the envelope holds the plaintext, byte for byte")
        // Definite lengths throughout (DER, not BER's streaming form): the first node, as OpenSSL reads it, is the whole file.
        let first = try await shell("openssl asn1parse -inform DER -in \"$1\" | head -1", [directory.path("sealed.der")])
        let lengths = first.output.split(separator: " ").compactMap { part -> Int? in
            part.hasPrefix("hl=") ? Int(part.dropFirst(3)) : part.hasPrefix("l=") ? Int(part.dropFirst(2)) : nil
        }
        #expect(first.output.contains("d=0") && lengths.count == 2 && lengths.reduce(0, +) == envelope.body.count, "\(first.output)")
        // Another SM2 key cannot open it.
        try await backOffice("sm2", usage: "keyEncipherment", in: directory, name: "stranger")
        let refused = try await shell(
            "\"$1\" \"$2\" \"$3\" \"$4\" /dev/null",
            [
                root.appendingPathComponent(".build-venv/bin/python").path, root.appendingPathComponent("Tests/Verifiers/gm_envelope.py").path,
                directory.path("sealed.der"), directory.path("stranger.key"),
            ])
        #expect(refused.status != 0 && refused.output.contains("gm: FAIL"), "\(refused.output)")
        // The signed manifest (SM2, its SM3) covers the envelope's hash.
        let report = try SealCheck.verify(
            manifest: try await client.send("GET", "/v1/attachments/\(manifest.id)/manifest").body,
            signature: try await client.send("GET", "/v1/attachments/\(manifest.id)/signature").body, key: key.publicKey, data: [Array(plain)])
        #expect(report.manifest.sealed == sealed && report.algorithm == "sm2-sm3" && report.dataChecked)
        await served.stop()
    }

    struct Logged: Decodable { var event: String; var attachment: String? }

    @Test func afterThePlaintextRetentionOnlyTheEnvelopeManifestAndSignatureStay() async throws {
        let directory = try TemporaryDirectory("ck-envelope-retention")
        try await backOffice("p256", usage: "keyAgreement", in: directory, name: "office")
        let key = try CounterKey.generate(.p256)
        try key.write(to: directory.path("seal.key"))
        try "[seal]\nkey = \"\(directory.path("seal.key"))\"\nrecipient = \"\(directory.path("office.crt"))\"\nplaintext-retention = \"1s\"\n"
            .write(toFile: directory.path("counterkit.toml"), atomically: true, encoding: .utf8)
        var served = try await ServeFlagsTests.Served.start(["--config", directory.path("counterkit.toml")], in: directory)
        var client = ServiceClient(socketPath: served.socket, idleTimeout: .seconds(60))
        let job = try await client.send("POST", "/v1/scans?wait=true", json: Data(#"{"device":"test:0","resolution":50,"paper":"ID1"}"#.utf8))
            .decode(JobSnapshot.self)
        let manifest = try #require(job.attachments.first)
        let spool = URL(fileURLWithPath: served.spool)
        let dataPath = spool.appendingPathComponent(manifest.fileName).path
        let plain = try #require(FileManager.default.contents(atPath: dataPath))
        // Within a second or two the service's sweep removes the plaintext.
        #expect(await eventually(within: .seconds(10)) { !FileManager.default.fileExists(atPath: dataPath) }, "the plaintext is removed")
        for restarted in [false, true] {
            if restarted {
                // A restart keeps the attachment: its envelope, manifest and signature are whole.
                await served.stop()
                served = try await ServeFlagsTests.Served.start(["--config", directory.path("counterkit.toml")], in: directory)
                client = ServiceClient(socketPath: served.socket, idleTimeout: .seconds(60))
            }
            let listed = try await client.send("GET", "/v1/attachments").decode(AttachmentList.self).attachments
            #expect(listed.map(\.id) == [manifest.id] && listed.first?.sealedOnly == true && listed.first?.integrity == .intact, "\(listed)")
            let gone = try await client.send("GET", "/v1/attachments/\(manifest.id)")
            #expect(
                gone.status == 410 && gone.error?.code == "sealed_only" && gone.error?.message.contains("/sealed") == true, "\(String(describing: gone.error))")
            let envelope = try await client.send("GET", "/v1/attachments/\(manifest.id)/sealed")
            #expect(envelope.status == 200)
            try Data(envelope.body).write(to: URL(fileURLWithPath: directory.path("sealed.p7m")))
            let opened = try await shell(
                "openssl cms -decrypt -inform DER -in \"$1\" -inkey \"$2\" -recip \"$3\" -out \"$4\"",
                [directory.path("sealed.p7m"), directory.path("office.key"), directory.path("office.crt"), directory.path("opened")])
            #expect(opened.status == 0 && FileManager.default.contents(atPath: directory.path("opened")) == plain, "\(opened.output)")
            let manifestBytes = try await client.send("GET", "/v1/attachments/\(manifest.id)/manifest").body
            let signature = try await client.send("GET", "/v1/attachments/\(manifest.id)/signature").body
            #expect(throws: Never.self) { try SealCheck.verify(manifest: manifestBytes, signature: signature, key: key.publicKey) }
        }
        // No piece of the plaintext is left in any file of the spool (64 bytes from its middle are searched for).
        let needle = plain.subdata(in: (plain.count / 2)..<(plain.count / 2 + 64))
        let holding = try FileManager.default.subpathsOfDirectory(atPath: spool.path).filter { name in
            FileManager.default.contents(atPath: spool.appendingPathComponent(name).path).map { $0.range(of: needle) != nil } ?? false
        }
        #expect(holding.isEmpty, "\(holding)")
        // `counterkit verify` through the service checks what is left: the signed manifest and the envelope.
        try Data(key.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: directory.path("pub.pem")))
        let verified = try await runCommandAsync([
            "/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", counterkit, "verify", "--key", directory.path("pub.pem"), "--socket", served.socket, manifest.id,
        ])
        #expect(verified.status == 0 && verified.output.contains("its envelope matches SHA-256"), "\(verified.output)")
        // The audit log says when the plaintext went.
        let audit = String(decoding: try await client.send("GET", "/v1/audit").body, as: UTF8.self).split(separator: "\n")
        let events = try audit.map { try JSONDecoder().decode(Logged.self, from: Data($0.utf8)) }
        #expect(events.contains { $0.event == "plaintext-expire" && $0.attachment == manifest.id }, "\(events.map(\.event))")
        await served.stop()
    }

    /// `plaintext-retention = 0`: no byte of a capture reaches the disk in the clear, not even in a temp file: an
    /// inotify watch on the spool and on the service's TMPDIR sees only manifests, signatures, envelopes (and for an SM2
    /// recipient the envelope's ciphertext scratch file) and the encrypted row spool of a page of unknown length. The
    /// back office opens every envelope to the bytes the signed manifest states (SHA-256, and SM3 with an SM2 key).
    @Test(arguments: ["p256", "sm2"])
    func withARetentionOfZeroNoPlaintextByteReachesTheDisk(_ type: String) async throws {
        let directory = try TemporaryDirectory("ck-envelope-zero")
        try await backOffice(type, usage: type == "p256" ? "keyAgreement" : "keyEncipherment", in: directory, name: "office")
        let key = try CounterKey.generate(type == "sm2" ? .sm2 : .ed25519)
        try key.write(to: directory.path("seal.key"))
        let spool = directory.url.appendingPathComponent("spool"), scratch = directory.url.appendingPathComponent("tmp")
        for made in [spool.appendingPathComponent("tmp"), scratch] { try FileManager.default.createDirectory(at: made, withIntermediateDirectories: true) }
        let watch = try FileCreationWatch([spool.path, spool.appendingPathComponent("tmp").path, scratch.path])
        let served = try await ServeFlagsTests.Served.start(
            ["--seal-key", directory.path("seal.key"), "--seal-recipient", directory.path("office.crt"), "--plaintext-retention", "0"], in: directory,
            environment: SANETestEnvironment.environment.merging(["TMPDIR": scratch.path]) { $1 })
        let client = ServiceClient(socketPath: served.socket, idleTimeout: .seconds(60))
        // A page of known size, and a hand-scanner page whose length is known only at its end (its rows wait on disk).
        var stored: [AttachmentManifest] = []
        for body in [
            #"{"device":"test:0","resolution":75,"paper":"ID1","format":"png"}"#,
            #"{"device":"test:0","resolution":50,"format":"jpeg","options":{"hand-scanner":true}}"#,
        ] {
            let job = try await client.send("POST", "/v1/scans?wait=true", json: Data(body.utf8)).decode(JobSnapshot.self)
            #expect(job.state == .completed, "\(body): \(String(describing: job.error))")
            stored += job.attachments
        }
        let created = watch.stop()
        await served.stop()
        #expect(stored.count == 2)
        let allowed = [".manifest.json", ".signature.json", ".p7m", ".p7m.part", ".p7m.part.body", ".manifest.part", ".signature.part"]
        let unexpected = created.filter { path in
            let name = URL(fileURLWithPath: path).lastPathComponent
            if path.hasPrefix(scratch.path) { return !name.hasPrefix("counterkit-rows-") }
            // The service's own state (job journal, audit log, its log, the public keys it signed with) holds no capture.
            let state = ["journal", "audit", "log", "keys"]
            return !state.contains { path.contains("/spool/\($0)") } && !allowed.contains { name.hasSuffix($0) }
        }
        #expect(unexpected.isEmpty, "only sealed files were created: \(unexpected)")
        #expect(created.contains { $0.contains("counterkit-rows-") }, "the hand-scanner page's rows went through the (encrypted) row spool")
        if type == "sm2" { #expect(created.contains { $0.hasSuffix(".p7m.part.body") }, "the SM2 envelope streamed its ciphertext") }
        let root = repositoryRoot()
        for manifest in stored {
            #expect(!FileManager.default.fileExists(atPath: spool.appendingPathComponent(manifest.fileName).path))
            let envelope = spool.appendingPathComponent(manifest.id + ".p7m").path
            let opened =
                type == "sm2"
                ? try await shell(
                    "\"$1\" \"$2\" \"$3\" \"$4\" \"$5\"",
                    [
                        root.appendingPathComponent(".build-venv/bin/python").path, root.appendingPathComponent("Tests/Verifiers/gm_envelope.py").path,
                        envelope, directory.path("office.key"), directory.path("opened"),
                    ])
                : try await shell(
                    "openssl cms -decrypt -inform DER -in \"$1\" -inkey \"$2\" -recip \"$3\" -out \"$4\"",
                    [envelope, directory.path("office.key"), directory.path("office.crt"), directory.path("opened")])
            #expect(opened.status == 0, "\(opened.output)")
            let plain = try #require(FileManager.default.contents(atPath: directory.path("opened")))
            #expect(plain.count == manifest.byteCount && SHA256.hash(data: plain).map { String(format: "%02x", $0) }.joined() == manifest.sha256)
            let image = try DocumentImage.decode([UInt8](plain))
            #expect(image.width == manifest.pixelWidth && image.height == manifest.pixelHeight, "\(manifest.fileName) decodes to its stated size")
            if type == "sm2" {
                let sm3 = try await shell("openssl dgst -sm3 -r \"$1\"", [directory.path("opened")])
                #expect(manifest.sm3 != nil && sm3.output.hasPrefix(manifest.sm3 ?? "-"), "\(sm3.output) vs \(String(describing: manifest.sm3))")
            }
            // The signed manifest states all of it.
            let report = try SealCheck.verify(
                manifest: Array(try Data(contentsOf: spool.appendingPathComponent(manifest.id + ".manifest.json"))),
                signature: Array(try Data(contentsOf: spool.appendingPathComponent(manifest.id + ".signature.json"))), key: key.publicKey,
                data: [Array(plain)])
            #expect(report.dataChecked && report.manifest.sealed == manifest.sealed)
        }
    }

    @Test func aCertificateThatCannotBeUsedStopsStartUpNamingWhy() async throws {
        let directory = try TemporaryDirectory("ck-envelope-bad")
        let key = try CounterKey.generate(.ed25519)
        try key.write(to: directory.path("seal.key"))
        try await backOffice("rsa", usage: "digitalSignature", in: directory, name: "signing")
        try await backOffice("rsa", usage: "keyEncipherment", in: directory, name: "office")
        try await backOffice("sm2", usage: "digitalSignature", in: directory, name: "sm2signing")
        try await backOffice("sm2", usage: "keyEncipherment", in: directory, name: "sm2office")
        let edwards = try await shell(
            "openssl req -x509 -newkey ed25519 -nodes -keyout \"$1\" -out \"$2\" -subj /CN=ed -days 30", [directory.path("ed.key"), directory.path("ed.crt")])
        #expect(edwards.status == 0, "\(edwards.output)")
        let base = ["serve", "--socket", directory.path("api.sock"), "--spool", directory.path("spool")]
        let cases: [(flags: [String], says: String)] = [
            (["--seal-key", directory.path("seal.key"), "--seal-recipient", directory.path("signing.crt")], "cannot encrypt: its key usage"),
            (
                ["--seal-key", directory.path("seal.key"), "--seal-recipient", directory.path("sm2signing.crt")],
                "cannot encrypt: its key usage lacks keyEncipherment and dataEncipherment"
            ),
            (
                ["--seal-key", directory.path("seal.key"), "--seal-recipient", directory.path("ed.crt")],
                "envelopes are made for RSA, P-256 or SM2 certificates"
            ),
            (["--seal-key", directory.path("seal.key"), "--seal-recipient", directory.path("missing.crt")], "cannot read the recipient certificate"),
            (["--seal-key", directory.path("seal.key"), "--seal-recipient", directory.path("seal.key")], "is not a PEM certificate"),
            (["--seal-recipient", directory.path("office.crt")], "[seal] recipient needs [seal] key"),
            (["--seal-key", directory.path("seal.key"), "--plaintext-retention", "1h"], "plaintext-retention needs [seal] recipient"),
            (
                ["--seal-key", directory.path("seal.key"), "--seal-recipient", directory.path("office.crt"), "--plaintext-retention", "0", "--escl", "0"],
                "--escl hands scanned pages to driverless clients as plaintext"
            ),
            (["--seal-key", directory.path("seal.key"), "--seal-recipient", directory.path("office.crt"), "--plaintext-retention", "soon"], "such as 90s"),
            (["--seal-key", directory.path("seal.key"), "--tsa", "http://127.0.0.1:9/tsa"], "[seal] tsa needs a counter key with a certificate"),
        ]
        for (flags, says) in cases {
            let run = try await runCommandAsync(["/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", counterkit] + base + flags)
            #expect(run.status == 1 && run.output.contains("error: ") && run.output.contains(says), "\(flags): \(run.output)")
        }
        // An expired certificate: the check's clock moved past its end.
        let pem = try String(contentsOfFile: directory.path("office.crt"), encoding: .utf8)
        #expect(throws: SealError.self) { try EnvelopeRecipient.parse(pem, now: Date().addingTimeInterval(40 * 86400)) }
        do {
            _ = try EnvelopeRecipient.parse(pem, from: "office.crt", now: Date().addingTimeInterval(40 * 86400))
        } catch {
            #expect(error.message.contains("office.crt expired on") && error.message.contains("current certificate"), "\(error.message)")
        }
        // An SM2 certificate's validity is checked the same way (OpenSSL reads it): expired, and not yet valid.
        let sm2 = try String(contentsOfFile: directory.path("sm2office.crt"), encoding: .utf8)
        #expect(try EnvelopeRecipient.parse(sm2).keyType == "sm2")
        for (moved, says) in [(40.0 * 86400, "expired on"), (-86400.0, "is not valid before")] {
            do {
                _ = try EnvelopeRecipient.parse(sm2, from: "sm2office.crt", now: Date().addingTimeInterval(moved))
                Issue.record("an SM2 certificate out of its validity was taken")
            } catch {
                #expect(error.message.contains("sm2office.crt \(says)"), "\(error.message)")
            }
        }
    }
}
