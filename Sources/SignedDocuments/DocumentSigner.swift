import Attachments
import CQPDF
import Crypto
import Foundation
import Sealing
import SignaturePads

/// Signs PDFs as a citizen signs them at the counter: the ink drawn into a rectangle of a page (vector paths, scaled to
/// fit with its proportions kept), a PAdES baseline B-B signature by the counter key and its certificate covering the
/// whole file, written as an incremental update so that the original bytes (and any earlier signature) stay intact,
/// and, with a recipient, the pen data encrypted to the back office embedded in the signed revision.
///
/// ```swift
/// let signer = DocumentSigner(key: key, certificates: chain.certificates, recipient: backOffice)
/// let placement = SignaturePlacement(page: 1, rect: [120, 240, 60, 25], reason: "申请人签名", name: "张三")
/// try signer.check(placement, in: pdf)                      // before the pad prompts
/// let signed = try signer.sign(pdf, placement: placement, ink: signature, evidence: evidence)
/// ```
public struct DocumentSigner: DocumentSigning {
    /// The counter key (P-256 or Ed25519; PAdES has no SM2).
    public let key: CounterKey
    /// Its certificate chain, leaf first, DER.
    public let certificates: [[UInt8]]
    /// The back office's certificate the evidence is encrypted to; nil: no evidence is embedded.
    public let recipient: EnvelopeRecipient?
    /// How the ink is drawn (widths; the colour comes from the placement).
    public var style = SignatureStyle(padding: 1)
    /// The TSA that timestamps each signature (PAdES B-T); nil: B-B.
    public var timestamps: TimestampAuthority?
    /// With a TSA: whether a missing timestamp fails the signing (`timestamp_unavailable`), or the document is signed
    /// B-B and says so.
    public var timestampRequired = true

    /// Bytes reserved for the CMS signature in `/Contents` (hex doubles them in the file).
    static let reservedSignatureBytes = 16_384

    /// A signer with `key`, its certificate chain and optionally the evidence's recipient.
    public init(key: CounterKey, certificates: [[UInt8]], recipient: EnvelopeRecipient? = nil) {
        self.key = key
        self.certificates = certificates
        self.recipient = recipient
    }

    /// The page count of `pdf` when it is a sound, open PDF (qpdf reads it cleanly, it is not encrypted, it has pages);
    /// else `invalid_document` saying what is wrong. What an uploaded document to sign is checked with.
    public static func inspect(_ pdf: [UInt8], name: String = "the document") throws(DocumentError) -> Int {
        try PDFRevision(pdf, name: name).pageCount
    }

    /// The page count of `pdf` (``inspect(_:name:)``).
    public func pageCount(of pdf: [UInt8], name: String) throws(DocumentError) -> Int { try Self.inspect(pdf, name: name) }

    /// Checks what can be checked before the citizen signs: the PDF reads cleanly and is not encrypted, the page exists,
    /// the rectangle lies on it, the key can sign PDFs and has a certificate. Returns the page count.
    @discardableResult
    public func check(_ placement: SignaturePlacement, in pdf: [UInt8], name: String = "the document") throws(DocumentError) -> Int {
        _ = try CAdESSignedData.digestAlgorithm(for: key)
        guard !certificates.isEmpty else {
            throw DocumentError(
                .invalidValue, "the counter key has no certificate: make one with `counterkit keys init --cert` or configure [seal] certificate")
        }
        if let color = placement.color, Self.rgb(color) == nil {
            throw DocumentError(.invalidValue, "color must be #rrggbb, got '\(color)'")
        }
        let revision = try PDFRevision(pdf, name: name)
        _ = try Self.widgetRectangle(placement, in: revision)
        return revision.pageCount
    }

