import Attachments
import CLibcrypto
import CounterKitCore
import Crypto
import Foundation
import SwiftASN1
import SystemPackage
import X509

/// The back office's certificate, that every attachment is also encrypted for (单方加密): only the holder of its
/// private key can open the envelopes (CMS, RFC 5652), and the counter cannot.
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
    /// What its key is: `rsa` (key transport) or `p256` (ECDH key agreement).
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
        let certificate: Certificate
        do { certificate = try Certificate(pemEncoded: pem) } catch {
            throw SealError(.invalidValue, "\(source) is not a PEM certificate (BEGIN CERTIFICATE): \(error)")
        }
        let formatter = Date.ISO8601FormatStyle()
        guard certificate.notValidAfter > now else {
            throw SealError(
                .invalidValue,
                "\(source) expired on \(certificate.notValidAfter.formatted(formatter)); ask the back office for its current certificate")
        }
        guard certificate.notValidBefore <= now else {
            throw SealError(.invalidValue, "\(source) is not valid before \(certificate.notValidBefore.formatted(formatter)); check this PC's clock")
        }
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
            throw SealError(.invalidValue, "\(source) holds a \(certificate.publicKey) key; envelopes are made for RSA or P-256 certificates")
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
            recipientID: CounterPublicKey.keyID(spki.serializedBytes), keyType: keyType, notValidAfter: certificate.notValidAfter)
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

    /// The content encryption: AES-256-GCM in AuthEnvelopedData (RFC 5083).
    public var contentEncryption: String { "aes-256-gcm" }

    /// Encrypts the file at `input` into a new CMS file at `output` (streamed, never whole in memory); a failure
    /// leaves no `output`.
    public func seal(file input: String, to output: String) throws(AttachmentError) {
        var message = [CChar](repeating: 0, count: 512)
        let status = certificateDER.withUnsafeBufferPointer { certificate in
            ck_envelope_seal(input, output, certificate.baseAddress, certificate.count, 1, &message, message.count)
        }
        guard status == 0 else {
            unlink(output)
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw AttachmentError(.attachmentFailed, "cannot seal \(input) for \(subject): \(text)")
        }
    }
}
