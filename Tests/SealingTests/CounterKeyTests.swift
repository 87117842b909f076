import CounterKitTestSupport
import Crypto
import Foundation
import Sealing
import Testing

/// `counterkit keys` and the counter key, checked by OpenSSL: the key file, its public key and key id, the self-signed
/// certificate, and signatures made with it.
@Suite("The counter's signing key, checked by OpenSSL", .ownThreads)
struct CounterKeyTests {
    let counterkit = SANETestEnvironment.counterkitExecutable

    func openssl(_ arguments: [String]) throws -> (status: Int32, output: [UInt8]) {
        try runCommandData(["/bin/sh", "-c", "exec openssl \"$@\" 2>&1", "openssl"] + arguments)
    }

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    struct Described: Decodable { var algorithm: String; var keyId: String; var publicKey: String; var path: String; var certificate: String? }

    @Test(arguments: ["ed25519", "p256", "sm2"])
    func initWritesAKeyOpenSSLReadsAndACertificateItVerifies(_ algorithm: String) throws {
        let directory = try TemporaryDirectory("ck-keys")
        let path = directory.path("seal.key")
        let made = try runCommand([
            counterkit, "keys", "init", "--algorithm", algorithm, "--out", path, "--cert", "CN=Counter 3, O=Town service centre, C=CN", "--json",
        ])
        #expect(made.status == 0, "\(made.output)")
        let described = try JSONDecoder().decode(Described.self, from: Data(made.output.utf8))
        #expect(described.algorithm == algorithm && described.path == path)

        // The private key: 0600, PKCS#8 PEM, and OpenSSL derives the public key that was printed.
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600, "mode \(String(status.st_mode & 0o777, radix: 8))")
        let pem = try String(contentsOfFile: path, encoding: .utf8)
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----"), "PKCS#8, not a legacy format")
        let derived = try openssl(["pkey", "-in", path, "-pubout"])
        #expect(derived.status == 0 && text(derived.output) == described.publicKey, "\(text(derived.output))")
        let type = try openssl(["pkey", "-in", path, "-noout", "-text"])
        let expectedType = ["ed25519": "ED25519 Private-Key", "p256": "prime256v1", "sm2": "ASN1 OID: SM2"][algorithm]!
        #expect(text(type.output).contains(expectedType), "\(text(type.output).prefix(400))")
        // The key id is the SHA-256 of the SubjectPublicKeyInfo DER, as OpenSSL writes it.
        let spki = try openssl(["pkey", "-in", path, "-pubout", "-outform", "DER"])
        #expect(described.keyId == SHA256.hash(data: spki.output).map { String(format: "%02x", $0) }.joined())

        // The certificate: beside the key, its subject as asked, its public key the key's, and its signature valid.
        let crt = directory.path("seal.crt")
        #expect(described.certificate == crt)
        let subject = try openssl(["x509", "-in", crt, "-noout", "-subject", "-nameopt", "RFC2253"])
        #expect(text(subject.output).contains("CN=Counter 3") && text(subject.output).contains("O=Town service centre"), "\(text(subject.output))")
        let certificateKey = try openssl(["x509", "-in", crt, "-noout", "-pubkey"])
        #expect(text(certificateKey.output) == described.publicKey)
        if algorithm == "sm2" {
            // OpenSSL 3's `verify -check_ss_sig` cannot check a self-signed SM2 certificate (it passes no signer id;
            // openssl/openssl#32744): Python's cryptography splits the certificate, and OpenSSL verifies its SM2-with-SM3
            // signature over the TBSCertificate with the default signer id.
            let split = try runCommand([
                repositoryRoot().appendingPathComponent(".build-venv/bin/python").path, "-c",
                """
                import sys
                from cryptography import x509
                certificate = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
                open(sys.argv[2], "wb").write(certificate.tbs_certificate_bytes)
                open(sys.argv[3], "wb").write(certificate.signature)
                print(certificate.signature_algorithm_oid.dotted_string)
                """,
                crt, directory.path("tbs.der"), directory.path("crt.sig"),
            ])
            #expect(split.output.hasPrefix("1.2.156.10197.1.501"), "signed SM2-with-SM3: \(split.output)")
            try Data(described.publicKey.utf8).write(to: URL(fileURLWithPath: directory.path("pub.pem")))
            let verified = try openssl([
                "pkeyutl", "-verify", "-pubin", "-inkey", directory.path("pub.pem"), "-rawin", "-digest", "sm3", "-pkeyopt",
                "distid:1234567812345678", "-in", directory.path("tbs.der"), "-sigfile", directory.path("crt.sig"),
            ])
            #expect(verified.status == 0 && text(verified.output).contains("Signature Verified Successfully"), "\(text(verified.output))")
        } else {
            let verified = try openssl(["verify", "-CAfile", crt, "-check_ss_sig", crt])
            #expect(verified.status == 0 && text(verified.output).contains("OK"), "\(text(verified.output))")
        }

