import Attachments
import CLibcrypto
import CounterKitCore
import Crypto
import Foundation
import SwiftASN1
import SystemPackage
import X509

/// The back office's certificate, that every attachment is also encrypted for (单方加密): only the holder of its
/// private key can open the envelopes, and the counter cannot. RSA and P-256 certificates get CMS (RFC 5652)
/// AuthEnvelopedData with AES-256-GCM; SM2 certificates get GM/T 0010 EnvelopedData with SM4-CBC, its key encrypted
/// by SM2.
///
/// ```swift
/// let recipient = try EnvelopeRecipient.load(from: "/etc/counterkit/back-office.pem")
/// try recipient.seal(file: "scan.jpg", to: "scan.jpg.p7m")   // openssl cms -decrypt -inform DER … opens it
/// ```
public struct EnvelopeRecipient: EnvelopeSealing {
    private let certificateDER: [UInt8]

    /// The certificate's subject, for messages and the manifest.
    public let subject: String
    /// The hex SHA-256 of the certificate's SubjectPublicKeyInfo DER (the same kind of id as a counter key's).
    public let recipientID: String
    /// What its key is: `rsa` (key transport), `p256` (ECDH key agreement) or `sm2` (SM2 encryption, GM/T 0010).
    public let keyType: String
    /// When the certificate expires.
    public let notValidAfter: Date

