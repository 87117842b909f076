import Attachments
import CounterKitTestSupport
import DocumentImaging
import Foundation
import Sealing
import SignaturePads
import SignedDocuments
import Testing

@testable import DeviceService

/// Documents to sign over the API: `POST /v1/attachments` stores a sound PDF (kind `upload`) and refuses a malformed,
/// encrypted or oversize one with nothing stored; `POST /v1/signatures` with `document` checks everything before a pad
/// is opened (the pad's own signing flow runs in the test VM, `SignatureServiceInGuestTests`).
@Suite struct SignedDocumentAPITests {
    /// A two-page form written by our PDF writer.
    static func form(in directory: TemporaryDirectory) throws -> [UInt8] {
        var random = SeededRandom(seed: 11)
        let pages = (0..<2).map { _ in
            var page = SyntheticScenes.page(.a4, width: 420, random: &random, blank: false, photo: false, seal: false)
            page.dpi = 50
            return page
        }
        try DocumentImage.writePDF(pages, to: directory.path("form.pdf"), quality: 70, title: "Form")
        return Array(try Data(contentsOf: URL(fileURLWithPath: directory.path("form.pdf"))))
    }

    /// curl's upload of `file` as `type`: status and body.
    func upload(_ file: String, type: String, to service: RunningService) async throws -> (status: Int, body: String) {
        let run = try await runCommandAsync([
            "curl", "-s", "--max-time", "60", "-w", "\n%{http_code}", "--unix-socket", service.socket, "-H", "Content-Type: \(type)",
            "--data-binary", "@\(file)", "http://localhost/v1/attachments",
        ])
        let parts = run.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(parts.last ?? "") ?? 0, parts.dropLast().joined(separator: "\n"))
    }

    @Test func uploadsAreCheckedAndSessionsWithADocumentAreCheckedBeforeThePadOpens() async throws {
        let directory = try TemporaryDirectory("ck-upload")
        let pdf = try Self.form(in: directory)
        let key = try CounterKey.generate(.p256)
        let pem = try key.selfSignedCertificate(subject: "CN=Counter 1")
        let chain = try CounterCertificateChain.parse(pem, for: key.publicKey).certificates
        let service = try await RunningService.start(
            in: directory, limits: ServiceLimits(maxUploadBytes: pdf.count + 16_384), signer: CounterSealer(key: key),
            documentSigner: DocumentSigner(key: key, certificates: chain))

        // A sound PDF is stored as it came, kind upload, its pages counted; the manifest is signed like every other.
        let stored = try await upload(directory.path("form.pdf"), type: "application/pdf", to: service)
        #expect(stored.status == 201, "\(stored.body)")
        let manifest = try AttachmentManifest.makeDecoder().decode(AttachmentManifest.self, from: Data(stored.body.utf8))
        #expect(manifest.kind == .upload && manifest.format == .pdf && manifest.pages == 2 && manifest.keyId == key.keyID)
        #expect(try await service.get("/v1/attachments/\(manifest.id)").body == pdf, "the stored document is the uploaded one, byte for byte")

        // Refused, and nothing stored: malformed, truncated, encrypted, too large, not a PDF's media type.
        try Data("%PDF-1.4\nnot really\n".utf8).write(to: URL(fileURLWithPath: directory.path("bad.pdf")))
        try Data(pdf.prefix(pdf.count / 2)).write(to: URL(fileURLWithPath: directory.path("cut.pdf")))
        let locked = try await runCommandAsync(["qpdf", "--encrypt", "u", "o", "256", "--", directory.path("form.pdf"), directory.path("locked.pdf")])
        #expect(locked.status == 0, "\(locked.output)")
        try Data(pdf + [UInt8](repeating: 0x20, count: 32_768)).write(to: URL(fileURLWithPath: directory.path("big.pdf")))
        for (file, type, status, code) in [
            ("bad.pdf", "application/pdf", 400, "invalid_document"), ("cut.pdf", "application/pdf", 400, "invalid_document"),
            ("locked.pdf", "application/pdf", 400, "invalid_document"), ("big.pdf", "application/pdf", 413, "body_too_large"),
            ("form.pdf", "image/png", 415, "unsupported_media_type"),
        ] {
            let refused = try await upload(directory.path(file), type: type, to: service)
            #expect(refused.status == status && refused.body.contains("\"code\":\"\(code)\""), "\(file): \(refused.status) \(refused.body)")
        }
        #expect(try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.map(\.id) == [manifest.id], "nothing else was stored")

        // A session with a document: each wrong part is refused before any pad is opened (there is no pad here).
        let scan = try await service.post("/v1/scans?wait=true", #"{"device":"test:0","resolution":50,"paper":"ID1","format":"png"}"#)
        let png = try #require(try scan.decode(JobSnapshot.self).attachments.first)
        func session(_ document: String) async throws -> (Int, String?, String) {
            let reply = try await service.post("/v1/signatures", #"{"timeout":5,"document":\#(document)}"#)
            return (reply.status, reply.error?.code, reply.error?.message ?? "")
        }
        let id = manifest.id
        let cases: [(String, Int, String, String)] = [
            (#"{"attachment":"\#(id)","page":3,"rect":[10,10,50,20]}"#, 400, "invalid_value", "page 3 is not in the document (it has 2 pages)"),
            (#"{"attachment":"\#(id)","page":1,"rect":[200,10,50,20]}"#, 400, "invalid_value", "is not on page 1"),
            (#"{"attachment":"\#(id)","page":1,"rect":[10,10,50]}"#, 400, "invalid_value", "rect must be"),
            (#"{"attachment":"\#(id)","page":1,"rect":[10,10,50,20],"color":"red"}"#, 400, "invalid_value", "color must be #rrggbb"),
            (#"{"attachment":"\#(id)","page":1,"rect":[10,10,50,20],"pen":1}"#, 400, "unknown_field", "pen"),
            (#"{"attachment":"\#(png.id)","page":1,"rect":[10,10,50,20]}"#, 400, "invalid_document", "a document to sign is a PDF"),
            (#"{"attachment":"00000000-0000-0000-0000-000000000000","page":1,"rect":[10,10,50,20]}"#, 404, "not_found", "no attachment"),
        ]
        for (document, status, code, says) in cases {
            let (got, gotCode, message) = try await session(document)
            #expect(got == status && gotCode == code && message.contains(says), "\(document): \(got) \(gotCode ?? "-") \(message)")
        }
        // A sound request gets as far as the pad, which is where this machine has none.
        let (padStatus, padCode, _) = try await session(#"{"attachment":"\#(id)","page":2,"rect":[10,10,50,20],"name":"张三"}"#)
        #expect(padStatus != 400 && padCode != "invalid_document" && padCode != "invalid_value", "\(padStatus) \(padCode ?? "-")")
        try await service.stop()

        // A service without a key and certificate signs no documents, and says why.
        let plain = try await RunningService.start()
        let upload = try await self.upload(directory.path("form.pdf"), type: "application/pdf", to: plain)
        let plainID = try AttachmentManifest.makeDecoder().decode(AttachmentManifest.self, from: Data(upload.body.utf8)).id
        let refused = try await plain.post("/v1/signatures", #"{"document":{"attachment":"\#(plainID)","page":1,"rect":[10,10,50,20]}}"#)
        #expect(refused.status == 400 && refused.error?.message.contains("signs no documents") == true, "\(String(describing: refused.error))")
        try await plain.stop()
    }
}