    /// The signed PDF: `pdf` with `ink` placed and signed (see the type's description). `time` is the signing time
    /// recorded in `/M`.
    public func sign(
        _ pdf: [UInt8], placement: SignaturePlacement, ink: Signature, evidence: SignatureEvidence? = nil, name: String = "the document",
        time: Date = Date()
    ) throws(DocumentError) -> SignedPDF {
        let (_, digest) = try CAdESSignedData.digestAlgorithm(for: key)
        guard !certificates.isEmpty else { throw DocumentError(.invalidValue, "the counter key has no certificate") }
        let revision = try PDFRevision(pdf, name: name)
        let rect = try Self.widgetRectangle(placement, in: revision)
        let page = revision.page(placement.page - 1)
        let color = Self.rgb(placement.color ?? "#000000") ?? (0, 0, 0)

        // The appearance: the ink, as vector paths in the rectangle.
        let drawing: InkDrawing
        do throws(SignaturePadError) { drawing = try SignatureRenderer(style: style).inkDrawing(ink) } catch {
            throw DocumentError(.invalidValue, "the signature cannot be drawn: \(error.message)")
        }
        let width = rect.x1 - rect.x0, height = rect.y1 - rect.y0
        let content = Array(Self.appearance(drawing, width: width, height: height, color: color).utf8)
        let appearanceID = revision.newObject(), signatureID = revision.newObject(), widgetID = revision.newObject()
        var added: [PDFRevision.WrittenObject] = [
            .init(
                id: appearanceID,
                bytes: Array(
                    "<< /Type /XObject /Subtype /Form /BBox [ 0 0 \(Self.number(width)) \(Self.number(height)) ] /Resources << >> /Length \(content.count) >>\nstream\n"
                        .utf8) + content + Array("\nendstream".utf8))
        ]

        // The signature dictionary, with room for the byte range and the CMS, filled in once the file is laid out.
        let byteRangePlaceholder = "/ByteRange [ 0 0000000000 0000000000 0000000000 ]"
        let contentsPlaceholder = "<" + String(repeating: "0", count: Self.reservedSignatureBytes * 2) + ">"
        var signatureDictionary =
            "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /M \(revision.unparse(revision.newText(Self.pdfDate(time))))"
        if let reason = placement.reason { signatureDictionary += " /Reason \(revision.unparse(revision.newText(reason)))" }
        if let signer = placement.name { signatureDictionary += " /Name \(revision.unparse(revision.newText(signer)))" }
        signatureDictionary += " \(byteRangePlaceholder) /Contents \(contentsPlaceholder) >>"
        added.append(.init(id: signatureID, bytes: Array(signatureDictionary.utf8)))

        // The field and its widget, on the page; the form that lists it, flagged as signed (SigFlags 3).
        let root = revision.root
        let form: qpdf_oh
        if let existing = revision.value(root, "/AcroForm") {
            form = existing
            revision.touch(revision.isIndirect(existing) ? existing : root)
        } else {
            let formID = revision.newObject()
            form = revision.newDictionary()
            revision.set(form, "/Fields", revision.newArray())
            added.append(.init(id: formID, bytes: []))  // replaced below, once its fields are known
            revision.set(root, "/AcroForm", revision.reference(formID))
            revision.touch(root)
        }
        let fields = revision.value(form, "/Fields") ?? revision.newArray()
        if !revision.isArray(fields) { throw DocumentError(.invalidDocument, "\(name)'s form has /Fields that is not an array") }
        let fieldName = Self.freeFieldName(among: revision.items(fields).compactMap { revision.value($0, "/T").flatMap(revision.text) })
        revision.append(fields, revision.reference(widgetID))
        if revision.isIndirect(fields) { revision.touch(fields) } else { revision.set(form, "/Fields", fields) }
        revision.set(form, "/SigFlags", revision.newInteger(3))
        if let index = added.firstIndex(where: { $0.bytes.isEmpty }) { added[index].bytes = Array(revision.unparse(form).utf8) }
        let widget =
            "<< /Type /Annot /Subtype /Widget /FT /Sig /T \(revision.unparse(revision.newText(fieldName))) /V \(signatureID) 0 R /P \(revision.referenceText(page)) "
            + "/Rect [ \(Self.number(rect.x0)) \(Self.number(rect.y0)) \(Self.number(rect.x1)) \(Self.number(rect.y1)) ] /F 132 /AP << /N \(appearanceID) 0 R >> >>"
        added.append(.init(id: widgetID, bytes: Array(widget.utf8)))
        if let annotations = revision.value(page, "/Annots"), revision.isArray(annotations) {
            revision.append(annotations, revision.reference(widgetID))
            revision.touch(revision.isIndirect(annotations) ? annotations : page)
        } else {
            revision.set(page, "/Annots", revision.newArray([revision.reference(widgetID)]))
            revision.touch(page)
        }

        // The evidence, encrypted to the back office, embedded in this revision.
        if let evidence, let recipient {
            let envelope = try Self.envelope(evidence, documentSHA256: SHA256.hash(data: pdf), to: recipient)
            let fileID = revision.newObject(), specID = revision.newObject()
            added.append(
                .init(
                    id: fileID,
                    bytes: Array(
                        "<< /Type /EmbeddedFile /Subtype /application#2Fpkcs7-mime /Params << /Size \(envelope.count) >> /Length \(envelope.count) >>\nstream\n"
                            .utf8)
                        + envelope + Array("\nendstream".utf8)))
            try Self.embed(fileID: fileID, specID: specID, in: revision, added: &added, documentName: name)
        }

        // Laid out, then the byte range and the signature filled in where the placeholders are.
        var (file, offsets) = try revision.update(adding: added)
        guard let signatureOffset = offsets[signatureID],
            let rangeAt = Self.find(Array(byteRangePlaceholder.utf8), in: file, from: signatureOffset),
            let contentsAt = Self.find(Array(contentsPlaceholder.utf8), in: file, from: signatureOffset)
        else { throw DocumentError(.internal, "the signature's placeholders were not found in the laid-out file") }
        let excludedEnd = contentsAt + contentsPlaceholder.utf8.count
        let range = "/ByteRange [ 0 \(contentsAt) \(excludedEnd) \(file.count - excludedEnd) ]"
        guard range.utf8.count <= byteRangePlaceholder.utf8.count else { throw DocumentError(.invalidDocument, "\(name) is too large to sign") }
        file.replaceSubrange(
            rangeAt..<rangeAt + byteRangePlaceholder.utf8.count,
            with: Array(range.padding(toLength: byteRangePlaceholder.utf8.count, withPad: " ", startingAt: 0).utf8))
        var timestampProblem: String?
        let signed = try CAdESSignedData.make(digest: digest([file[0..<contentsAt], file[excludedEnd...]]), key: key, chain: certificates) {
            (value) throws(DocumentError) -> [UInt8]? in
            guard let timestamps else { return nil }
            do throws(DocumentError) { return try timestamps.token(for: value) } catch {
                if timestampRequired { throw error }
                timestampProblem = error.message
                return nil
            }
        }
        guard signed.count <= Self.reservedSignatureBytes else {
            throw DocumentError(.internal, "the signature (\(signed.count) bytes) does not fit the \(Self.reservedSignatureBytes) bytes reserved")
        }
        let hex = signed.map { String(format: "%02x", $0) }.joined()
        file.replaceSubrange(contentsAt + 1..<contentsAt + 1 + hex.utf8.count, with: Array(hex.utf8))
        let timestamped = timestamps != nil && timestampProblem == nil
        return SignedPDF(bytes: file, level: timestamped ? "PAdES-B-T" : "PAdES-B-B", timestampProblem: timestampProblem)
    }

