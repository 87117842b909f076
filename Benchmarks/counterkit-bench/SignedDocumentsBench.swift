import Attachments
import CounterKitTestSupport
import DocumentImaging
import Foundation
import Sealing
import SignaturePads
import SignedDocuments

/// Signing a 20-page form: what finishing a signature session with a document adds (sign, evidence envelope, store)
/// over the plain finish (the four signature files), and our signing time against pyHanko's signer on the same PDF and
/// key, in the same run (pyHanko, the library `pyhanko sign addsig` drives, in-process and warm: no start-up counted).
func signedDocumentBenchmarks(work: URL) {
    print("== Signed documents: a 20-page form sealed with the ink, against the plain finish and pyHanko")
    let directory = work.appendingPathComponent("signed-documents")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let form = directory.appendingPathComponent("form.pdf").path
    var random = SeededRandom(seed: 20)
    let pages = (0..<20).map { _ in
        var page = SyntheticScenes.page(.a4, width: 1240, random: &random, blank: false, photo: false, seal: false)
        page.dpi = 150
        return page
    }
    do { try DocumentImage.writePDF(pages, to: form, quality: 80, title: "Form") } catch { fatalError("cannot write the form: \(error)") }
    let pdf = [UInt8](FileManager.default.contents(atPath: form)!)
    let keyPath = directory.appendingPathComponent("seal.key").path, certificatePath = directory.appendingPathComponent("seal.crt").path
    let office = directory.appendingPathComponent("office").path
    let key: CounterKey, chain: [[UInt8]]
    do {
        key = try CounterKey.generate(.p256)
        try key.write(to: keyPath)
        let pem = try key.selfSignedCertificate(subject: "CN=Bench counter")
        try pem.write(toFile: certificatePath, atomically: true, encoding: .utf8)
        chain = try CounterCertificateChain.parse(pem, for: key.publicKey).certificates
    } catch { fatalError("cannot make the key: \(error)") }
    precondition(
        spawn([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", office + ".key", "-out", office + ".crt",
            "-subj", "/CN=office", "-days", "30",
        ]).status == 0, "openssl cannot make the back office's certificate")
    let recipient: EnvelopeRecipient
    do { recipient = try EnvelopeRecipient.load(from: office + ".crt") } catch { fatalError("\(error)") }
    let signer = DocumentSigner(key: key, certificates: chain, recipient: recipient)
    let ink = sampleSignature()
    let placement = SignaturePlacement(page: 20, rect: [120, 240, 60, 25], name: "Bench")
    let record = (try? ISO19794Signature.encode(ink)) ?? []
    let strokes = (try? SignatureJSON.encode(ink)).map { [UInt8]($0) } ?? []

    // The plain finish (the four files into a spool) against the same with the document signed and stored too.
    let spool: AttachmentStore
    do { spool = try AttachmentStore(directory: directory.appendingPathComponent("spool"), retention: .keepAll) } catch { fatalError("\(error)") }
    let plain = median(9) { _ = try? SignatureOutputs(store: spool, style: SignatureStyle()).save(ink) }
    let withDocument = median(9) {
        _ = try? SignatureOutputs(store: spool, style: SignatureStyle()).save(ink)
        guard let signed = try? signer.sign(pdf, placement: placement, ink: ink, evidence: SignatureEvidence(iso19794: record, strokes: strokes))
        else { fatalError("signing failed") }
        _ = try? spool.store(signed.bytes, metadata: AttachmentMetadata(kind: .signedDocument, format: .pdf, pages: 20))
    }
    print(
        "finish a session, 20-page form (\(pdf.count / 1024) KiB)  plain \(format(plain * 1000)) ms   with the document sealed \(format(withDocument * 1000)) ms   "
            + "adds \(format((withDocument - plain) * 1000)) ms [target <= 150 ms]")

    // Signing alone (no evidence), ours against pyHanko's on the same PDF and key.
    let bare = DocumentSigner(key: key, certificates: chain)
    let ours = median(9) { _ = try? bare.sign(pdf, placement: placement, ink: ink) }
    let script = directory.appendingPathComponent("pyhanko_bench.py").path
    try? """
    import io, statistics, sys, time
    from pyhanko.sign import signers, fields
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    signer = signers.SimpleSigner.load(sys.argv[2], sys.argv[3])
    data = open(sys.argv[1], "rb").read()
    def once():
        writer = IncrementalPdfFileWriter(io.BytesIO(data))
        meta = signers.PdfSignatureMetadata(field_name="Signature1", subfilter=fields.SigSeedSubFilter.PADES)
        out = io.BytesIO()
        signers.sign_pdf(writer, meta, signer=signer, new_field_spec=fields.SigFieldSpec("Signature1", on_page=19, box=(340, 100, 510, 170)), output=out)
    once()
    times = []
    for _ in range(9):
        start = time.perf_counter(); once(); times.append(time.perf_counter() - start)
    print(statistics.median(times))
    """.write(toFile: script, atomically: true, encoding: .utf8)
    let python = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build-venv/bin/python").path
    let output = directory.appendingPathComponent("pyhanko.txt").path
    let ran = spawn([python, script, form, keyPath, certificatePath], stdout: output)
    let peer = Double((try? String(contentsOfFile: output, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
    if ran.status == 0, peer > 0 {
        print(
            "sign the 20-page form  counterkit \(format(ours * 1000)) ms   pyHanko \(format(peer * 1000)) ms   ratio (ours/pyHanko) \(format(ours / peer)) [target < 1]"
        )
    } else {
        print("sign the 20-page form  counterkit \(format(ours * 1000)) ms   pyHanko not measured (scripts/install-deps puts it in .build-venv)")
    }
}
