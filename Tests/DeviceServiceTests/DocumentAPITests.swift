import Attachments
import ChildProcesses
import CounterKitTestSupport
import Crypto
import DocumentImaging
import Foundation
import Scanning
import Sealing
import Testing

@testable import DeviceService

/// `"document"` on scans, and `POST /v1/documents/idcard`, against real scans: the fixture SANE backend
/// (`fixtures/sane-duplex`) serves page images made here (pages turned by known angles on a scanner bed, a blank page,
/// ID card photos) through libsane's dll backend and the scan worker. Every stored file is read back.
@Suite struct DocumentAPITests {
    /// A page of text (and a seal when asked) turned by `degrees` on a gray bed, as a 300 dpi scan of it would look.
    static func turnedPage(seed: UInt64, degrees: Double, seal: Bool, blank: Bool = false) throws -> (DocumentImage, Double, Double) {
        var random = SeededRandom(seed: seed)
        let page = SyntheticScenes.page(.a4, width: 1000, random: &random, blank: blank, photo: false, seal: seal)
        var bed = try DocumentImage(width: 1240, height: 1650, channels: 3, fill: 190)
        let (w, h) = (Double(page.width), Double(page.height))
        let angle = degrees * Double.pi / 180, centre = (x: 620.0, y: 825.0)
        let corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)].map { p in
            ImagePoint(x: centre.x + p.0 * cos(angle) + p.1 * sin(angle), y: centre.y - p.0 * sin(angle) + p.1 * cos(angle))
        }
        bed = try PagePlacement.place(page, at: corners, on: bed)
        return (bed, w, h)
    }

    /// The fixture backend serving the images in `pages`, and a service scanning through it.
    static func service(
        serving pages: [DocumentImage], in directory: TemporaryDirectory, signer: (any CounterSigning)? = nil,
        envelopes: (any EnvelopeSealing)? = nil, retention: RetentionPolicy? = nil
    ) async throws -> (RunningService, DuplexFixtureBackend) {
        let fixture = try DuplexFixtureBackend()
        try FileManager.default.createDirectory(atPath: directory.path("pages"), withIntermediateDirectories: true)
        for (index, page) in pages.enumerated() { try page.write(to: directory.path("pages/\(index + 1).ppm"), format: .pnm) }
        var launcher = ScanWorkerLauncher.locate()
        launcher.environment = fixture.environment.merging(["CKDUPLEX_PAGES": directory.path("pages")]) { $1 }
        return (try await RunningService.start(in: directory, scanWorker: launcher, signer: signer, envelopes: envelopes, retention: retention), fixture)
    }

    @Test(
        "a feeder scan with document stages: turned pages come out straight and cropped, the blank page dropped, colour chosen per page, the PDF under its limit"
    )
    func feederScanThroughTheStages() async throws {
        let directory = try TemporaryDirectory("ck-docapi")
        let (first, w, h) = try Self.turnedPage(seed: 1, degrees: 3.0, seal: false)
        let (blank, _, _) = try Self.turnedPage(seed: 2, degrees: 1.0, seal: false, blank: true)
        let (third, _, _) = try Self.turnedPage(seed: 3, degrees: -2.0, seal: true)
        let (service, fixture) = try await Self.service(serving: [first, blank, third], in: directory)
        _ = fixture
        let body =
            #"{"device":"ckduplex:pad","source":"adf","resolution":300,"format":"pdf","document":{"crop":"auto","color":"auto","blank":"drop","maxBytes":400000}}"#
        let job = try service.job(try await service.post("/v1/scans?wait=true", body))
        #expect(job.state == .completed, "\(String(describing: job.error))")
        #expect(job.pages == 3)
        let pdf = try #require(job.attachments.first)
        #expect(job.attachments.count == 1 && pdf.format == .pdf && pdf.pages == 2)
        let settings = pdf.settings
        #expect(settings["document.dropped"] == "2", "\(settings)")
        #expect(abs((Double(settings["document.page1.deskew"] ?? "") ?? 99) - 3.0) < 0.2, "\(settings)")
        #expect(abs((Double(settings["document.page3.deskew"] ?? "") ?? 99) + 2.0) < 0.2, "\(settings)")
        #expect(settings["document.page1.crop"] == "found" && settings["document.page3.crop"] == "found")
        #expect(settings["document.page1.color"] == "bw (auto)" && settings["document.page3.color"] == "color (auto)", "\(settings)")
        #expect(settings["document.page1.blank"] == "false" && settings["document.page3.blank"] == "false")
        #expect(settings["document.maxBytes"] == "400000")

        // Read back: the bytes the manifest names, under the limit, two pages of the cropped size.
        let file = try await service.get("/v1/attachments/\(pdf.id)").body
        #expect(file.count == pdf.byteCount && file.count <= 400_000 && file.starts(with: Array("%PDF-".utf8)))
        let path = directory.path("scan.pdf")
        try Data(file).write(to: URL(fileURLWithPath: path))
        let info = try await runCommandAsync(["pdfinfo", path])
        #expect(info.output.contains("Pages:           2"), "\(info.output)")
        let images = try await runCommandAsync(["pdfimages", "-list", path])
        let rows = images.output.split(separator: "\n").dropFirst(2).map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(rows.count == 2)
        for row in rows {
            let width = Double(row[3])!, height = Double(row[4])!
            #expect(abs(width - w) < w * 0.04 && abs(height - h) < h * 0.04, "\(row) for a page of \(Int(w))x\(Int(h))")
        }
        #expect(rows[0][5] == "gray" && rows[0][7] == "1", "the text page is black and white: \(rows[0])")
        #expect(rows[1][5] == "rgb", "the page with a seal is in colour: \(rows[1])")
        // The pages captured for the stages are gone; only the PDF is stored.
        #expect(try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.map(\.id) == [pdf.id])
        try await service.stop()
    }

    @Test("per-page JPEGs under a limit, gray; bad document options refused before scanning; an unreachable limit fails the job and keeps nothing")
    func jpegPagesAndRefusals() async throws {
        let directory = try TemporaryDirectory("ck-docapi")
        let (first, _, _) = try Self.turnedPage(seed: 4, degrees: -1.5, seal: true)
        let (service, fixture) = try await Self.service(serving: [first], in: directory)
        _ = fixture
        let body = #"{"device":"ckduplex:pad","resolution":300,"format":"jpeg","quality":90,"document":{"color":"gray","maxBytes":60000}}"#
        let job = try service.job(try await service.post("/v1/scans?wait=true", body))
        #expect(job.state == .completed, "\(String(describing: job.error))")
        let page = try #require(job.attachments.first)
        #expect(job.attachments.count == 1 && page.format == .jpeg && page.byteCount <= 60_000)
        #expect(page.settings["document.color"] == "gray" && page.settings["document.crop"] == "found")
        let quality = try #require(Int(page.settings["quality"] ?? ""))
        #expect(quality <= 90 && page.settings["document.quality"] == String(quality))
        let bytes = try await service.get("/v1/attachments/\(page.id)").body
        let decoded = try DocumentImage.decodeJPEG([UInt8](bytes))
        #expect(decoded.channels == 1 && decoded.width == page.pixelWidth && decoded.height == page.pixelHeight)

        // The library client sends the same options.
        var request = ScanRequest(device: "ckduplex:pad", format: .png)
        request.resolution = 300
        let submitted = try await service.client.submitScan(request, document: DocumentOptions(color: .bw))
        let followed = try await service.client.follow(submitted)
        let bw = try #require(followed.attachments.first)
        #expect(followed.state == .completed && bw.format == .png && bw.settings["document.color"] == "bw")
        let pngPath = directory.path("bw.png")
        try Data(try await service.get("/v1/attachments/\(bw.id)").body).write(to: URL(fileURLWithPath: pngPath))
        #expect(Set(try DocumentImage.read(path: pngPath).pixels).isSubset(of: [0, 255]), "a 1-bit PNG")

        for (document, code) in [
            (#"{"colour":"gray"}"#, "unknown_field"), (#"{"color":"purple"}"#, "invalid_value"),
            (#"{"maxBytes":10}"#, "invalid_value"), (#"{"maxBytes":12.5}"#, "invalid_type"),
            (#"{"clean":"yes"}"#, "invalid_type"),
        ] {
            let refused = try await service.post("/v1/scans", #"{"device":"ckduplex:pad","document":\#(document)}"#)
            #expect(refused.status == 400 && refused.error?.code == code, "\(document): \(refused.status) \(String(describing: refused.error))")
        }
        let pnm = try await service.post("/v1/scans", #"{"device":"ckduplex:pad","format":"pnm","document":{}}"#)
        #expect(pnm.status == 400 && pnm.error?.code == "invalid_value")

        let before = try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.count
        let impossible = try service.job(
            try await service.post(
                "/v1/scans?wait=true",
                #"{"device":"ckduplex:pad","resolution":300,"format":"jpeg","document":{"maxBytes":1024}}"#))
        #expect(impossible.state == .failed && impossible.error?.code == .sizeTargetUnreachable, "\(String(describing: impossible.error))")
        #expect(impossible.attachments.isEmpty)
        #expect(try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.count == before)
        try await service.stop()
    }

    @Test("POST /v1/documents/idcard lays both scanned sides on one A4 page at true size; bad ids and sides are refused")
    func idCardCopy() async throws {
        let directory = try TemporaryDirectory("ck-docapi")
        // Seeds whose scenes are ID-1 cards (every fourth).
        let front = try SyntheticScenes.scene(seed: 3), back = try SyntheticScenes.scene(seed: 7)
        #expect(front.shape == .id1 && back.shape == .id1)
        var random = SeededRandom(seed: 1)
        let desk = SyntheticScenes.background(1, width: 640, height: 480, random: &random).0
        // Sealed: the scanned sides and the sheets composed from them are all signed (checked at the end).
        let key = try CounterKey.generate(.ed25519)
        let (service, fixture) = try await Self.service(
            serving: [front.image, back.image, desk], in: directory, signer: CounterSealer(key: key))
        _ = fixture
        let scan = try service.job(try await service.post("/v1/scans?wait=true", #"{"device":"ckduplex:pad","source":"adf","format":"png"}"#))
        #expect(scan.state == .completed && scan.attachments.count == 3, "\(String(describing: scan.error))")
        let ids = scan.attachments.map(\.id)

        let made = try await service.post("/v1/documents/idcard", #"{"front":"\#(ids[0])","back":"\#(ids[1])"}"#)
        #expect(made.status == 201, "\(String(decoding: made.body, as: UTF8.self))")
        let sheet = try made.decode(AttachmentManifest.self)
        #expect(made.headers.first(name: "Location") == "/v1/attachments/\(sheet.id)")
        #expect(sheet.kind == .document && sheet.format == .pdf && sheet.pages == 1 && sheet.pixelWidth == 2480 && sheet.pixelHeight == 3508)
        #expect(sheet.settings["document.idcard.front"] == ids[0] && sheet.settings["document.idcard.back"] == ids[1])
        let pdf = try await service.get("/v1/attachments/\(sheet.id)").body
        #expect(pdf.count == sheet.byteCount)
        try Data(pdf).write(to: URL(fileURLWithPath: directory.path("card.pdf")))
        let info = try await runCommandAsync(["pdfinfo", directory.path("card.pdf")])
        #expect(info.output.contains("(A4)"), "A4: \(info.output)")

        // A JPEG under a limit: both cards where they belong, at true size.
        let limited = try await service.post(
            "/v1/documents/idcard",
            #"{"front":"\#(ids[0])","back":"\#(ids[1])","format":"jpeg","dpi":200,"maxBytes":150000}"#)
        #expect(limited.status == 201, "\(String(decoding: limited.body, as: UTF8.self))")
        let jpeg = try limited.decode(AttachmentManifest.self)
        #expect(jpeg.format == .jpeg && jpeg.byteCount <= 150_000)
        let image = try DocumentImage.decodeJPEG([UInt8](try await service.get("/v1/attachments/\(jpeg.id)").body))
        #expect(image.width == jpeg.pixelWidth && abs(Double(image.height) / Double(image.width) - 297.0 / 210) < 0.01)
        // The front's place (IDCardSheet.frontOrigin) is not paper-white; the sheet's margin is.
        let scale = Double(image.width) / 210
        func pixel(_ millimetresX: Double, _ millimetresY: Double) -> Int {
            let index = (Int(millimetresY * scale) * image.width + Int(millimetresX * scale)) * image.channels
            return Int(image.pixels[index])
        }
        #expect(pixel(10, 10) > 240)
        let cardPixels = stride(from: 0.0, to: 80, by: 5).map { pixel(IDCardSheet.frontOrigin.x + 3 + $0, IDCardSheet.frontOrigin.y + 27) }
        #expect(cardPixels.contains { $0 < 200 }, "the card's print: \(cardPixels)")

        let unknown = try await service.post("/v1/documents/idcard", #"{"front":"\#(ids[0])","back":"00000000-0000-0000-0000-000000000000"}"#)
        #expect(unknown.status == 404, "\(String(decoding: unknown.body, as: UTF8.self))")
        let notAnImage = try await service.post("/v1/documents/idcard", #"{"front":"\#(sheet.id)","back":"\#(ids[1])"}"#)
        #expect(notAnImage.status == 400 && notAnImage.error?.code == "unsupported_format")
        let noCard = try await service.post("/v1/documents/idcard", #"{"front":"\#(ids[0])","back":"\#(ids[2])"}"#)
        #expect(noCard.status == 422 && noCard.error?.code == "no_document" && noCard.error?.message.contains("back") == true)
        let missing = try await service.post("/v1/documents/idcard", #"{"front":"\#(ids[0])"}"#)
        #expect(missing.status == 400)

        // Every attachment, scanned or composed, is signed over its served manifest; OpenSSL checks the PDF sheet's.
        let listed = try await service.get("/v1/attachments").decode(AttachmentList.self).attachments
        #expect(Set(listed.map(\.id)) == Set(ids + [sheet.id, jpeg.id]))
        for attachment in listed {
            let manifestBytes = try await service.get("/v1/attachments/\(attachment.id)/manifest").body
            let signature = try await service.get("/v1/attachments/\(attachment.id)/signature").body
            #expect(throws: Never.self) { try SealCheck.verify(manifest: manifestBytes, signature: signature, key: key.publicKey) }
            #expect(attachment.integrity == .intact && attachment.keyId == key.keyID)
        }
        try Data(key.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: directory.path("pub.pem")))
        try Data(try await service.get("/v1/attachments/\(sheet.id)/manifest").body).write(to: URL(fileURLWithPath: directory.path("sheet.json")))
        let sheetSignature = try await service.get("/v1/attachments/\(sheet.id)/signature").body
        let record = try #require(SignatureRecord.decode(sheetSignature))
        try Data(try #require(record.signatureBytes)).write(to: URL(fileURLWithPath: directory.path("sheet.sig")))
        let openssl = try await runCommandAsync([
            "/bin/sh", "-c", "exec openssl pkeyutl -verify -pubin -inkey \"$1\" -rawin -in \"$2\" -sigfile \"$3\" 2>&1", "sh",
            directory.path("pub.pem"), directory.path("sheet.json"), directory.path("sheet.sig"),
        ])
        #expect(openssl.status == 0 && openssl.output.contains("Signature Verified Successfully"), "\(openssl.output)")
        try await service.stop()
    }

    @Test("plaintext-retention 0: the document stages and the ID card copy work from memory; only manifests, signatures and envelopes reach the spool")
    func noPlaintextSpool() async throws {
        let directory = try TemporaryDirectory("ck-docapi-noplain")
        let front = try SyntheticScenes.scene(seed: 3), back = try SyntheticScenes.scene(seed: 7)
        let (page, _, _) = try Self.turnedPage(seed: 5, degrees: 2.0, seal: false)
        let made = try await runCommandAsync([
            "/bin/sh", "-c",
            "exec openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \"$1\" -out \"$2\" -subj /CN=office -days 30 2>&1",
            "sh", directory.path("office.key"), directory.path("office.crt"),
        ])
        #expect(made.status == 0, "\(made.output)")
        let key = try CounterKey.generate(.ed25519)
        let spool = directory.url.appendingPathComponent("spool")
        try FileManager.default.createDirectory(at: spool.appendingPathComponent("tmp"), withIntermediateDirectories: true)
        let watch = try FileCreationWatch([spool.path, spool.appendingPathComponent("tmp").path])
        let (service, fixture) = try await Self.service(
            serving: [front.image, back.image, page], in: directory, signer: CounterSealer(key: key),
            envelopes: try EnvelopeRecipient.load(from: directory.path("office.crt")), retention: RetentionPolicy(plaintextMaxAge: 0))
        _ = fixture
        // Three plain pages, then the third again through the stages (found, flattened, a PDF under a size limit).
        let scan = try service.job(try await service.post("/v1/scans?wait=true", #"{"device":"ckduplex:pad","source":"adf","format":"png"}"#))
        #expect(scan.state == .completed && scan.attachments.count == 3, "\(String(describing: scan.error))")
        let ids = scan.attachments.map(\.id)
        let sheet = try await service.post("/v1/documents/idcard", #"{"front":"\#(ids[0])","back":"\#(ids[1])","format":"jpeg","dpi":150}"#)
        #expect(sheet.status == 201, "the ID card is composed from the sides held in memory: \(String(decoding: sheet.body, as: UTF8.self))")
        let card = try sheet.decode(AttachmentManifest.self)
        let staged = try service.job(
            try await service.post(
                "/v1/scans?wait=true", #"{"device":"ckduplex:pad","source":"adf","format":"pdf","document":{"crop":"auto","maxBytes":300000}}"#))
        #expect(staged.state == .completed, "\(String(describing: staged.error))")
        let created = watch.stop()
        let all = try await service.get("/v1/attachments").decode(AttachmentList.self).attachments
        #expect(all.count == 3 + 1 + staged.attachments.count && all.allSatisfy { $0.sealedOnly == true && $0.integrity == .intact }, "\(all)")
        let gone = try await service.get("/v1/attachments/\(card.id)")
        #expect(gone.status == 410 && gone.error?.code == "sealed_only")
        // What reached the disk: manifests, signatures and envelopes (and the audit log, journal); no data file, no
        // temp file of one, not even for a moment.
        // (The job journal and the audit log, in their own directories, hold states and hashes, never a capture's bytes.)
        let names = created.filter { !$0.contains("/journal") && !$0.contains("/audit") }.map { URL(fileURLWithPath: $0).lastPathComponent }
        let allowed = [".manifest.json", ".signature.json", ".p7m", ".p7m.part", ".manifest.part", ".signature.part", "journal", "audit"]
        let unexpected = names.filter { name in !allowed.contains { name.hasSuffix($0) } }
        #expect(unexpected.isEmpty, "only sealed files were created: \(unexpected)")
        #expect(names.contains { $0.hasSuffix(".p7m.part") }, "the watch saw the spool's writes: \(names.prefix(10))")
        // OpenSSL opens each envelope to the manifest's SHA-256; the composed card and the staged PDF are what they claim.
        for attachment in all {
            let envelope = try await service.get("/v1/attachments/\(attachment.id)/sealed").body
            try Data(envelope).write(to: URL(fileURLWithPath: directory.path("sealed.p7m")))
            let opened = try await runCommandAsync([
                "/bin/sh", "-c", "exec openssl cms -decrypt -inform DER -in \"$1\" -inkey \"$2\" -recip \"$3\" -out \"$4\" 2>&1", "sh",
                directory.path("sealed.p7m"), directory.path("office.key"), directory.path("office.crt"), directory.path("opened"),
            ])
            let plain = try #require(FileManager.default.contents(atPath: directory.path("opened")), "\(opened.output)")
            #expect(plain.count == attachment.byteCount && SHA256.hash(data: plain).map { String(format: "%02x", $0) }.joined() == attachment.sha256)
            if attachment.id == card.id {
                let image = try DocumentImage.decodeJPEG([UInt8](plain))
                #expect(image.width == card.pixelWidth && abs(Double(image.height) / Double(image.width) - 297.0 / 210) < 0.01)
            }
            if attachment.format == .pdf {
                let info = try await runCommandAsync(["pdfinfo", directory.path("opened")])
                #expect(info.status == 0 && info.output.contains("Pages:"), "\(info.output)")
            }
        }
        try await service.stop()
    }
}
