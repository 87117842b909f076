import Foundation

/// A counter key's signature over exact bytes: a manifest's (`<id>.signature.json` beside `<id>.manifest.json`, as
/// `GET /v1/attachments/{id}/signature` serves it) or an audit entry's.
public struct SignatureRecord: Sendable, Equatable, Codable {
    /// `ed25519` (the raw 64 bytes), `ecdsa-p256-sha256` or `sm2-sm3` (both DER-encoded).
    public var algorithm: String
    /// The signing key's id: the hex SHA-256 of its SubjectPublicKeyInfo DER.
    public var keyId: String
    /// The signature, base64.
    public var signature: String

    /// Creates a signature record.
    public init(algorithm: String, keyId: String, signature: [UInt8]) {
        self.algorithm = algorithm
        self.keyId = keyId
        self.signature = Data(signature).base64EncodedString()
    }

    /// The signature's bytes; nil when `signature` is not base64.
    public var signatureBytes: [UInt8]? { Data(base64Encoded: signature).map { Array($0) } }

    /// The record as it is stored and served: compact JSON with sorted keys.
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Three strings always encode.
        return Array(try! encoder.encode(self))
    }

    /// A stored or served record; nil when `bytes` are not one.
    public static func decode(_ bytes: some Collection<UInt8>) -> SignatureRecord? {
        try? JSONDecoder().decode(SignatureRecord.self, from: Data(bytes))
    }
}

/// What signs with the counter key: the seam through which a sealed spool's every attachment passes, from every
/// capture path (scans, photos, signatures, document stages, the ID card page), and what signs the audit log.
/// CounterKit's own is the `Sealing` module's `CounterSealer`; the store knows only this protocol.
public protocol CounterSigning: Sendable {
    /// The id of the key that signs now; every manifest it signs names it (`keyId`).
    var keyID: String { get }
    /// The name of the algorithm it signs with, as signature records carry it (`ed25519`, `ecdsa-p256-sha256`, `sm2-sm3`).
    var algorithm: String { get }
    /// Signs exact bytes (a manifest's, an audit entry's).
    func sign(_ bytes: [UInt8]) throws(AttachmentError) -> SignatureRecord
    /// Whether `signature` is a valid signature of `bytes` by a key this signer knows (its own, or an earlier key
    /// whose public half it keeps); false for a key it does not know.
    func isValid(_ signature: SignatureRecord, for bytes: [UInt8]) -> Bool
    /// A running SM3 for an attachment's data, when the key's algorithm pairs with it (SM2): the store feeds it the
    /// bytes as they are written and the manifest carries it beside the SHA-256. Nil for other keys (the default).
    func makeSM3() -> (any RunningDigest)?
}

extension CounterSigning {
    /// No SM3: only an SM2 signer names it.
    public func makeSM3() -> (any RunningDigest)? { nil }
}

/// A digest fed block by block as an attachment is written (the SM3 an SM2 signer asks for).
public protocol RunningDigest: AnyObject {
    /// Adds bytes.
    func update(_ bytes: UnsafeRawBufferPointer)
    /// The lowercase hex digest of everything added.
    func hex() -> String
}

/// Whether a stored attachment is as it was committed.
public enum AttachmentIntegrity: String, Sendable, Codable {
    /// Its data has the manifest's size (and, when checked, SHA-256) and, in a sealed spool, its signature verifies.
    case intact
    /// Its data, manifest or signature was changed after it was committed: it is never served as valid.
    case broken
}

/// What encrypts a stored attachment's data one-way, for the back office (the `Sealing` module's
/// `EnvelopeRecipient`): the same seam as ``CounterSigning``, taken by every capture path.
public protocol EnvelopeSealing: Sendable {
    /// The recipient's id (the hex SHA-256 of its certificate's SubjectPublicKeyInfo), named in manifests.
    var recipientID: String { get }
    /// The content encryption's name (`aes-256-gcm`), named in manifests.
    var contentEncryption: String { get }
    /// Encrypts the file at `input` into a new file at `output` and returns the envelope's size and SHA-256 (lowercase
    /// hex), counted as it was written; a failure leaves no `output`.
    func seal(file input: String, to output: String) throws(AttachmentError) -> (byteCount: Int, sha256: String)
    /// An envelope at `output` that is written as the attachment is (``EnvelopeStream``); nil when this sealer only
    /// seals finished files (the default).
    func openStream(to output: String) throws(AttachmentError) -> (any EnvelopeStream)?
}

/// The envelope made of an attachment's data for the back office (`<id>.p7m`, CMS), as its manifest describes it.
public struct SealedCopy: Sendable, Equatable, Codable {
    /// The envelope's file name in the spool.
    public var fileName: String
    /// Its size in bytes.
    public var byteCount: Int
    /// Its SHA-256, lowercase hex.
    public var sha256: String
    /// The recipient's id (the hex SHA-256 of its certificate's SubjectPublicKeyInfo).
    public var recipient: String
    /// The content encryption (`aes-256-gcm`).
    public var encryption: String

    /// Describes an envelope.
    public init(fileName: String, byteCount: Int, sha256: String, recipient: String, encryption: String) {
        self.fileName = fileName
        self.byteCount = byteCount
        self.sha256 = sha256
        self.recipient = recipient
        self.encryption = encryption
    }
}
