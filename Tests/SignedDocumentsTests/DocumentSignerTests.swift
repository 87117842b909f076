import Attachments
import CounterKitTestSupport
import Crypto
import DocumentImaging
import Foundation
import Sealing
import SignaturePads
import SignedDocuments
import Testing

/// Signed documents, checked by tools we did not write: pyHanko validates every PAdES signature (intact, valid,
/// trusted with the test certificate as the root, covering the whole file; two signers both valid; any changed byte
/// fails), `qpdf --check` finds no error, poppler's rendering shows the ink in the rectangle and the rest of the page
/// unchanged, and OpenSSL opens the embedded evidence to the session's ISO 19794-7 record.
@Suite(.serialized, .ownThreads) struct DocumentSignerTests {
    /// A command's status and output (stderr too).
    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runCommand(["/bin/sh", "-c", "exec \"$@\" 2>&1", "sh"] + arguments)
    }

    /// pyHanko's lines for `pdf` with `roots` trusted.
    func pyHanko(_ pdf: String, roots: [String]) throws -> (ok: Bool, lines: [[String: Any]]) {
        let root = repositoryRoot()
        let result = try run(
            [root.appendingPathComponent(".build-venv/bin/python").path, root.appendingPathComponent("Tests/Verifiers/pdf_signatures.py").path, pdf]
                + roots)
        let lines = result.output.split(separator: "\n").filter { $0.hasPrefix("pyhanko: {") }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.dropFirst("pyhanko: ".count).utf8)) as? [String: Any]
        }
        #expect(!lines.isEmpty, "pyHanko ran: \(result.output.suffix(2000))")
        return (result.status == 0, lines)
    }

    /// A form to sign: `pages` A4 pages of text, written by our PDF writer; with `streams`, rewritten by qpdf with
    /// object streams and a cross-reference stream.
    func form(pages: Int, in directory: TemporaryDirectory, streams: Bool = false) throws -> [UInt8] {
        var random = SeededRandom(seed: 7)
        let images = (0..<pages).map { _ in
            var page = SyntheticScenes.page(.a4, width: 620, random: &random, blank: false, photo: false, seal: false)
            page.dpi = 75
            return page
        }
        try DocumentImage.writePDF(images, to: directory.path("form.pdf"), quality: 80, title: "Application form")
        guard streams else { return Array(try Data(contentsOf: URL(fileURLWithPath: directory.path("form.pdf")))) }
        let rewritten = try run(["qpdf", "--object-streams=generate", directory.path("form.pdf"), directory.path("form-xs.pdf")])
        #expect(rewritten.status == 0, "\(rewritten.output)")
        return Array(try Data(contentsOf: URL(fileURLWithPath: directory.path("form-xs.pdf"))))
    }

    /// A counter key of `algorithm` with a self-signed certificate, written as `NAME.crt`.
    func counterKey(_ algorithm: SealAlgorithm, _ name: String, in directory: TemporaryDirectory) throws -> (CounterKey, [[UInt8]]) {
        let key = try CounterKey.generate(algorithm)
        let pem = try key.selfSignedCertificate(subject: "CN=Counter \(name),O=Town service centre")
        try pem.write(toFile: directory.path("\(name).crt"), atomically: true, encoding: .utf8)
        return (key, try CounterCertificateChain.parse(pem, for: key.publicKey).certificates)
    }

    /// Renders page 1 of `pdf` at `dpi` as gray PGM pixels.
    func render(_ pdf: String, dpi: Int, in directory: TemporaryDirectory) throws -> DocumentImage {
        let base = directory.path("render-\(UUID().uuidString)")
        let result = try run(["pdftoppm", "-r", String(dpi), "-gray", "-f", "1", "-l", "1", "-singlefile", pdf, base])
        #expect(result.status == 0, "\(result.output)")
        return try DocumentImage.read(path: base + ".pgm")
    }

    @Test(arguments: [(SealAlgorithm.p256, false), (.ed25519, true)])
    func aSignedFormIsValidWholeAndCarriesTheInkAndTheEvidence(_ algorithm: SealAlgorithm, streams: Bool) throws {
        let directory = try TemporaryDirectory("ck-signed-doc")
        let original = try form(pages: 2, in: directory, streams: streams)
        let (key, chain) = try counterKey(algorithm, "clerk", in: directory)
        let office = try run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", directory.path("office.key"),
            "-out", directory.path("office.crt"), "-subj", "/CN=Back office", "-days", "30",
        ])
        #expect(office.status == 0, "\(office.output)")
        let signer = DocumentSigner(key: key, certificates: chain, recipient: try EnvelopeRecipient.load(from: directory.path("office.crt")))
        let ink = sampleSignature()
        let record = try ISO19794Signature.encode(ink)
        let strokes = Array(try SignatureJSON.encode(ink))
        let placement = SignaturePlacement(page: 1, rect: [120, 230, 60, 25], reason: "申请人签名", name: "张三", color: "#1a2b8c")
        #expect(try signer.check(placement, in: original) == 2)
        let signedPDF = try signer.sign(
            original, placement: placement, ink: ink, evidence: SignatureEvidence(iso19794: record, strokes: strokes))
        #expect(signedPDF.level == "PAdES-B-B" && signedPDF.timestampProblem == nil)
        let signed = signedPDF.bytes
        try Data(signed).write(to: URL(fileURLWithPath: directory.path("signed.pdf")))

        // An incremental update: the original bytes come first, untouched.
        #expect(signed.count > original.count && Array(signed.prefix(original.count)) == original)
        // qpdf finds nothing wrong.
        let check = try run(["qpdf", "--check", directory.path("signed.pdf")])
        #expect(check.status == 0 && check.output.contains("No syntax or stream encoding errors"), "\(check.output)")
        // pyHanko: intact, valid, trusted, the whole file covered, our signer.
        let verdict = try pyHanko(directory.path("signed.pdf"), roots: [directory.path("clerk.crt")])
        #expect(verdict.ok && verdict.lines.count == 1, "\(verdict.lines)")
        #expect(verdict.lines.first?["coverage"] as? String == "ENTIRE_FILE", "\(verdict.lines)")
        #expect((verdict.lines.first?["signer"] as? String)?.contains("Counter clerk") == true, "\(verdict.lines)")
        // OpenSSL agrees: the CMS verifies over the byte range with the counter's certificate. (OpenSSL 3.0 cannot verify
        // CMS Ed25519 signatures with signed attributes, "eddsa_digest_signverify_init: invalid digest"; pyHanko can.)
        if algorithm == .p256 {
            let openssl = try SignedPDFCheck.openSSLVerifies(signed, caFile: directory.path("clerk.crt"), in: directory)
            #expect(openssl.ok, "\(openssl.output)")
        }

        // Rendered: the ink is inside the rectangle, and outside it the page is as it was.
        let before = try render(directory.path(streams ? "form-xs.pdf" : "form.pdf"), dpi: 50, in: directory)
        let after = try render(directory.path("signed.pdf"), dpi: 50, in: directory)
        #expect(before.width == after.width && before.height == after.height)
        let perMillimetre = 50 / 25.4
        let box = (
            x0: Int((120 * perMillimetre).rounded(.down)) - 1, y0: Int((230 * perMillimetre).rounded(.down)) - 1,
            x1: Int((180 * perMillimetre).rounded(.up)) + 1, y1: Int((255 * perMillimetre).rounded(.up)) + 1
        )
        var changedOutside = 0, changedInside = 0
        for y in 0..<after.height {
            for x in 0..<after.width where before.pixels[y * before.width + x] != after.pixels[y * after.width + x] {
                if x >= box.x0 && x <= box.x1 && y >= box.y0 && y <= box.y1 { changedInside += 1 } else { changedOutside += 1 }
            }
        }
        #expect(changedOutside == 0, "the page outside the rectangle is pixel-equal to the original")
        #expect(changedInside > 40, "the ink shows in the rectangle (\(changedInside) pixels changed)")

        // The evidence: qpdf extracts it, OpenSSL opens it to the session's record, stroke JSON and the original's hash.
        let listed = try run(["qpdf", "--list-attachments", directory.path("signed.pdf")])
        #expect(listed.output.contains("signature-evidence.p7m"), "\(listed.output)")
        let extracted = try runCommandData(["qpdf", "--show-attachment=signature-evidence.p7m", directory.path("signed.pdf")])
        try Data(extracted.output).write(to: URL(fileURLWithPath: directory.path("evidence.p7m")))
        let opened = try run([
            "openssl", "cms", "-decrypt", "-inform", "DER", "-in", directory.path("evidence.p7m"), "-inkey", directory.path("office.key"),
            "-recip", directory.path("office.crt"), "-out", directory.path("evidence.mime"),
        ])
        #expect(opened.status == 0, "\(opened.output)")
        let parts = try run([
            "python3", "-c",
            """
            import email, hashlib, sys
            message = email.message_from_bytes(open(sys.argv[1], 'rb').read())
            for part in message.walk():
                if part.get_content_maintype() == 'multipart': continue
                payload = part.get_payload(decode=True)
                print(part.get_filename(), hashlib.sha256(payload).hexdigest(), payload.decode() if part.get_filename() == 'document.sha256' else '')
            """, directory.path("evidence.mime"),
        ])
        func hex(_ bytes: some DataProtocol) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }
        #expect(parts.output.contains("signature.iso19794-7 \(hex(record))"), "the ISO record, exactly: \(parts.output)")
        #expect(parts.output.contains("strokes.json \(hex(strokes))"), "\(parts.output)")
        #expect(parts.output.contains("document.sha256") && parts.output.contains(" \(hex(original))"), "the original's SHA-256: \(parts.output)")

        // Any byte changed, in the original part or in the update: pyHanko no longer finds it intact.
        for offset in [original.count / 2, signed.count - 200] {
            var tampered = signed
            tampered[offset] ^= 0x01
            try Data(tampered).write(to: URL(fileURLWithPath: directory.path("tampered.pdf")))
            let broken = try pyHanko(directory.path("tampered.pdf"), roots: [directory.path("clerk.crt")])
            #expect(!broken.ok, "a byte changed at \(offset) of \(signed.count) is caught: \(broken.lines)")
        }

        // A second signer (the clerk after the citizen): a second revision; both signatures stay valid.
        let (second, secondChain) = try counterKey(algorithm, "second", in: directory)
        let twice = try DocumentSigner(key: second, certificates: secondChain, recipient: try EnvelopeRecipient.load(from: directory.path("office.crt")))
            .sign(
                signed, placement: SignaturePlacement(page: 2, rect: [20, 250, 50, 20], name: "Clerk"), ink: ink,
                evidence: SignatureEvidence(iso19794: record, strokes: strokes)
            ).bytes
        try Data(twice).write(to: URL(fileURLWithPath: directory.path("twice.pdf")))
        #expect(Array(twice.prefix(signed.count)) == signed)
        let both = try pyHanko(directory.path("twice.pdf"), roots: [directory.path("clerk.crt"), directory.path("second.crt")])
        #expect(both.ok && both.lines.count == 2, "\(both.lines)")
        #expect(both.lines.map { $0["coverage"] as? String } == ["ENTIRE_REVISION", "ENTIRE_FILE"], "\(both.lines)")
        let checkTwice = try run(["qpdf", "--check", directory.path("twice.pdf")])
        #expect(checkTwice.status == 0, "\(checkTwice.output)")
        // Our own verifier agrees with pyHanko, through the CLI: both signatures, their coverage, the trust.
        let cli = try run([
            SANETestEnvironment.counterkitExecutable, "verify", "--document", directory.path("twice.pdf"), "--ca", directory.path("clerk.crt"), "--ca",
            directory.path("second.crt"),
        ])
        #expect(cli.status == 0, "\(cli.output)")
        let lines = cli.output.split(separator: "\n").filter { $0.hasPrefix("valid: ") }
        #expect(lines.count == 2 && lines[0].contains("covers revision 2 of 3") && lines[1].contains("covers the whole file"), "\(cli.output)")
        #expect(
            lines[0].contains("Counter clerk") && lines[1].contains("Counter second") && cli.output.contains("issued by a trusted certificate"), "\(cli.output)"
        )
        let untrusted = try run([
            SANETestEnvironment.counterkitExecutable, "verify", "--document", directory.path("twice.pdf"), "--ca", directory.path("office.crt"),
        ])
        #expect(untrusted.status == 1 && untrusted.output.contains("error: seal_invalid: a signer's certificate was not issued by"), "\(untrusted.output)")
        for offset in [original.count / 2, twice.count - 300] {
            var tampered = twice
            tampered[offset] ^= 0x01
            do {
                _ = try DocumentVerifier.verify(tampered)
                Issue.record("a byte changed at \(offset) was not caught")
            } catch {
                #expect(error.code == .sealInvalid || error.code == .invalidDocument, "\(error)")
            }
        }
        let attachments = try run(["qpdf", "--list-attachments", directory.path("twice.pdf")])
        #expect(attachments.output.contains("signature-evidence.p7m") && attachments.output.contains("signature-evidence-2.p7m"), "\(attachments.output)")
    }

    /// PAdES B-T: a real TSA (`openssl ts -reply` behind HTTP) timestamps the signature; pyHanko finds the timestamp
    /// valid with the TSA's root trusted. An unreachable TSA fails the signing, or with `timestampRequired` off signs
    /// B-B and says why.
    @Test func aTimestampMakesItBTAndAMissingTSAIsAnErrorOrANote() throws {
        let directory = try TemporaryDirectory("ck-signed-doc-tsa")
        let original = try form(pages: 1, in: directory)
        let (key, chain) = try counterKey(.p256, "clerk", in: directory)
        let tsa = try TestTimestampAuthority(in: directory)
        var signer = DocumentSigner(key: key, certificates: chain)
        signer.timestamps = try TimestampAuthority(url: tsa.url)
        let placement = SignaturePlacement(page: 1, rect: [20, 20, 60, 20], name: "张三")
        let stamped = try signer.sign(original, placement: placement, ink: sampleSignature())
        #expect(stamped.level == "PAdES-B-T" && stamped.timestampProblem == nil)
        try Data(stamped.bytes).write(to: URL(fileURLWithPath: directory.path("stamped.pdf")))
        let verdict = try pyHanko(directory.path("stamped.pdf"), roots: [directory.path("clerk.crt"), tsa.rootCertificate])
        #expect(verdict.ok && verdict.lines.first?["timestamp"] as? Bool == true, "\(verdict.lines)")
        let cli = try run([SANETestEnvironment.counterkitExecutable, "verify", "--document", directory.path("stamped.pdf")])
        #expect(cli.status == 0 && cli.output.contains("timestamped"), "\(cli.output)")

        // Nobody answers at the TSA's address.
        let closed = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in(
            sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(closed, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(closed, $0, &length) } }
        close(closed)
        signer.timestamps = try TimestampAuthority(url: "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))/tsa", timeout: .seconds(3))
        do {
            _ = try signer.sign(original, placement: placement, ink: sampleSignature())
            Issue.record("signing went on without the required timestamp")
        } catch {
            #expect(error.code == .timestampUnavailable && error.message.contains("cannot be reached"), "\(error)")
        }
        signer.timestampRequired = false
        let unstamped = try signer.sign(original, placement: placement, ink: sampleSignature())
        #expect(unstamped.level == "PAdES-B-B" && unstamped.timestampProblem?.contains("cannot be reached") == true, "\(unstamped.timestampProblem ?? "-")")
        try Data(unstamped.bytes).write(to: URL(fileURLWithPath: directory.path("unstamped.pdf")))
        let plain = try pyHanko(directory.path("unstamped.pdf"), roots: [directory.path("clerk.crt")])
        #expect(plain.ok, "\(plain.lines)")
        #expect(throws: DocumentError.self) { try TimestampAuthority(url: "https://tsa.example/") }
    }

    @Test func whatCannotBeSignedIsRefusedBeforeThePadPromptsWithItsCode() throws {
        let directory = try TemporaryDirectory("ck-signed-doc-bad")
        let original = try form(pages: 1, in: directory)
        let (key, chain) = try counterKey(.p256, "clerk", in: directory)
        func refusal(_ placement: SignaturePlacement, _ pdf: [UInt8], signer: DocumentSigner? = nil) -> DocumentError? {
            do {
                try (signer ?? DocumentSigner(key: key, certificates: chain)).check(placement, in: pdf)
                return nil
            } catch { return error }
        }
        let good = SignaturePlacement(page: 1, rect: [10, 10, 50, 20])
        #expect(refusal(good, original) == nil)
        let cases: [(SignaturePlacement, [UInt8], ErrorCode, String)] = [
            (SignaturePlacement(page: 2, rect: [10, 10, 50, 20]), original, .invalidValue, "page 2 is not in the document (it has 1 page)"),
            (SignaturePlacement(page: 0, rect: [10, 10, 50, 20]), original, .invalidValue, "page 0 is not in the document"),
            (SignaturePlacement(page: 1, rect: [180, 10, 50, 20]), original, .invalidValue, "is not on page 1, which is"),
            (SignaturePlacement(page: 1, rect: [10, 10, 0, 20]), original, .invalidValue, "positive width and height"),
            (SignaturePlacement(page: 1, rect: [10, 10, 20]), original, .invalidValue, "rect must be [x, y, width, height]"),
            (SignaturePlacement(page: 1, rect: [10, 10, 50, 20], color: "blue"), original, .invalidValue, "color must be #rrggbb"),
            (good, Array("not a pdf at all".utf8), .invalidDocument, "is not a PDF"),
            (good, Array(original.prefix(original.count / 2)), .invalidDocument, "qpdf can read"),
        ]
        for (placement, pdf, code, says) in cases {
            let error = refusal(placement, pdf)
            #expect(error?.code == code && error?.message.contains(says) == true, "\(placement) → \(String(describing: error))")
        }
        // Encrypted: qpdf encrypts a copy.
        try Data(original).write(to: URL(fileURLWithPath: directory.path("open.pdf")))
        let encrypted = try run(["qpdf", "--encrypt", "user", "owner", "256", "--", directory.path("open.pdf"), directory.path("locked.pdf")])
        #expect(encrypted.status == 0, "\(encrypted.output)")
        let locked = Array(try Data(contentsOf: URL(fileURLWithPath: directory.path("locked.pdf"))))
        #expect(refusal(good, locked)?.message.contains("encrypted") == true)
        // A key PAdES cannot use, and a key without a certificate.
        let sm2 = try CounterKey.generate(.sm2)
        #expect(refusal(good, original, signer: DocumentSigner(key: sm2, certificates: chain))?.message.contains("no SM2") == true)
        #expect(refusal(good, original, signer: DocumentSigner(key: key, certificates: []))?.message.contains("has no certificate") == true)
    }
}
