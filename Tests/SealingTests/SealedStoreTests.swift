import Attachments
import CounterKitTestSupport
import Foundation
import Sealing
import Testing

/// A sealed spool: every committed manifest signed by the counter key, checked by OpenSSL and by Python's
/// `cryptography`; every byte class tampered and caught; the crash rules for the signature file; key rotation.
@Suite("Sealed spools: signed manifests, checked by OpenSSL and Python's cryptography", .ownThreads)
struct SealedStoreTests {
    let counterkit = SANETestEnvironment.counterkitExecutable

    /// `counterkit ARGS`, its standard output and error together.
    func cli(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runCommand(["/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", counterkit] + arguments)
    }

    /// A store sealed with a new key of `algorithm` in a new directory, with the key's public PEM written beside it.
    func sealedStore(_ algorithm: SealAlgorithm, in directory: TemporaryDirectory) throws -> (AttachmentStore, CounterKey) {
        let key = try CounterKey.generate(algorithm)
        try Data(key.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: directory.path("pub.pem")))
        let spool = directory.url.appendingPathComponent("spool")
        return (try AttachmentStore(directory: spool, signer: try CounterSealer.forSpool(spool, key: key)), key)
    }

    /// Stores `bytes` as a JSON attachment.
    func put(_ bytes: [UInt8], in store: AttachmentStore) throws -> AttachmentManifest {
        let pending = try store.begin()
        try pending.file.write(bytes)
        return try store.commit(pending, metadata: AttachmentMetadata(kind: .signature, format: .json, device: "pad:1"))
    }

    /// OpenSSL's verdict on `signature` (raw bytes in a file) over the file `data` with the public key `pem`.
    func openSSLVerifies(_ algorithm: SealAlgorithm, pem: String, data: String, signature: String) throws -> Bool {
        let command =
            switch algorithm {
            case .ed25519: ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", data, "-sigfile", signature]
            case .p256: ["openssl", "dgst", "-sha256", "-verify", pem, "-signature", signature, data]
            case .sm2:
                [
                    "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
                    "-in", data, "-sigfile", signature,
                ]
            }
        let run = try runCommand(["/bin/sh", "-c", "exec \"$@\" 2>&1", "sh"] + command)
        return run.status == 0 && run.output.contains("Verified")
    }

    /// `Tests/Verifiers/counter_signatures.py ARGS`: Python's `cryptography` (Ed25519, P-256) or `gmssl` (SM2).
    func python(_ arguments: [String]) throws -> String {
        let root = repositoryRoot()
        return try runCommand(
            [
                "/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", root.appendingPathComponent(".build-venv/bin/python").path,
                root.appendingPathComponent("Tests/Verifiers/counter_signatures.py").path,
            ] + arguments
        ).output
    }

    /// A second verifier that is not OpenSSL's on the same question.
    func pythonVerifies(pem: String, data: String, signature: String) throws -> Bool {
        let output = try python(["signature", pem, data, signature])
        #expect(output.hasPrefix("python: "), "the verifier ran: \(output)")
        return output.hasPrefix("python: valid")
    }

    @Test(arguments: SealAlgorithm.allCases)
    func everyCommittedManifestIsSignedAndTwoVerifiersWeDidNotWriteAgree(_ algorithm: SealAlgorithm) throws {
        let directory = try TemporaryDirectory("ck-sealed")
        let (store, key) = try sealedStore(algorithm, in: directory)
        let data = Array("{\"strokes\":[[1,2,3]]}\n".utf8)
        let manifest = try put(data, in: store)

        // The manifest names the key; the signature record beside it is what the API serves.
        #expect(manifest.keyId == key.keyID)
        let manifestPath = store.directory.appendingPathComponent(manifest.id + AttachmentStore.manifestSuffix).path
        let signaturePath = store.directory.appendingPathComponent(manifest.id + AttachmentStore.signatureSuffix).path
        let manifestBytes = try #require(FileManager.default.contents(atPath: manifestPath))
        #expect(Array(manifestBytes) == (try store.manifestBytes(id: manifest.id)))
        let onDisk = try AttachmentManifest.makeDecoder().decode(AttachmentManifest.self, from: manifestBytes)
        #expect(onDisk == manifest && onDisk.keyId == key.keyID)
        let recordBytes = try #require(FileManager.default.contents(atPath: signaturePath))
        #expect(Array(recordBytes) == (try store.signatureBytes(id: manifest.id)))
        let record = try #require(SignatureRecord.decode(recordBytes))
        #expect(record.algorithm == algorithm.signatureName && record.keyId == key.keyID)
        let raw = try #require(record.signatureBytes)
        if algorithm == .ed25519 { #expect(raw.count == 64) } else { #expect(raw.first == 0x30, "DER SEQUENCE") }
        // The data itself is untouched by sealing.
        let dataPath = store.directory.appendingPathComponent(manifest.fileName).path
        #expect(FileManager.default.contents(atPath: dataPath) == Data(data))
        // With an SM2 key the manifest also carries the data's SM3, as OpenSSL and gmssl compute it; no other key does.
        if algorithm == .sm2 {
            let openssl = try runCommand(["openssl", "dgst", "-sm3", "-r", dataPath]).output.split(separator: " ").first.map(String.init)
            let gmssl = try python(["sm3", dataPath]).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(manifest.sm3 != nil && manifest.sm3 == openssl && manifest.sm3 == gmssl, "\(manifest.sm3 ?? "none") \(openssl ?? "") \(gmssl)")
        } else {
            #expect(manifest.sm3 == nil && !String(decoding: manifestBytes, as: UTF8.self).contains("sm3"))
        }

        // OpenSSL and Python's cryptography verify the signature over the manifest file's exact bytes...
        try Data(raw).write(to: URL(fileURLWithPath: directory.path("sig.bin")))
        #expect(try openSSLVerifies(algorithm, pem: directory.path("pub.pem"), data: manifestPath, signature: directory.path("sig.bin")))
        #expect(try pythonVerifies(pem: directory.path("pub.pem"), data: manifestPath, signature: directory.path("sig.bin")))
        // ...and neither accepts it over a manifest with one byte changed.
        var changed = Array(manifestBytes)
        changed[changed.count / 2] ^= 0x01
        try Data(changed).write(to: URL(fileURLWithPath: directory.path("changed.json")))
        #expect(!(try openSSLVerifies(algorithm, pem: directory.path("pub.pem"), data: directory.path("changed.json"), signature: directory.path("sig.bin"))))
        #expect(!(try pythonVerifies(pem: directory.path("pub.pem"), data: directory.path("changed.json"), signature: directory.path("sig.bin"))))

        // `counterkit verify` offline, on the three files as the back office receives them.
        let verified = try cli([
            "verify", "--key", directory.path("pub.pem"), "--manifest", manifestPath, "--signature", signaturePath, "--data", dataPath,
        ])
        #expect(verified.status == 0 && verified.output.hasPrefix("valid: \(manifest.id)") && verified.output.contains(key.keyID), "\(verified.output)")
        #expect(verified.output.contains("and SM3") == (algorithm == .sm2), "an SM2 manifest's SM3 is checked too: \(verified.output)")
        #expect(try store.integrity(id: manifest.id) == .intact)
    }

    /// A manifest whose SM3 does not match its data (a signer that hashed the wrong bytes) fails `verify` even though
    /// its SHA-256 matches: with an SM2 key, both digests are checked.
    @Test func anSM2ManifestsSM3IsCheckedBesideItsSHA256() throws {
        let directory = try TemporaryDirectory("ck-sm3")
        let (store, key) = try sealedStore(.sm2, in: directory)
        let data = Array("{\"sm3\":\"checked\"}".utf8)
        let manifest = try put(data, in: store)
        var forged = manifest
        forged.sm3 = String(repeating: "0", count: 64)
        let forgedBytes = Array(try AttachmentManifest.makeEncoder().encode(forged))
        let record = SignatureRecord(algorithm: "sm2-sm3", keyId: key.keyID, signature: try key.signature(for: forgedBytes))
        #expect(throws: SealError.self) {
            try SealCheck.verify(manifest: forgedBytes, signature: record.encoded(), key: key.publicKey, data: [data])
        }
        do {
            _ = try SealCheck.verify(manifest: forgedBytes, signature: record.encoded(), key: key.publicKey, data: [data])
        } catch {
            #expect(error.code == .sealInvalid && error.message.contains("its SM3 is \(manifest.sm3 ?? "")"), "\(error.message)")
        }
        // The stored one verifies with its data.
        let report = try SealCheck.verify(
            manifest: try store.manifestBytes(id: manifest.id), signature: try store.signatureBytes(id: manifest.id), key: key.publicKey, data: [data])
        #expect(report.dataChecked && report.summary.contains("SM3 \(manifest.sm3 ?? "-")"))
    }

    @Test func everyByteClassTamperedIsCaughtByTheStoreAndByVerify() throws {
        let directory = try TemporaryDirectory("ck-tamper")
        let (store, _) = try sealedStore(.ed25519, in: directory)
        let pub = directory.path("pub.pem")
        struct Case { var name: String; var file: String; var expected: String; var cli: String }
        let cases = [
            Case(name: "data", file: "data", expected: "its data", cli: "the data does not match the manifest"),
            Case(name: "manifest", file: "manifest", expected: "its manifest", cli: "does not verify over the manifest"),
            Case(name: "signature", file: "signature", expected: "its signature", cli: "does not verify over the manifest"),
        ]
        for tampered in cases {
            let manifest = try put(Array("{\"case\":\"\(tampered.name)\",\"pad\":[0,1,2,3,4,5,6,7]}".utf8), in: store)
            let paths = [
                "data": store.directory.appendingPathComponent(manifest.fileName).path,
                "manifest": store.directory.appendingPathComponent(manifest.id + AttachmentStore.manifestSuffix).path,
                "signature": store.directory.appendingPathComponent(manifest.id + AttachmentStore.signatureSuffix).path,
            ]
            #expect(try store.integrity(id: manifest.id) == .intact)
            // One byte changed in place, the size kept: only the content tells.
            let path = paths[tampered.file]!
            var bytes = Array(try #require(FileManager.default.contents(atPath: path)))
            if tampered.file == "signature" {
                // A different valid-looking base64 signature: the record still decodes.
                var record = try #require(SignatureRecord.decode(bytes))
                var raw = try #require(record.signatureBytes)
                raw[5] ^= 0x40
                record = SignatureRecord(algorithm: record.algorithm, keyId: record.keyId, signature: raw)
                bytes = record.encoded()
            } else if tampered.file == "manifest" {
                // The manifest's settings change (it still decodes): a forger's edit, not noise.
                let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"pad:1\"", with: "\"pad:2\"")
                bytes = Array(text.utf8)
            } else {
                bytes[3] ^= 0x01
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect(try store.integrity(id: manifest.id) == .broken, "\(tampered.name)")
            let problem = try #require(try store.integrityProblem(id: manifest.id))
            #expect(problem.hasPrefix(tampered.expected), "\(tampered.name): \(problem)")
            let verified = try cli([
                "verify", "--key", pub, "--manifest", paths["manifest"]!, "--signature", paths["signature"]!, "--data", paths["data"]!,
            ])
            #expect(
                verified.status == 1 && verified.output.contains("error: seal_invalid: ") && verified.output.contains(tampered.cli),
                "\(tampered.name): \(verified.output)")
        }
        // A different key's public half is refused by name, not taken for tampering.
        let other = try CounterKey.generate(.ed25519)
        try Data(other.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: directory.path("other.pem")))
        let first = try #require(store.list().first)
        let wrongKey = try cli([
            "verify", "--key", directory.path("other.pem"),
            "--manifest", store.directory.appendingPathComponent(first.id + AttachmentStore.manifestSuffix).path,
            "--signature", store.directory.appendingPathComponent(first.id + AttachmentStore.signatureSuffix).path,
        ])
        #expect(wrongKey.status == 1 && wrongKey.output.contains("not by the given key \(other.keyID)"), "\(wrongKey.output)")
    }

    @Test func aManifestWithoutItsSignatureIsAnUnfinishedCommitAndIsDroppedAtStart() throws {
        let directory = try TemporaryDirectory("ck-seal-crash")
        let (store, key) = try sealedStore(.p256, in: directory)
        let kept = try put(Array("{\"kept\":true}".utf8), in: store)
        let cut = try put(Array("{\"cut\":true}".utf8), in: store)
        let spool = store.directory
        // The power went after the manifest's rename but before the signature's reached the disk (a reordering the
        // store's order forbids; the start-up rule holds whatever the file system did).
        unlink(spool.appendingPathComponent(cut.id + AttachmentStore.signatureSuffix).path)
        // A signature whose manifest never arrived, and a signature's temp file of a dead writer.
        let orphan = UUID().uuidString.lowercased()
        try Data("{}".utf8).write(to: spool.appendingPathComponent(orphan + AttachmentStore.signatureSuffix))
        try Data("x".utf8).write(to: spool.appendingPathComponent("tmp/999999-\(orphan).signature.part"))

        let reopened = try AttachmentStore(directory: spool, signer: try CounterSealer.forSpool(spool, key: key))
        #expect(reopened.list().map(\.id) == [kept.id])
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: spool.path))
        #expect(!names.contains { $0.hasPrefix(cut.id) }, "the unfinished commit is gone whole: \(names)")
        #expect(!names.contains { $0.hasPrefix(orphan) })
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.appendingPathComponent("tmp").path).isEmpty)
        #expect(try reopened.integrity(id: kept.id) == .intact)
        // Deleting removes the signature with the manifest and the data.
        try reopened.delete(id: kept.id)
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: spool.path)).contains { $0.hasPrefix(kept.id) })
    }

    @Test func afterAKeyChangeOldAttachmentsStillVerifyWithTheOldKey() throws {
        let directory = try TemporaryDirectory("ck-rotate")
        let spool = directory.url.appendingPathComponent("spool")
        // Stored before the spool was sealed: kept, intact, and not signed.
        let plain = try put(Array("{\"before\":1}".utf8), in: try AttachmentStore(directory: spool))
        let oldKey = try CounterKey.generate(.ed25519), newKey = try CounterKey.generate(.p256)
        let old = try put(Array("{\"old\":1}".utf8), in: try AttachmentStore(directory: spool, signer: try CounterSealer.forSpool(spool, key: oldKey)))
        let sealer = try CounterSealer.forSpool(spool, key: newKey)
        #expect(Set(sealer.knownKeys.keys) == [oldKey.keyID, newKey.keyID], "the key ring keeps the old key's public half")
        let store = try AttachmentStore(directory: spool, signer: sealer)
        let new = try put(Array("{\"new\":1}".utf8), in: store)
        #expect(old.keyId == oldKey.keyID && new.keyId == newKey.keyID && plain.keyId == nil)
        for id in [plain.id, old.id, new.id] { #expect(try store.integrity(id: id) == .intact) }
        #expect(throws: AttachmentError.self) { try store.signatureBytes(id: plain.id) }
        // Each verifies with its own key's public half (from the ring, as `keys show` printed it), and only with it.
        let ring = CounterSealer.keyRing(of: spool)
        for (manifest, key, other) in [(old, oldKey, newKey), (new, newKey, oldKey)] {
            let ringed = ring.appendingPathComponent("\(key.keyID).pem").path
            #expect(try String(contentsOfFile: ringed, encoding: .utf8) == key.publicKeyPEM)
            let files = [
                "--manifest", spool.appendingPathComponent(manifest.id + AttachmentStore.manifestSuffix).path,
                "--signature", spool.appendingPathComponent(manifest.id + AttachmentStore.signatureSuffix).path,
                "--data", spool.appendingPathComponent(manifest.fileName).path,
            ]
            let good = try cli(["verify", "--key", ringed] + files)
            #expect(good.status == 0 && good.output.contains("signed by key \(key.keyID) (\(key.algorithm.signatureName))"), "\(good.output)")
            let otherPath = ring.appendingPathComponent("\(other.keyID).pem").path
            let bad = try cli(["verify", "--key", otherPath] + files)
            #expect(bad.status == 1 && bad.output.contains("seal_invalid"), "\(bad.output)")
        }
    }

    @Test func anEnvelopeIsPartOfTheCommitAndTamperingWithItIsCaught() throws {
        let directory = try TemporaryDirectory("ck-seal-envelope")
        let made = try runCommand([
            "/bin/sh", "-c", "exec openssl req -x509 -newkey rsa:2048 -nodes -keyout \"$1\" -out \"$2\" -subj /CN=office -days 30 2>&1", "sh",
            directory.path("office.key"), directory.path("office.crt"),
        ])
        #expect(made.status == 0, "\(made.output)")
        let recipient = try EnvelopeRecipient.load(from: directory.path("office.crt"))
        let key = try CounterKey.generate(.ed25519)
        let spool = directory.url.appendingPathComponent("spool")
        let store = try AttachmentStore(
            directory: spool, retention: RetentionPolicy(plaintextMaxAge: 3600), signer: try CounterSealer.forSpool(spool, key: key), envelopes: recipient)
        let kept = try put(Array("{\"kept\":1}".utf8), in: store)
        let cut = try put(Array("{\"cut\":1}".utf8), in: store)
        #expect(kept.sealed?.fileName == kept.id + AttachmentStore.envelopeSuffix && kept.sealed?.recipient == recipient.recipientID)
        // OpenSSL opens the envelope to the data.
        let opened = try runCommand([
            "/bin/sh", "-c", "exec openssl cms -decrypt -inform DER -in \"$1\" -inkey \"$2\" -recip \"$3\" 2>&1", "sh",
            try store.envelopeURL(id: kept.id).path, directory.path("office.key"), directory.path("office.crt"),
        ])
        #expect(opened.status == 0 && opened.output == "{\"kept\":1}", "\(opened.output)")
        // Past the plaintext retention only the envelope stays; the attachment is intact and sealed only.
        #expect(try !store.isSealedOnly(id: kept.id))
        _ = store.applyRetention(now: Date().addingTimeInterval(7200))
        #expect(try store.isSealedOnly(id: kept.id) && (try store.integrity(id: kept.id)) == .intact)
        // The envelope changed on disk is caught and named.
        let envelope = try store.envelopeURL(id: kept.id).path
        var bytes = Array(try #require(FileManager.default.contents(atPath: envelope)))
        bytes[bytes.count - 5] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: envelope))
        #expect(try store.integrity(id: kept.id) == .broken)
        #expect(try store.integrityProblem(id: kept.id)?.hasPrefix("its envelope (\(kept.id).p7m)") == true)
        // A manifest whose envelope did not reach the disk is an unfinished commit: dropped at start, data and all.
        unlink(try store.envelopeURL(id: cut.id).path)
        let reopened = try AttachmentStore(directory: spool, signer: try CounterSealer.forSpool(spool, key: key), envelopes: recipient)
        #expect(reopened.list().map(\.id) == [kept.id], "the sealed-only attachment stays, the unfinished one goes")
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: spool.path)).contains { $0.hasPrefix(cut.id) })
    }

    @Test func badKeysAndRecordsAreRefusedWithClearErrors() throws {
        let directory = try TemporaryDirectory("ck-seal-bad")
        // verify: neither an id nor files; a key that is a private key; an unreadable signature record.
        let usage = try cli(["verify", "--key", directory.path("none.pem")])
        #expect(usage.status != 0 && usage.output.contains("--manifest FILE and --signature FILE"), "\(usage.output)")
        let key = try CounterKey.generate(.ed25519)
        try key.write(to: directory.path("seal.key"))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: directory.path("m.json")))
        let privateAsPublic = try cli([
            "verify", "--key", directory.path("seal.key"), "--manifest", directory.path("m.json"), "--signature", directory.path("m.json"),
        ])
        #expect(
            privateAsPublic.status == 1 && privateAsPublic.output.contains("not a public key (BEGIN PUBLIC KEY) or a certificate"), "\(privateAsPublic.output)")
        try Data(key.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: directory.path("pub.pem")))
        let notARecord = try cli([
            "verify", "--key", directory.path("pub.pem"), "--manifest", directory.path("m.json"), "--signature", directory.path("m.json"),
        ])
        #expect(
            notARecord.status == 1 && notARecord.output.contains("error: seal_invalid: the signature is not a CounterKit signature record"),
            "\(notARecord.output)")
        // The certificate stands for its key: `keys init --cert` output verifies as the PEM would.
        let certificate = try key.selfSignedCertificate(subject: "CN=Counter 3")
        #expect(try CounterPublicKey.parse(certificate).keyID == key.keyID)
        // Junk in the key ring verifies nothing and stops nothing.
        let spool = directory.url.appendingPathComponent("spool")
        try FileManager.default.createDirectory(at: CounterSealer.keyRing(of: spool), withIntermediateDirectories: true)
        try Data("not a key".utf8).write(to: CounterSealer.keyRing(of: spool).appendingPathComponent("junk.pem"))
        let impostor = try CounterKey.generate(.ed25519)
        try Data(impostor.publicKeyPEM.utf8).write(to: CounterSealer.keyRing(of: spool).appendingPathComponent("\(key.keyID)0.pem"))
        #expect(Set(try CounterSealer.forSpool(spool, key: key).knownKeys.keys) == [key.keyID])
    }
}
