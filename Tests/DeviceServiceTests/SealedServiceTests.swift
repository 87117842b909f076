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
    func cli(_ arguments: [String], environment: [String: String] = SANETestEnvironment.environment) async throws -> (status: Int32, output: String) {
        try await runCommandAsync(["/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", counterkit] + arguments, environment: environment)
    }

    /// A response body's bytes over curl (`--unix-socket`), with its HTTP status.
    func curl(_ socket: String, _ path: String, to file: String) async throws -> Int {
        let run = try await runCommandAsync([
            "curl", "-s", "--max-time", "60", "-o", file, "-w", "%{http_code}", "--unix-socket", socket, "http://localhost\(path)",
        ])
        return Int(run.output) ?? 0
    }

    @Test(arguments: [SealAlgorithm.p256, .sm2])
    func aSealedServiceSignsEveryScanAndOpenSSLVerifiesWhatItServes(_ algorithm: SealAlgorithm) async throws {
        let directory = try TemporaryDirectory("ck-sealed-svc")
        let key = try CounterKey.generate(algorithm)
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
        #expect(record.algorithm == algorithm.signatureName && record.keyId == key.keyID)
        try Data(try #require(record.signatureBytes)).write(to: URL(fileURLWithPath: directory.path("s.der")))
        let openssl = try await runCommandAsync([
            "/bin/sh", "-c",
            algorithm == .sm2
                ? "exec openssl pkeyutl -verify -pubin -inkey \"$1\" -rawin -digest sm3 -pkeyopt distid:1234567812345678 -sigfile \"$2\" -in \"$3\" 2>&1"
                : "exec openssl dgst -sha256 -verify \"$1\" -signature \"$2\" \"$3\" 2>&1",
            "sh", directory.path("pub.pem"), directory.path("s.der"), directory.path("m.json"),
        ])
        #expect(openssl.status == 0 && openssl.output.contains("Verified"), "\(openssl.output)")
        #expect((manifest.sm3 != nil) == (algorithm == .sm2), "an SM2 key's manifest names the data's SM3")
        let listed = try await client.send("GET", "/v1/attachments").decode(AttachmentList.self).attachments
        #expect(listed.map(\.integrity) == [.intact] && listed.first?.keyId == key.keyID)

        // `counterkit verify` through the socket: signature, manifest and the downloaded bytes.
        let valid = try await cli(["verify", "--key", directory.path("pub.pem"), "--socket", served.socket, manifest.id])
        #expect(valid.status == 0 && valid.output.hasPrefix("valid: \(manifest.id) (scan png") && valid.output.contains("its data matches"), "\(valid.output)")
        #expect(valid.output.contains("and SM3 ") == (algorithm == .sm2), "\(valid.output)")

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

    /// The back office's CA issues the counter's certificate (P-256: a root and an intermediate; SM2: a root), the chain
    /// replaces the self-signed one beside the key: `keys show` names the CA, the service serves the chain, and
    /// OpenSSL's `verify` accepts what it serves; chains that do not fit the key or do not chain stop start-up.
    @Test(arguments: [SealAlgorithm.p256, .sm2])
    func aChainTheCAIssuedReplacesTheSelfSignedCertificate(_ algorithm: SealAlgorithm) async throws {
        let directory = try TemporaryDirectory("ck-chain")
        let key = directory.path("seal.key"), crt = directory.path("seal.crt")
        let made = try await cli(["keys", "init", "--algorithm", algorithm.rawValue, "--out", key, "--cert", "CN=Counter 3, O=Town service centre"])
        #expect(made.status == 0, "\(made.output)")
        struct Shown: Decodable { var certificate: String?; var certificateIssuer: String? }
        let selfSigned = try JSONDecoder().decode(Shown.self, from: Data(try await cli(["keys", "show", "--key", key, "--json"]).output.utf8))
        #expect(selfSigned.certificate == crt && selfSigned.certificateIssuer == "self-signed")

        // OpenSSL plays the CA: SM2 with SM3 and the default signer id, or P-256 with a root and an intermediate.
        let gm = algorithm == .sm2 ? "-sm3 -sigopt distid:1234567812345678" : ""
        let newKey = algorithm == .sm2 ? "-newkey sm2" : "-newkey ec -pkeyopt ec_paramgen_curve:P-256"
        let ca = "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
        var script = """
            set -e; cd "$1"
            openssl req -x509 \(newKey) \(gm) -nodes -keyout root.key -out root.crt -subj "/CN=Back office root" -days 60 \(ca)
            printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature,nonRepudiation\\n' > leaf.ext
            openssl req -new -key seal.key \(gm) -subj "/CN=Counter 3/O=Town service centre" -out leaf.csr
            """
        if algorithm == .sm2 {
            script +=
                "\nopenssl x509 -req -in leaf.csr -CA root.crt -CAkey root.key -days 30 \(gm) -vfyopt distid:1234567812345678 -extfile leaf.ext -out leaf.crt"
            script += "\ncat leaf.crt root.crt > chain.pem"
        } else {
            script += """

                openssl req -new \(newKey) -nodes -keyout inter.key -subj "/CN=Back office counters CA" -out inter.csr
                printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign\\n' > ca.ext
                openssl x509 -req -in inter.csr -CA root.crt -CAkey root.key -days 60 -extfile ca.ext -out inter.crt
                openssl x509 -req -in leaf.csr -CA inter.crt -CAkey inter.key -days 30 -extfile leaf.ext -out leaf.crt
                cat leaf.crt inter.crt root.crt > chain.pem
                """
        }
        let issued = try await runCommandAsync(["/bin/sh", "-c", script + " 2>&1", "sh", directory.url.path])
        #expect(issued.status == 0, "\(issued.output)")
        try FileManager.default.removeItem(atPath: crt)
        try FileManager.default.copyItem(atPath: directory.path("chain.pem"), toPath: crt)
        let shown = try JSONDecoder().decode(Shown.self, from: Data(try await cli(["keys", "show", "--key", key, "--json"]).output.utf8))
        let issuer = algorithm == .sm2 ? "CN=Back office root" : "CN=Back office counters CA"
        #expect(shown.certificateIssuer == issuer, "\(String(describing: shown.certificateIssuer))")

        // The service finds the chain beside the key and serves it; OpenSSL verifies the counter's certificate with it.
        let served = try await ServeFlagsTests.Served.start(["--seal-key", key], in: directory)
        let chain = try await served.curl(["-D", directory.path("headers")], path: "/v1/seal/certificate")
        let headers = try String(contentsOfFile: directory.path("headers"), encoding: .utf8)
        #expect(chain.status == 200 && headers.contains("application/pem-certificate-chain"), "\(headers)")
        let blocks = chain.body.components(separatedBy: "-----END CERTIFICATE-----").filter { $0.contains("BEGIN") }
        #expect(blocks.count == (algorithm == .sm2 ? 2 : 3), "\(chain.body)")
        try (blocks[0] + "-----END CERTIFICATE-----\n").write(toFile: directory.path("served-leaf.pem"), atomically: true, encoding: .utf8)
        try (blocks.dropFirst().dropLast().map { $0 + "-----END CERTIFICATE-----\n" }.joined())
            .write(toFile: directory.path("served-untrusted.pem"), atomically: true, encoding: .utf8)
        let verify = try await runCommandAsync([
            "/bin/sh", "-c",
            "exec openssl verify \(algorithm == .sm2 ? "-vfyopt distid:1234567812345678" : "") -CAfile \"$1\" "
                + (algorithm == .sm2 ? "" : "-untrusted \"$2\" ") + "\"$3\" 2>&1",
            "sh", directory.path("root.crt"), directory.path("served-untrusted.pem"), directory.path("served-leaf.pem"),
        ])
        #expect(verify.status == 0 && verify.output.contains("served-leaf.pem: OK"), "\(verify.output)")
        let leafKey = try await runCommandAsync(["/bin/sh", "-c", "openssl x509 -in \"$1\" -noout -pubkey", "sh", directory.path("served-leaf.pem")])
        let counterKey = try CounterKey.load(from: key)
        #expect(leafKey.output == counterKey.publicKeyPEM, "the served chain certifies the counter key")
        #expect(try await ServiceClient(socketPath: served.socket).certificateChain() == chain.body, "the Swift client reads the same chain")
        await served.stop()

        // Chains that cannot be used stop start-up, naming why: the wrong order, another key's certificate, a CA missing.
        let other = try CounterKey.generate(algorithm)
        try other.write(to: directory.path("other.key"))
        let leaf = try String(contentsOfFile: directory.path("leaf.crt"), encoding: .utf8)
        let root = try String(contentsOfFile: directory.path("root.crt"), encoding: .utf8)
        let stranger = try other.selfSignedCertificate(subject: "CN=Stranger")
        for (chain, says) in [
            (root + leaf, "certifies key"), (leaf + stranger, "does not chain: it was issued by"), (String(leaf.prefix(200)), "not PEM"),
        ] {
            try chain.write(toFile: directory.path("bad.pem"), atomically: true, encoding: .utf8)
            let run = try await cli([
                "serve", "--socket", directory.path("bad.sock"), "--spool", directory.path("spool"), "--seal-key", key, "--seal-certificate",
                directory.path("bad.pem"),
            ])
            #expect(run.status == 1 && run.output.contains("error: invalid_value: [seal] certificate: ") && run.output.contains(says), "\(run.output)")
        }
        // An expired counter certificate: the check's clock moved past its end.
        do {
            _ = try CounterCertificateChain.parse(leaf + root, for: counterKey.publicKey, from: "seal.crt", now: Date().addingTimeInterval(40 * 86400))
            Issue.record("an expired chain was taken")
        } catch {
            #expect(error.message.contains("seal.crt expired on") && error.message.contains("CA for a new one"), "\(error.message)")
        }
    }

    /// A counter key made inside a SoftHSM2 token (by OpenSC's pkcs11-tool) signs every capture there: the service opens
    /// it by its `pkcs11:` URI through p11-kit, OpenSSL verifies the signatures with the public key the token exports,
    /// the PIN never shows, and an absent token or a wrong PIN stop start-up and fail `counterkit doctor` with the fix.
    @Test func aKeyInASoftHSMTokenSignsEveryCaptureAndDoctorNamesAnAbsentToken() async throws {
        let directory = try TemporaryDirectory("ck-token")
        var environment = SANETestEnvironment.environment
        environment["SOFTHSM2_CONF"] = directory.path("softhsm2.conf")
        let pin = "s3cret-pin-77"
        try "directories.tokendir = \(directory.path("tokens"))\nobjectstore.backend = file\nlog.level = ERROR\n"
            .write(toFile: directory.path("softhsm2.conf"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: directory.path("tokens"), withIntermediateDirectories: true)
        try "\(pin)\n".write(toFile: directory.path("pin"), atomically: true, encoding: .utf8)
        let module = "/usr/lib/softhsm/libsofthsm2.so"
        let made = try await runCommandAsync(
            [
                "/bin/sh", "-c",
                """
                set -e
                softhsm2-util --init-token --free --label counter --pin "$2" --so-pin 5678-so
                pkcs11-tool --module "$1" --login --pin "$2" --token-label counter --keypairgen --key-type EC:prime256v1 --label seal --id 01
                pkcs11-tool --module "$1" --token-label counter --read-object --type pubkey --label seal -o "$3"
                openssl pkey -pubin -inform DER -in "$3" -out "$4"
                """ + " 2>&1",
                "sh", module, pin, directory.path("pub.der"), directory.path("pub.pem"),
            ], environment: environment)
        #expect(made.status == 0, "\(made.output)")
        let uri = "pkcs11:token=counter;object=seal;type=private?module-path=\(module)&pin-source=\(directory.path("pin"))"

        // The key as the token exports it: its id is the SHA-256 of that SubjectPublicKeyInfo.
        struct Shown: Decodable { var algorithm: String; var keyId: String; var publicKey: String }
        let shown = try await cli(["keys", "show", "--key", uri, "--json"], environment: environment)
        let described = try JSONDecoder().decode(Shown.self, from: Data(shown.output.utf8))
        let exported = try #require(FileManager.default.contents(atPath: directory.path("pub.der")))
        let spki = try await runCommandAsync([
            "/bin/sh", "-c", "openssl pkey -pubin -inform DER -in \"$1\" -outform DER | sha256sum", "sh", directory.path("pub.der"),
        ])
        #expect(described.algorithm == "p256" && spki.output.hasPrefix(described.keyId) && !exported.isEmpty, "\(shown.output) \(spki.output)")

        // The service signs with it; OpenSSL verifies with the exported public key.
        let served = try await ServeFlagsTests.Served.start(["--seal-key", uri], in: directory, environment: environment)
        let client = ServiceClient(socketPath: served.socket, idleTimeout: .seconds(60))
        let job = try await client.send("POST", "/v1/scans?wait=true", json: Data(#"{"device":"test:0","resolution":75,"paper":"ID1","format":"png"}"#.utf8))
            .decode(JobSnapshot.self)
        let manifest = try #require(job.attachments.first, "\(String(describing: job.error))")
        #expect(manifest.keyId == described.keyId)
        try Data(try await client.manifestBytes(of: manifest.id)).write(to: URL(fileURLWithPath: directory.path("m.json")))
        try Data(try #require(try await client.signature(of: manifest.id).signatureBytes)).write(to: URL(fileURLWithPath: directory.path("s.der")))
        let openssl = try await runCommandAsync([
            "/bin/sh", "-c", "exec openssl dgst -sha256 -verify \"$1\" -signature \"$2\" \"$3\" 2>&1", "sh", directory.path("pub.pem"),
            directory.path("s.der"), directory.path("m.json"),
        ])
        #expect(openssl.status == 0 && openssl.output.contains("Verified OK"), "\(openssl.output)")
        await served.stop()

        // doctor checks the key the configuration names: present, then the token absent (its label changed), then a wrong PIN.
        for (label, pinFile, status, says) in [
            ("counter", "pin", "PASS", "counter key \(described.keyId) (p256, in a PKCS#11 token) signs"),
            ("elsewhere", "pin", "FAIL", "plug in the token the [seal] key URI names"),
            ("counter", "wrong-pin", "FAIL", "the token refused the PIN"),
        ] {
            try "0000\n".write(toFile: directory.path("wrong-pin"), atomically: true, encoding: .utf8)
            let named = uri.replacingOccurrences(of: "token=counter", with: "token=\(label)").replacingOccurrences(
                of: directory.path("pin"), with: directory.path(pinFile))
            try "[seal]\nkey = \"\(named)\"\n".write(toFile: directory.path("counterkit.toml"), atomically: true, encoding: .utf8)
            let doctor = try await cli(["doctor", "--config", directory.path("counterkit.toml"), "--timeout", "2"], environment: environment)
            let line = doctor.output.split(separator: "\n").first { $0.contains("seal.key") }.map(String.init) ?? ""
            let fix = doctor.output.components(separatedBy: line).last?.split(separator: "\n").first.map(String.init) ?? ""
            #expect(line.hasPrefix(status) && (line + fix).contains(says), "\(label)/\(pinFile): \(line) | \(fix)")
            if status == "FAIL" {
                #expect(doctor.status == 1)
                let refused = try await cli(
                    ["serve", "--socket", directory.path("x.sock"), "--spool", directory.path("spool2"), "--config", directory.path("counterkit.toml")],
                    environment: environment)
                #expect(
                    refused.status == 1 && refused.output.contains("error: ") && refused.output.contains("[seal] key: the counter key in the token"),
                    "\(refused.output)")
                #expect(!refused.output.contains(pin))
            }
            #expect(!doctor.output.contains(pin), "the PIN never shows")
        }
        #expect(!shown.output.contains(pin))
        // In this process too (SoftHSM2 reads its configuration's path from the environment): it signs, and cannot be exported.
        setenv("SOFTHSM2_CONF", directory.path("softhsm2.conf"), 1)
        let inProcess = try CounterKey.load(from: uri)
        #expect(inProcess.isInToken && inProcess.keyID == described.keyId)
        #expect(inProcess.publicKey.isValidSignature(try inProcess.signature(for: Array("a manifest".utf8)), for: Array("a manifest".utf8)))
        do {
            _ = try inProcess.privateKeyPEM
            Issue.record("a token's key was exported")
        } catch {
            #expect(error.message.contains("cannot be exported"), "\(error.message)")
        }
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
        let audit = try await service.get("/v1/audit")
        #expect(audit.status == 404 && audit.error?.message.contains("sealed") == true, "\(String(describing: audit.error))")
        #expect(!FileManager.default.fileExists(atPath: service.spool.appendingPathComponent("audit").path))
        try await service.stop()
    }

    struct Logged: Decodable { var seq: Int; var event: String; var attachment: String?; var detail: [String: String] }

    @Test func theAuditLogRecordsCapturesDownloadsDeletionsAndPairingsAndServesThemSince() async throws {
        let key = try CounterKey.generate(.ed25519)
        let service = try await RunningService.start(signer: CounterSealer(key: key))
        try Data(key.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: service.directory.path("pub.pem")))
        let job = try service.job(try await service.post("/v1/scans?wait=true", #"{"device":"test:0","resolution":50,"paper":"ID1"}"#))
        let id = try #require(job.attachments.first?.id)
        #expect(try await service.get("/v1/attachments/\(id)").status == 200)
        #expect(try await service.get("/v1/attachments/\(id)", headers: [("Range", "bytes=0-9")]).status == 206)
        _ = try await service.pair("https://counter.example.gov.cn")
        #expect(try await service.delete("/v1/pairings?origin=https%3A%2F%2Fcounter.example.gov.cn").status == 200)
        #expect(try await service.delete("/v1/attachments/\(id)").status == 204)

        let reply = try await service.get("/v1/audit")
        #expect(reply.status == 200 && reply.headers.first(name: "Content-Type") == "application/x-ndjson")
        let lines = String(decoding: reply.body, as: UTF8.self).split(separator: "\n").map(String.init)
        let entries = try lines.map { try JSONDecoder().decode(Logged.self, from: Data($0.utf8)) }
        #expect(entries.map(\.event) == ["start", "capture", "download", "download", "pairing", "pairing", "delete"], "\(entries.map(\.event))")
        #expect(entries.map(\.seq) == Array(1...7))
        #expect(entries[1].attachment == id && entries[1].detail["sha256"] == job.attachments.first?.sha256)
        let uid = String(getuid())
        #expect(entries[2].detail["uid"] == uid && entries[3].detail["range"] == "bytes=0-9" && entries[6].detail["uid"] == uid, "who asked: \(entries)")
        #expect(
            entries[4].detail["origin"] == "https://counter.example.gov.cn" && entries[4].detail["change"] == "paired"
                && entries[5].detail["change"] == "revoked")
        // The head names the last entry; ?since= serves the lines after it, byte for byte.
        let head = try #require(reply.headers.first(name: "CounterKit-Audit-Head"))
        #expect(head.hasPrefix("7 "))
        let since = try await service.get("/v1/audit?since=5")
        #expect(String(decoding: since.body, as: UTF8.self) == lines[5...].joined(separator: "\n") + "\n")
        #expect(try await service.get("/v1/audit?since=7").body.isEmpty)
        #expect(try await service.get("/v1/audit?since=-1").error?.code == "invalid_value")
        // The file in the spool verifies with the key, and names the same head.
        let verified = try await runCommandAsync([
            "/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", counterkit, "audit", "verify", "--spool", service.spool.path, "--key", service.directory.path("pub.pem"),
        ])
        #expect(verified.status == 0 && verified.output.contains("valid: 7 entries") && verified.output.contains("head \(head)"), "\(verified.output)")
        try await service.stop()
    }

    @Test func aBadKeyStopsStartUpNamingTheFileAndTheFix() async throws {
        let directory = try TemporaryDirectory("ck-sealed-bad")
        let key = try CounterKey.generate(.ed25519)
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
        // The configuration file's [seal] table takes only its own keys, and names the line of another.
        try "[seal]\nkey = \"\(exposed)\"\ncipher = \"aes-128-cbc\"\n".write(
            toFile: directory.path("counterkit.toml"), atomically: true, encoding: .utf8)
        let unknown = try await cli(["serve", "--socket", directory.path("api.sock"), "--config", directory.path("counterkit.toml")])
        #expect(
            unknown.status == 1 && unknown.output.contains("line 3")
                && unknown.output.contains("unknown key 'cipher' in [seal]; allowed: key, recipient, certificate, plaintext-retention"), "\(unknown.output)")
    }
}