    // MARK: - Parts

    /// The widget's rectangle in PDF units (points, y up) for `placement`, checked against the page.
    static func widgetRectangle(
        _ placement: SignaturePlacement, in revision: PDFRevision
    ) throws(DocumentError) -> (x0: Double, y0: Double, x1: Double, y1: Double) {
        guard (1...revision.pageCount).contains(placement.page) else {
            throw DocumentError(
                .invalidValue, "page \(placement.page) is not in the document (it has \(revision.pageCount) page\(revision.pageCount == 1 ? "" : "s"))")
        }
        guard placement.rect.count == 4, placement.rect.allSatisfy(\.isFinite), placement.rect[2] > 0, placement.rect[3] > 0 else {
            throw DocumentError(.invalidValue, "rect must be [x, y, width, height] in millimetres with a positive width and height")
        }
        let page = revision.page(placement.page - 1)
        guard let media = revision.inherited(page, "/MediaBox").flatMap(revision.rectangle) else {
            throw DocumentError(.invalidDocument, "page \(placement.page) has no media box")
        }
        let box = revision.inherited(page, "/CropBox").flatMap(revision.rectangle) ?? media
        let rotation = revision.inherited(page, "/Rotate").map { Int(revision.number($0)) % 360 } ?? 0
        guard rotation == 0 else {
            throw DocumentError(.invalidDocument, "page \(placement.page) is shown turned (/Rotate \(rotation)); signing turned pages is not supported yet")
        }
        let points = 72 / 25.4
        let x0 = box.x0 + placement.rect[0] * points, y1 = box.y1 - placement.rect[1] * points
        let x1 = x0 + placement.rect[2] * points, y0 = y1 - placement.rect[3] * points
        let tolerance = 0.01
        guard placement.rect[0] >= 0, placement.rect[1] >= 0, x1 <= box.x1 + tolerance, y0 >= box.y0 - tolerance else {
            let size = "\(Self.number((box.x1 - box.x0) / points)) × \(Self.number((box.y1 - box.y0) / points)) mm"
            throw DocumentError(.invalidValue, "rect \(placement.rect.map { Self.number($0) }) is not on page \(placement.page), which is \(size)")
        }
        return (x0, y0, x1, y1)
    }

