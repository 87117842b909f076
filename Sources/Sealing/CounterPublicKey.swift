import Attachments
import CounterKitCore
import Crypto
import Foundation
import SwiftASN1
import X509

/// The public half of a counter key: what the back office verifies signatures with. Read from a `PUBLIC KEY` PEM
/// (`counterkit keys show`, `openssl pkey -pubout`) or from the key's certificate (`CERTIFICATE` PEM).
public struct CounterPublicKey: Sendable, Hashable {
    private let key: Certificate.PublicKey

    /// The key's algorithm.
    public let algorithm: SealAlgorithm

    /// The public key's SubjectPublicKeyInfo, DER.
    public let der: [UInt8]

    /// The key id: the hex SHA-256 of ``der``.
    public var keyID: String { Self.keyID(der) }

    static func keyID(_ der: [UInt8]) -> String { SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined() }

    init(_ key: Certificate.PublicKey) throws(SealError) {
        if Curve25519.Signing.PublicKey(key) != nil {
            algorithm = .ed25519
        } else if P256.Signing.PublicKey(key) != nil {
            algorithm = .p256
        } else {
            throw SealError(.invalidValue, "the key is \(key), not an ed25519 or p256 counter key")
        }
        var serializer = DER.Serializer()
        do { try serializer.serialize(key) } catch { throw SealError(.internal, "cannot encode the public key: \(error)") }
        self.key = key
        der = serializer.serializedBytes
    }

    /// The public key in PEM text: `PUBLIC KEY` or `CERTIFICATE` (`source` names it in errors).
    public static func parse(_ pem: String, from source: String = "the public key") throws(SealError) -> CounterPublicKey {
        let document: PEMDocument
        do { document = try PEMDocument(pemString: pem) } catch { throw SealError(.invalidValue, "\(source) is not a PEM file") }
        do {
            switch document.discriminator {
            case "PUBLIC KEY": return try CounterPublicKey(try Certificate.PublicKey(derEncoded: document.derBytes))
            case "CERTIFICATE": return try CounterPublicKey(try Certificate(derEncoded: document.derBytes).publicKey)
            default:
                throw SealError(.invalidValue, "\(source) holds a \(document.discriminator), not a public key (BEGIN PUBLIC KEY) or a certificate")
            }
        } catch let error as SealError {
            throw SealError(error.code, "\(source): \(error.message)")
        } catch {
            throw SealError(.invalidValue, "\(source) is not a well-formed public key or certificate (\(error))")
        }
    }

    /// The public key in the PEM file at `path`.
    public static func load(from path: String) throws(SealError) -> CounterPublicKey {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SealError(.notFound, "cannot read the public key \(path)")
        }
        return try parse(String(decoding: data, as: UTF8.self), from: path)
    }

    /// The public key as PEM (`PUBLIC KEY`).
    public var pem: String { PEMDocument(type: "PUBLIC KEY", derBytes: der).pemString + "\n" }

    /// Whether `record` is this key's signature of `bytes`: its key id and algorithm name this key, and the signature
    /// verifies.
    public func isValid(_ record: SignatureRecord, for bytes: [UInt8]) -> Bool {
        guard record.keyId == keyID, record.algorithm == algorithm.signatureName, let raw = record.signatureBytes else { return false }
        return isValidSignature(raw, for: bytes)
    }

    /// Whether `signature` (Ed25519's raw 64 bytes, or DER ECDSA over SHA-256) signs `bytes` with this key.
    public func isValidSignature(_ signature: [UInt8], for bytes: [UInt8]) -> Bool {
        key.isValidSignature(signature, for: bytes, signatureAlgorithm: algorithm == .ed25519 ? .ed25519 : .ecdsaWithSHA256)
    }
}
