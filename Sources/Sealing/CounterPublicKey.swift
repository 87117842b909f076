import Attachments
import CounterKitCore
import Crypto
import Foundation
import SwiftASN1
import X509

/// The public half of a counter key: what the back office verifies signatures with. Read from a `PUBLIC KEY` PEM
/// (`counterkit keys show`, `openssl pkey -pubout`) or from the key's certificate (`CERTIFICATE` PEM).
public struct CounterPublicKey: Sendable, Hashable {
    /// The key as swift-certificates holds it; nil for SM2, which OpenSSL verifies from ``der``.
    private let key: Certificate.PublicKey?

    /// The key's algorithm.
    public let algorithm: SealAlgorithm

    /// The public key's SubjectPublicKeyInfo, DER.
    public let der: [UInt8]

    /// The key id: the hex SHA-256 of ``der``.
    public var keyID: String { Self.keyID(der) }

    static func keyID(_ der: [UInt8]) -> String { SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined() }

    /// The key in SubjectPublicKeyInfo DER: an SM2 key (OpenSSL reads it), else one swift-certificates reads.
    public init(der: [UInt8]) throws(SealError) {
        if SM2Key.isPublicKey(der) {
            self.init(key: nil, algorithm: .sm2, der: der)
            return
        }
        let parsed: Certificate.PublicKey
        do { parsed = try Certificate.PublicKey(derEncoded: der) } catch {
            throw SealError(.invalidValue, "not an ed25519, p256 or sm2 public key (\(error))")
        }
        try self.init(parsed)
    }

    init(_ key: Certificate.PublicKey) throws(SealError) {
        let algorithm: SealAlgorithm
        if Curve25519.Signing.PublicKey(key) != nil {
            algorithm = .ed25519
        } else if P256.Signing.PublicKey(key) != nil {
            algorithm = .p256
        } else {
            throw SealError(.invalidValue, "the key is \(key), not an ed25519, p256 or sm2 counter key")
        }
        var serializer = DER.Serializer()
        do { try serializer.serialize(key) } catch { throw SealError(.internal, "cannot encode the public key: \(error)") }
        self.init(key: key, algorithm: algorithm, der: serializer.serializedBytes)
    }

    private init(key: Certificate.PublicKey?, algorithm: SealAlgorithm, der: [UInt8]) {
        self.key = key
        self.algorithm = algorithm
        self.der = der
    }

    /// The public key in PEM text: `PUBLIC KEY` or `CERTIFICATE` (`source` names it in errors).
    public static func parse(_ pem: String, from source: String = "the public key") throws(SealError) -> CounterPublicKey {
        let document: PEMDocument
        do { document = try PEMDocument(pemString: pem) } catch { throw SealError(.invalidValue, "\(source) is not a PEM file") }
        do {
            switch document.discriminator {
            case "PUBLIC KEY": return try CounterPublicKey(der: document.derBytes)
            case "CERTIFICATE":
                // swift-certificates does not read SM2 keys in certificates: OpenSSL takes the key out first.
                if let spki = SM2Key.certificatePublicKey(document.derBytes), SM2Key.isPublicKey(spki) { return try CounterPublicKey(der: spki) }
                return try CounterPublicKey(try Certificate(derEncoded: document.derBytes).publicKey)
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

    /// Whether `signature` (Ed25519's raw 64 bytes, DER ECDSA over SHA-256, or DER SM2 with SM3) signs `bytes` with this key.
    public func isValidSignature(_ signature: [UInt8], for bytes: [UInt8]) -> Bool {
        guard let key else { return SM2Key.isValidSignature(signature, for: bytes, publicKey: der) }
        return key.isValidSignature(signature, for: bytes, signatureAlgorithm: algorithm == .ed25519 ? .ed25519 : .ecdsaWithSHA256)
    }
}