    /// The recipient certificate in the PEM file at `path`; one that is expired, not yet valid, of a key type CMS
    /// cannot encrypt to here, or whose key usage forbids encryption is refused naming the file and what is wrong.
    public static func load(from path: String, now: Date = Date()) throws(SealError) -> EnvelopeRecipient {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SealError(.notFound, "cannot read the recipient certificate \(path) (the back office's certificate, PEM)")
        }
        return try parse(String(decoding: data, as: UTF8.self), from: path, now: now)
    }

    /// The recipient certificate in PEM text (`source` names it in errors).
    public static func parse(_ pem: String, from source: String = "the recipient certificate", now: Date = Date()) throws(SealError) -> EnvelopeRecipient {
        if let document = try? PEMDocument(pemString: pem), document.discriminator == "CERTIFICATE",
            let sm2 = try sm2Recipient(document.derBytes, from: source, now: now)
        {
            return sm2
        }
        let certificate: Certificate
        do { certificate = try Certificate(pemEncoded: pem) } catch {
            throw SealError(.invalidValue, "\(source) is not a PEM certificate (BEGIN CERTIFICATE): \(error)")
        }
        try checkValidity(from: certificate.notValidBefore, to: certificate.notValidAfter, of: source, now: now)
        var spki = DER.Serializer()
        do { try spki.serialize(certificate.publicKey) } catch { throw SealError(.internal, "cannot encode \(source)'s key: \(error)") }
        let keyType: String
        let usable: (KeyUsage) -> Bool
        if P256.Signing.PublicKey(certificate.publicKey) != nil {
            keyType = "p256"
            usable = { $0.keyAgreement }
        } else if Self.algorithm(ofKey: spki.serializedBytes) == [1, 2, 840, 113_549, 1, 1, 1] {  // rsaEncryption
            keyType = "rsa"
            usable = { $0.keyEncipherment }
        } else {
            throw SealError(.invalidValue, "\(source) holds a \(certificate.publicKey) key; envelopes are made for RSA, P-256 or SM2 certificates")
        }
        do {
            if let usage = try certificate.extensions.keyUsage, !usable(usage) {
                throw SealError(
                    .invalidValue,
                    "\(source) cannot encrypt: its key usage (\(usage)) lacks \(keyType == "rsa" ? "keyEncipherment" : "keyAgreement"); "
                        + "ask the back office for its encryption certificate")
            }
        } catch let error as SealError {
            throw error
        } catch {
            throw SealError(.invalidValue, "\(source) has a key usage that cannot be read: \(error)")
        }
        var serializer = DER.Serializer()
        do { try serializer.serialize(certificate) } catch { throw SealError(.internal, "cannot encode \(source): \(error)") }
        return EnvelopeRecipient(
            certificateDER: serializer.serializedBytes, subject: certificate.subject.description,
            recipientID: CounterPublicKey.keyID(spki.serializedBytes), keyType: keyType, notValidAfter: certificate.notValidAfter,
            contentEncryption: "aes-256-gcm")
    }

    /// A certificate whose validity does not include `now` is refused, saying which way it is out.
    static func checkValidity(from notBefore: Date, to notAfter: Date, of source: String, now: Date) throws(SealError) {
        let formatter = Date.ISO8601FormatStyle()
        guard notAfter > now else {
            throw SealError(.invalidValue, "\(source) expired on \(notAfter.formatted(formatter)); ask the back office for its current certificate")
        }
        guard notBefore <= now else {
            throw SealError(.invalidValue, "\(source) is not valid before \(notBefore.formatted(formatter)); check this PC's clock")
        }
    }

    /// The recipient when `der` is an SM2 certificate (read by OpenSSL: swift-certificates does not know SM2 keys);
    /// nil for any other certificate.
    private static func sm2Recipient(_ der: [UInt8], from source: String, now: Date) throws(SealError) -> EnvelopeRecipient? {
        guard let facts = CertificateFacts(der: der), facts.isSM2 else { return nil }
        try checkValidity(from: facts.notValidBefore, to: facts.notValidAfter, of: source, now: now)
        // KU_KEY_ENCIPHERMENT (0x20) or KU_DATA_ENCIPHERMENT (0x10): the SM4 key is encrypted to the SM2 key.
        if let usage = facts.keyUsage, usage & 0x30 == 0 {
            throw SealError(
                .invalidValue,
                "\(source) cannot encrypt: its key usage lacks keyEncipherment and dataEncipherment; ask the back office for its SM2 encryption certificate")
        }
        return EnvelopeRecipient(
            certificateDER: der, subject: facts.subject, recipientID: CounterPublicKey.keyID(facts.publicKeyDER), keyType: "sm2",
            notValidAfter: facts.notValidAfter, contentEncryption: "sm4-cbc")
    }

    /// The algorithm OID of a SubjectPublicKeyInfo (SEQUENCE { AlgorithmIdentifier { OID, … }, BIT STRING }).
    private static func algorithm(ofKey spki: [UInt8]) -> ASN1ObjectIdentifier? {
        try? DER.sequence(try DER.parse(spki), identifier: .sequence) { nodes in
            guard let identifier = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "no algorithm") }
            while nodes.next() != nil {}
            return try DER.sequence(identifier, identifier: .sequence) { fields in
                let oid = try ASN1ObjectIdentifier(derEncoded: &fields)
                while fields.next() != nil {}
                return oid
            }
        }
    }

    /// The content encryption: `aes-256-gcm` in CMS AuthEnvelopedData (RFC 5083), or `sm4-cbc` in GM/T 0010
    /// EnvelopedData for an SM2 recipient.
    public let contentEncryption: String

    /// An envelope at `output` written as the attachment is: CMS AuthEnvelopedData streamed through OpenSSL's
    /// `BIO_new_CMS`, or for an SM2 recipient the GM/T 0010 envelope, whose SM4 ciphertext waits in an unlinked scratch
    /// file until its length (which DER states first) is known. No plaintext is written either way.
    public func openStream(to output: String) throws(AttachmentError) -> (any EnvelopeStream)? {
        var message = [CChar](repeating: 0, count: 512)
        let messageLength = message.count
        let handle = certificateDER.withUnsafeBufferPointer { ck_envelope_stream_open(output, $0.baseAddress, $0.count, &message, messageLength) }
        guard let handle else {
            unlink(output)
            throw AttachmentError(
                .attachmentFailed, "cannot start an envelope for \(subject): \(message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })")
        }
        return CMSEnvelopeStream(handle: handle, path: output)
    }

    /// Encrypts the file at `input` into a new envelope file at `output` (streamed, never whole in memory); a failure
    /// leaves no `output`.
    public func seal(file input: String, to output: String) throws(AttachmentError) -> (byteCount: Int, sha256: String) {
        var message = [CChar](repeating: 0, count: 512)
        var written: Int64 = 0
        var digest = [UInt8](repeating: 0, count: 32)
        let messageLength = message.count, sm2 = keyType == "sm2"
        let status = certificateDER.withUnsafeBufferPointer { certificate in
            sm2
                ? ck_envelope_seal_sm2(input, output, certificate.baseAddress, certificate.count, &written, &digest, &message, messageLength)
                : ck_envelope_seal(input, output, certificate.baseAddress, certificate.count, 1, &written, &digest, &message, messageLength)
        }
        guard status == 0 else {
            unlink(output)
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw AttachmentError(.attachmentFailed, "cannot seal \(input) for \(subject): \(text)")
        }
        return (Int(written), digest.map { String(format: "%02x", $0) }.joined())
    }
}

/// A CMS envelope OpenSSL writes as content arrives.
final class CMSEnvelopeStream: EnvelopeStream {
    private var handle: UnsafeMutableRawPointer?
    private let path: String

    init(handle: UnsafeMutableRawPointer, path: String) {
        self.handle = handle
        self.path = path
    }

    deinit { if let handle { ck_envelope_stream_abandon(handle) } }

    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let handle else { return false }
        return ck_envelope_stream_write(handle, bytes.baseAddress, bytes.count) == 0
    }

    func finish() throws(AttachmentError) -> (byteCount: Int, sha256: String) {
        guard let handle else { throw AttachmentError(.internal, "the envelope \(path) was already finished") }
        self.handle = nil
        var written: Int64 = 0
        var digest = [UInt8](repeating: 0, count: 32)
        var message = [CChar](repeating: 0, count: 512)
        let messageLength = message.count
        guard ck_envelope_stream_finish(handle, &written, &digest, &message, messageLength) == 0 else {
            unlink(path)
            throw AttachmentError(
                .attachmentFailed, "cannot complete the envelope \(path): \(message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })")
        }
        return (Int(written), digest.map { String(format: "%02x", $0) }.joined())
    }

    func abandon() {
        if let handle { ck_envelope_stream_abandon(handle) }
        handle = nil
    }
}