    /// The appearance stream: the drawing scaled to fit `width` × `height` points with its proportions kept, centred,
    /// in `color`, round caps and joins.
    static func appearance(_ drawing: InkDrawing, width: Double, height: Double, color: (Double, Double, Double)) -> String {
        let scale = min(width / drawing.width, height / drawing.height)
        let offsetX = (width - drawing.width * scale) / 2, offsetY = (height - drawing.height * scale) / 2
        func point(_ x: Double, _ y: Double) -> String { "\(number(offsetX + x * scale)) \(number(height - offsetY - y * scale))" }
        let rgb = "\(number(color.0)) \(number(color.1)) \(number(color.2))"
        var content = "q \(rgb) RG \(rgb) rg 1 J 1 j\n"
        for line in drawing.lines {
            content += "\(number(line.width * scale)) w \(point(line.points[0].x, line.points[0].y)) m"
            for next in line.points.dropFirst() { content += " \(point(next.x, next.y)) l" }
            content += " S\n"
        }
        for dot in drawing.dots {
            // A circle as four Bézier quarters (0.5523 is the usual control distance).
            let r = dot.radius, k = 0.5523 * r
            content += "\(point(dot.x + r, dot.y)) m \(point(dot.x + r, dot.y - k)) \(point(dot.x + k, dot.y - r)) \(point(dot.x, dot.y - r)) c "
            content += "\(point(dot.x - k, dot.y - r)) \(point(dot.x - r, dot.y - k)) \(point(dot.x - r, dot.y)) c "
            content += "\(point(dot.x - r, dot.y + k)) \(point(dot.x - k, dot.y + r)) \(point(dot.x, dot.y + r)) c "
            content += "\(point(dot.x + k, dot.y + r)) \(point(dot.x + r, dot.y + k)) \(point(dot.x + r, dot.y)) c f\n"
        }
        return content + "Q"
    }

    /// The evidence as a MIME multipart (the ISO record, the stroke JSON, the document's SHA-256), in a CMS envelope to
    /// `recipient`; the plaintext never touches the disk.
    static func envelope(_ evidence: SignatureEvidence, documentSHA256: SHA256.Digest, to recipient: EnvelopeRecipient) throws(DocumentError) -> [UInt8] {
        let boundary = "counterkit-evidence-" + UUID().uuidString.lowercased()
        func base64Lines(_ bytes: [UInt8]) -> String {
            Data(bytes).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        }
        let hash = documentSHA256.map { String(format: "%02x", $0) }.joined()
        let mime = """
            MIME-Version: 1.0\r
            Content-Type: multipart/mixed; boundary="\(boundary)"\r
            \r
            --\(boundary)\r
            Content-Type: application/octet-stream; name="signature.iso19794-7"\r
            Content-Transfer-Encoding: base64\r
            \r
            \(base64Lines(evidence.iso19794))\r
            --\(boundary)\r
            Content-Type: application/json; name="strokes.json"\r
            Content-Transfer-Encoding: base64\r
            \r
            \(base64Lines(evidence.strokes))\r
            --\(boundary)\r
            Content-Type: text/plain; name="document.sha256"\r
            \r
            \(hash)\r
            --\(boundary)--\r

            """
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-evidence-\(UUID().uuidString).p7m").path
        defer { unlink(path) }
        do throws(AttachmentError) {
            guard let stream = try recipient.openStream(to: path) else { throw AttachmentError(.internal, "the recipient cannot stream an envelope") }
            let written = Array(mime.utf8).withUnsafeBytes { stream.write($0) }
            guard written else {
                stream.abandon()
                throw AttachmentError(.attachmentFailed, "encrypting the evidence failed")
            }
            _ = try stream.finish()
        } catch {
            throw DocumentError(error.code, "the signature evidence cannot be encrypted for the back office: \(error.message)")
        }
        guard let envelope = FileManager.default.contents(atPath: path) else { throw DocumentError(.ioError, "the evidence envelope was not written") }
        return Array(envelope)
    }