        // `keys show` reads the same key back.
        let shown = try runCommand([counterkit, "keys", "show", "--key", path, "--json"])
        #expect(shown.status == 0)
        let again = try JSONDecoder().decode(Described.self, from: Data(shown.output.utf8))
        #expect(again.keyId == described.keyId && again.publicKey == described.publicKey && again.certificate == crt)
    }

    @Test(arguments: SealAlgorithm.allCases)
    func signaturesVerifyWithOpenSSLAndATamperedByteDoesNot(_ algorithm: SealAlgorithm) throws {
        let directory = try TemporaryDirectory("ck-sign")
        let key = try CounterKey.generate(algorithm)
        try key.write(to: directory.path("seal.key"))
        try Data(key.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: directory.path("pub.pem")))
        let data = Array("{\"id\":\"3f2a\",\"sha256\":\"…\"}\n".utf8) + (0..<4096).map { UInt8($0 % 251) }
        try Data(data).write(to: URL(fileURLWithPath: directory.path("data")))
        let loaded = try CounterKey.load(from: directory.path("seal.key"))
        #expect(loaded.keyID == key.keyID)
        let signature = try loaded.signature(for: data)
        if algorithm == .ed25519 { #expect(signature.count == 64, "Ed25519's raw 64 bytes") }
        try Data(signature).write(to: URL(fileURLWithPath: directory.path("sig")))
        var tampered = data
        tampered[10] ^= 1
        try Data(tampered).write(to: URL(fileURLWithPath: directory.path("tampered")))
        for (file, valid) in [("data", true), ("tampered", false)] {
            let result =
                switch algorithm {
                case .ed25519:
                    try openssl([
                        "pkeyutl", "-verify", "-pubin", "-inkey", directory.path("pub.pem"), "-rawin", "-in", directory.path(file), "-sigfile",
                        directory.path("sig"),
                    ])
                case .p256:
                    try openssl(["dgst", "-sha256", "-verify", directory.path("pub.pem"), "-signature", directory.path("sig"), directory.path(file)])
                case .sm2:
                    try openssl([
                        "pkeyutl", "-verify", "-pubin", "-inkey", directory.path("pub.pem"), "-rawin", "-digest", "sm3", "-pkeyopt",
                        "distid:1234567812345678", "-in", directory.path(file), "-sigfile", directory.path("sig"),
                    ])
                }
            #expect((result.status == 0) == valid, "\(algorithm) \(file): \(text(result.output))")
            #expect(
                text(result.output).contains(valid ? "Verified OK" : "Fail")
                    || text(result.output).contains(valid ? "Signature Verified Successfully" : "failure"))
        }
    }

    @Test func badInputIsRefusedWithTheFixAndNothingHalfWritten() throws {
        let directory = try TemporaryDirectory("ck-keys-bad")
        let path = directory.path("seal.key")
        #expect(try runCommand([counterkit, "keys", "init", "--out", path]).status == 0)
        let first = try String(contentsOfFile: path, encoding: .utf8)

        // An existing key is kept unless --force.
        let again = try runCommand(["/bin/sh", "-c", "\"$0\" keys init --out \"$1\" 2>&1", counterkit, path])
        #expect(again.status != 0 && again.output.hasPrefix("error: invalid_value: ") && again.output.contains("--force"), "\(again.output)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == first)
        let forced = try runCommand([counterkit, "keys", "init", "--out", path, "--force", "--json"])
        let replaced = try String(contentsOfFile: path, encoding: .utf8)
        #expect(forced.status == 0 && replaced != first && replaced.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600)

        // A key others can read is refused, naming the file and the fix.
        chmod(path, 0o640)
        let exposed = try runCommand(["/bin/sh", "-c", "\"$0\" keys show --key \"$1\" 2>&1", counterkit, path])
        #expect(exposed.status != 0 && exposed.output.hasPrefix("error: access_denied: ") && exposed.output.contains("chmod 600 \(path)"), "\(exposed.output)")
        // Not a key; missing; an unknown algorithm; a subject without CN (nothing written).
        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: directory.path("junk.key")))
        chmod(directory.path("junk.key"), 0o600)
        for (arguments, prefix) in [
            (["keys", "show", "--key", directory.path("junk.key")], "error: invalid_value: "),
            (["keys", "show", "--key", directory.path("missing.key")], "error: not_found: "),
            (["keys", "init", "--algorithm", "rsa", "--out", directory.path("rsa.key")], "error: invalid_value: "),
            (["keys", "init", "--out", directory.path("nocn.key"), "--cert", "O=Town"], "error: invalid_value: "),
        ] {
            let result = try runCommand(["/bin/sh", "-c", "\"$0\" \"$@\" 2>&1", counterkit] + arguments)
            #expect(result.status != 0 && result.output.hasPrefix(prefix), "\(arguments): \(result.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path("nocn.key")), "a refused subject leaves no key behind")
        #expect(!FileManager.default.fileExists(atPath: directory.path("rsa.key")))
    }
}
