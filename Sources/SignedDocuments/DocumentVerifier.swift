import CQPDF
import Crypto
import Foundation
import Sealing
import SwiftASN1
import X509

/// What one signature of a PDF says, as ``DocumentVerifier`` found it valid.
public struct DocumentSignatureReport: Sendable, Equatable, Codable {
    /// The signature field's name (`/T`).
    public var field: String
    /// The signer's certificate subject.
    public var signer: String
    /// The signing time the signature dictionary states (`/M`, the signer's clock), ISO 8601; nil when absent.
    public var time: String?
    /// Who signed (`/Name`), when given.
    public var name: String?
    /// Why (`/Reason`), when given.
    public var reason: String?
    /// The signature algorithm: `ecdsa-p256-sha256` or `ed25519`.
    public var algorithm: String
    /// The revision the signature covers, from 1.
    public var revision: Int
    /// How many revisions the file has.
    public var revisions: Int
    /// Whether it covers the whole file (no later revision was added).
    public var coversWholeFile: Bool
    /// Whether a trusted certificate (`--ca`) issued the signer's; nil when no root was given.
    public var trusted: Bool?
    /// Whether the signature carries an RFC 3161 timestamp (PAdES B-T).
    public var timestamped: Bool

    /// One line for people.
    public var summary: String {
        let coverage = coversWholeFile ? "covers the whole file" : "covers revision \(revision) of \(revisions) (later revisions were added after it)"
        return "\(field): valid, signed by \(signer)" + (time.map { " at \($0) (the signer's clock)" } ?? "")
            + ", \(algorithm), \(coverage), " + (timestamped ? "timestamped" : "no timestamp")
            + (trusted.map { $0 ? ", issued by a trusted certificate" : ", NOT issued by a trusted certificate" } ?? "")
    }
}

/// Checks every PAdES / CAdES signature of a PDF: the byte range (the whole file but the signature's own hex, ending
/// where a revision ends), the message digest over it, the signature over the signed attributes with the signer's
/// certificate, the signing-certificate-v2 binding, and, with roots given, that a root issued the signer's certificate.
public enum DocumentVerifier {
    /// The signatures of `pdf`, each valid; `seal_invalid` naming the first that is not (or `invalid_document`).
    public static func verify(_ pdf: [UInt8], trusting roots: [[UInt8]] = [], name: String = "the document") throws(DocumentError) -> [DocumentSignatureReport]
    {
        let revision = try PDFRevision(pdf, name: name)
        let ends = revisionEnds(pdf)
        var reports: [DocumentSignatureReport] = []
        for field in signatureFields(in: revision) {
            let fieldName = revision.value(field, "/T").flatMap(revision.text) ?? "(unnamed)"
            guard let value = revision.value(field, "/V"), let range = revision.value(value, "/ByteRange"),
                let contents = revision.value(value, "/Contents").flatMap(revision.bytes)
            else { continue }  // an empty signature field: nothing signed yet
            let numbers = revision.items(range).map { Int(revision.number($0)) }
            func broken(_ why: String) -> DocumentError { DocumentError(.sealInvalid, "signature \(fieldName) of \(name): \(why)") }
            guard numbers.count == 4, numbers[0] == 0, numbers[1] > 0, numbers[2] > numbers[1], numbers[3] >= 0, numbers[2] + numbers[3] <= pdf.count,
                pdf[numbers[1]] == UInt8(ascii: "<"), pdf[numbers[2] - 1] == UInt8(ascii: ">")
            else { throw broken("its byte range \(numbers) does not exclude exactly its own /Contents") }
            let end = numbers[2] + numbers[3]
            guard let revisionIndex = ends.firstIndex(of: end) else { throw broken("its byte range ends at \(end), which is not where a revision ends") }
            let signed = (digestParts: [pdf[0..<numbers[1]], pdf[numbers[2]..<end]], contents: contents)
            let checked = try checkCMS(signed.contents, covering: signed.digestParts, roots: roots, broken: broken)
            reports.append(
                DocumentSignatureReport(
                    field: fieldName, signer: checked.signer, time: revision.value(value, "/M").flatMap(revision.text).flatMap(isoDate),
                    name: revision.value(value, "/Name").flatMap(revision.text), reason: revision.value(value, "/Reason").flatMap(revision.text),
                    algorithm: checked.algorithm, revision: revisionIndex + 1, revisions: ends.count, coversWholeFile: end == pdf.count,
                    trusted: roots.isEmpty ? nil : checked.trusted, timestamped: checked.timestamped))
        }
        guard !reports.isEmpty else { throw DocumentError(.sealInvalid, "\(name) has no signature") }
        return reports.sorted { $0.revision < $1.revision }
    }