    /// Embeds file `fileID` (its spec `specID`) in the document's `/EmbeddedFiles` name tree, in this revision.
    private static func embed(
        fileID: Int32, specID: Int32, in revision: PDFRevision, added: inout [PDFRevision.WrittenObject], documentName: String
    ) throws(DocumentError) {
        let root = revision.root
        let names: qpdf_oh
        if let existing = revision.value(root, "/Names"), revision.isDictionary(existing) {
            names = existing
            revision.touch(revision.isIndirect(existing) ? existing : root)
        } else {
            names = revision.newDictionary()
            revision.set(root, "/Names", names)
            revision.touch(root)
        }
        let files: qpdf_oh
        if let existing = revision.value(names, "/EmbeddedFiles"), revision.isDictionary(existing) {
            files = existing
            if revision.isIndirect(existing) { revision.touch(existing) }
        } else {
            files = revision.newDictionary()
            revision.set(names, "/EmbeddedFiles", files)
        }
        if revision.value(files, "/Kids") != nil {
            throw DocumentError(.invalidDocument, "\(documentName)'s embedded files form a tree of several nodes; adding the evidence to it is not supported")
        }
        let list = revision.value(files, "/Names") ?? revision.newArray()
        let pairs = revision.items(list)
        let taken = stride(from: 0, to: pairs.count, by: 2).compactMap { revision.text(pairs[$0]) }
        var fileName = "signature-evidence.p7m", number = 1
        while taken.contains(fileName) {
            number += 1
            fileName = "signature-evidence-\(number).p7m"
        }
        // Keys in order: insert where it sorts.
        let position = stride(from: 0, to: pairs.count, by: 2).first { (revision.text(pairs[$0]) ?? "") > fileName } ?? pairs.count
        revision.insert(list, at: position, revision.newText(fileName))
        revision.insert(list, at: position + 1, revision.reference(specID))
        if revision.isIndirect(list) { revision.touch(list) } else { revision.set(files, "/Names", list) }
        let spec =
            "<< /Type /Filespec /F \(revision.unparse(revision.newText(fileName))) /UF \(revision.unparse(revision.newText(fileName))) "
            + "/Desc \(revision.unparse(revision.newText("The signer's pen data (ISO/IEC 19794-7), encrypted to the back office"))) /AFRelationship /Supplement /EF << /F \(fileID) 0 R >> >>"
        added.append(.init(id: specID, bytes: Array(spec.utf8)))
    }

    /// `Signature1`, or the first `SignatureN` not among `taken`.
    static func freeFieldName(among taken: [String]) -> String {
        var number = 1
        while taken.contains("Signature\(number)") { number += 1 }
        return "Signature\(number)"
    }

    /// `#rrggbb` as 0…1 components.
    static func rgb(_ text: String) -> (Double, Double, Double)? {
        guard text.count == 7, text.first == "#", let value = UInt32(text.dropFirst(), radix: 16) else { return nil }
        return (Double(value >> 16 & 0xff) / 255, Double(value >> 8 & 0xff) / 255, Double(value & 0xff) / 255)
    }

    /// A PDF date, `D:YYYYMMDDHHmmSSZ`.
    static func pdfDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "D:%04d%02d%02d%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// A number as PDF writes it: up to three decimals, no exponent.
    static func number(_ value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        if rounded == rounded.rounded() { return String(Int(rounded)) }
        var text = String(format: "%.3f", rounded)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }

    /// Where `needle` first occurs in `haystack` at or after `start`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0], haystack[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