    /// Signature fields (`/FT /Sig`) in the form, kids included.
    static func signatureFields(in revision: PDFRevision) -> [qpdf_oh] {
        guard let form = revision.value(revision.root, "/AcroForm"), let fields = revision.value(form, "/Fields") else { return [] }
        var found: [qpdf_oh] = [], pending = revision.items(fields), visited = 0
        while let field = pending.popLast(), visited < 10_000 {
            visited += 1
            if revision.value(field, "/FT").flatMap(revision.name) == "/Sig" { found.append(field) }
            if let kids = revision.value(field, "/Kids") { pending += revision.items(kids) }
        }
        return found.reversed()
    }

    /// Where each revision ends: just after each `%%EOF` (and its line end).
    static func revisionEnds(_ pdf: [UInt8]) -> [Int] {
        let marker = Array("%%EOF".utf8)
        var ends: [Int] = []
        var index = 0
        while let found = DocumentSigner.find(marker, in: pdf, from: index) {
            var end = found + marker.count
            if end < pdf.count, pdf[end] == 0x0D { end += 1 }
            if end < pdf.count, pdf[end] == 0x0A { end += 1 }
            ends.append(end)
            index = found + marker.count
        }
        return ends
    }

    static let idSignedData: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 7, 2]
    static let idTimestampToken: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 9, 16, 2, 14]

    /// Verifies a detached CMS SignedData over `parts`; returns the signer, the algorithm, trust and whether it is timestamped.
    static func checkCMS(
        _ der: [UInt8], covering parts: [ArraySlice<UInt8>], roots: [[UInt8]], broken: (String) -> DocumentError
    ) throws(DocumentError) -> (signer: String, algorithm: String, trusted: Bool, timestamped: Bool) {
        // /Contents is zero-padded after the DER: the first node is the whole CMS.
        let parsed: (certificates: [Certificate], signerInfo: ASN1Node)
        do {
            let root = try DER.parse(Array(der.prefix(Self.firstValueLength(der))))
            parsed = try DER.sequence(root, identifier: .sequence) { nodes in
                let type = try ASN1ObjectIdentifier(derEncoded: &nodes)
                guard type == idSignedData, let explicit = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "not SignedData") }
                guard case .constructed(let inner) = explicit.content, let signedData = inner.first(where: { _ in true }) else {
                    throw ASN1Error.invalidASN1Object(reason: "no SignedData")
                }
                return try DER.sequence(signedData, identifier: .sequence) { fields in
                    _ = fields.next()  // version
                    _ = fields.next()  // digestAlgorithms
                    _ = fields.next()  // encapContentInfo
                    var certificates: [Certificate] = []
                    var signerInfos: ASN1Node?
                    while let field = fields.next() {
                        if field.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific), case .constructed(let items) = field.content {
                            for item in items { certificates.append(try Certificate(derEncoded: Array(item.encodedBytes))) }
                        } else if field.identifier == .set {
                            signerInfos = field
                        }
                    }
                    guard let signerInfos, case .constructed(let infos) = signerInfos.content, let first = infos.first(where: { _ in true }) else {
                        throw ASN1Error.invalidASN1Object(reason: "no SignerInfo")
                    }
                    return (certificates, first)
                }
            }
        } catch {
            throw broken("its CMS cannot be read: \(error)")
        }
        // SignerInfo { version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature, [1] unsignedAttrs }
        guard case .constructed(let fields) = parsed.signerInfo.content else { throw broken("its SignerInfo is not a sequence") }
        let items = Array(fields)
        guard items.count >= 6, items[3].identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific) else {
            throw broken("its SignerInfo has no signed attributes")
        }
        let sid = Array(items[1].encodedBytes)
        let digestOID: ASN1ObjectIdentifier, signatureOID: ASN1ObjectIdentifier, signature: ASN1OctetString
        do {
            digestOID = try DER.sequence(items[2], identifier: .sequence) { nodes in try ASN1ObjectIdentifier(derEncoded: &nodes) }
            signatureOID = try DER.sequence(items[4], identifier: .sequence) { nodes in
                let oid = try ASN1ObjectIdentifier(derEncoded: &nodes)
                while nodes.next() != nil {}
                return oid
            }
            signature = try ASN1OctetString(derEncoded: items[5])
        } catch {
            throw broken("its SignerInfo cannot be read: \(error)")
        }
        let timestamped = items.count > 6 && Array(items[6].encodedBytes).containsSubsequence(oidBytes(idTimestampToken))

        // The signer's certificate: the one whose issuer and serial number the SignerInfo names.
        let named = parsed.certificates.first { certificate in
            var serializer = DER.Serializer()
            try? serializer.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(certificate.issuer)
                try coder.serialize(certificate.serialNumber.bytes)
            }
            return serializer.serializedBytes == sid
        }
        guard let leaf = named else { throw broken("the signer's certificate is not in the signature") }

        // The message digest over the byte range.
        let digest: [UInt8]
        switch digestOID {
        case CAdESSignedData.sha256: digest = Array(SHA256.hash(data: parts.reduce(into: [UInt8]()) { $0 += $1 }))
        case CAdESSignedData.sha512: digest = Array(SHA512.hash(data: parts.reduce(into: [UInt8]()) { $0 += $1 }))
        case [2, 16, 840, 1, 101, 3, 4, 2, 2]: digest = Array(SHA384.hash(data: parts.reduce(into: [UInt8]()) { $0 += $1 }))
        default: throw broken("its digest algorithm \(digestOID) is not one this verifier knows")
        }
        var signedAttributes = Array(items[3].encodedBytes)
        // The signed attributes by type: message-digest (an OCTET STRING) and signing-certificate-v2 (its first certHash).
        var statedDigest: [UInt8]?, certificateHash: [UInt8]?
        do {
            guard case .constructed(let attributes) = items[3].content else { throw ASN1Error.invalidASN1Object(reason: "no attributes") }
            for attribute in attributes {
                try DER.sequence(attribute, identifier: .sequence) { nodes in
                    let type = try ASN1ObjectIdentifier(derEncoded: &nodes)
                    guard let values = nodes.next(), case .constructed(let set) = values.content, let value = set.first(where: { _ in true }) else { return }
                    if type == CAdESSignedData.messageDigest {
                        statedDigest = Array(try ASN1OctetString(derEncoded: value).bytes)
                    } else if type == CAdESSignedData.signingCertificateV2 {
                        // SigningCertificateV2 { SEQUENCE OF ESSCertIDv2 { [hashAlgorithm], certHash, … } }
                        certificateHash = try DER.sequence(value, identifier: .sequence) { outer in
                            guard let certsNode = outer.next() else { return nil }
                            while outer.next() != nil {}  // policies
                            guard case .constructed(let certs) = certsNode.content, let first = certs.first(where: { _ in true }) else { return nil }
                            return try DER.sequence(first, identifier: .sequence) { fields in
                                var hash: [UInt8]?
                                while let field = fields.next() {
                                    if hash == nil, field.identifier == .octetString { hash = Array(try ASN1OctetString(derEncoded: field).bytes) }
                                }
                                return hash
                            }
                        }
                    }
                }
            }
        } catch {
            throw broken("its signed attributes cannot be read: \(error)")
        }
        guard statedDigest == digest else {
            throw broken("the file's bytes no longer match the digest it signed: the document was changed after it was signed")
        }
        guard certificateHash == Array(SHA256.hash(data: leafDER(leaf))) else {
            throw broken("its signing-certificate-v2 does not name the signer's certificate")
        }
        signedAttributes[0] = 0x31  // what was signed: the attributes as a SET
        var spki = DER.Serializer()
        let publicKey: CounterPublicKey
        do {
            try spki.serialize(leaf.publicKey)
            publicKey = try CounterPublicKey(der: spki.serializedBytes)
        } catch {
            throw broken("the signer's key is not one this verifier knows: \(error)")
        }
        let algorithm =
            signatureOID == CAdESSignedData.ed25519 ? "ed25519" : signatureOID == CAdESSignedData.ecdsaWithSHA256 ? "ecdsa-p256-sha256" : "\(signatureOID)"
        guard publicKey.isValidSignature(Array(signature.bytes), for: signedAttributes) else {
            throw broken("the signature does not verify with the signer's certificate (\(leaf.subject))")
        }
        // Trust: a root is the signer's certificate, or issued it (directly or through certificates in the signature).
        var trusted = false
        if !roots.isEmpty {
            let anchors = roots.compactMap { try? Certificate(derEncoded: $0) }
            var current = leaf
            for _ in 0..<5 {
                if anchors.contains(current) { trusted = true; break }
                if let anchor = anchors.first(where: { $0.subject == current.issuer && $0.publicKey.isValidSignature(current.signature, for: current) }) {
                    _ = anchor
                    trusted = true
                    break
                }
                guard
                    let parent = parsed.certificates.first(where: {
                        $0.subject == current.issuer && $0 != current && $0.publicKey.isValidSignature(current.signature, for: current)
                    })
                else { break }
                current = parent
            }
        }
        return (leaf.subject.description, algorithm, trusted, timestamped)
    }

    /// The length of the first DER value in `bytes` (tag, length, content); what follows it is padding.
    static func firstValueLength(_ bytes: [UInt8]) -> Int {
        guard bytes.count >= 2 else { return bytes.count }
        let first = Int(bytes[1])
        if first < 0x80 { return min(bytes.count, 2 + first) }
        let count = first & 0x7F
        guard count >= 1, count <= 4, bytes.count >= 2 + count else { return bytes.count }
        let length = bytes[2..<2 + count].reduce(0) { $0 << 8 | Int($1) }
        return min(bytes.count, 2 + count + length)
    }

    private static func leafDER(_ certificate: Certificate) -> [UInt8] {
        var serializer = DER.Serializer()
        try? serializer.serialize(certificate)
        return serializer.serializedBytes
    }

    private static func oidBytes(_ oid: ASN1ObjectIdentifier) -> [UInt8] {
        var serializer = DER.Serializer()
        try? serializer.serialize(oid)
        return serializer.serializedBytes
    }

    /// `D:YYYYMMDDHHmmSS…` as ISO 8601 (UTC when the date says Z or gives no zone).
    static func isoDate(_ text: String) -> String? {
        let digits = text.dropFirst(text.hasPrefix("D:") ? 2 : 0).prefix(14)
        guard digits.count == 14, digits.allSatisfy(\.isNumber) else { return nil }
        let d = Array(digits)
        return "\(String(d[0..<4]))-\(String(d[4..<6]))-\(String(d[6..<8]))T\(String(d[8..<10])):\(String(d[10..<12])):\(String(d[12..<14]))Z"
    }
}

extension Array where Element == UInt8 {
    /// Whether `needle` occurs in it.
    func containsSubsequence(_ needle: [UInt8]) -> Bool { DocumentSigner.find(needle, in: self, from: 0) != nil }
}
