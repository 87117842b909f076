import Attachments
import CLibcrypto
import CounterKitCore
import Foundation

/// An SM2 private key (GB/T 32918) held by OpenSSL's libcrypto, which signs with it: SM2 with SM3 and the default
/// signer id `1234567812345678` of GB/T 35276, DER-encoded. swift-crypto has no SM2; OpenSSL is the implementation
/// Debian ships and the back office checks with.
final class SM2Key: @unchecked Sendable {
    // An EVP_PKEY: OpenSSL's keys may be used from several threads at once as long as nobody changes them, and this
    // one is never changed after it is made.
    private let handle: UnsafeMutableRawPointer

    private init(handle: UnsafeMutableRawPointer) { self.handle = handle }

    deinit { ck_sm2_free(handle) }

    /// A new random key.
    static func generate() throws(SealError) -> SM2Key {
        try withErrorBuffer { error throws(SealError) in
            guard let handle = ck_sm2_generate(error, errorLength) else { throw SealError(.internal, String(cString: error)) }
            return SM2Key(handle: handle)
        }
    }

    /// The key in PKCS#8 PEM text (`source` names it in errors).
    static func parse(_ pem: String, from source: String) throws(SealError) -> SM2Key {
        let bytes = Array(pem.utf8)
        return try withErrorBuffer { error throws(SealError) in
            let handle = bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { ck_sm2_read_private($0.baseAddress, $0.count, error, errorLength) }
            }
            guard let handle else { throw SealError(.invalidValue, "\(source) is not a usable sm2 key (\(String(cString: error)))") }
            return SM2Key(handle: handle)
        }
    }

    /// The key as PKCS#8 PEM.
    var pkcs8PEM: String {
        get throws(SealError) {
            var pem: UnsafeMutablePointer<CChar>?
            var length = 0
            guard ck_sm2_private_pem(handle, &pem, &length) == 0, let pem else { throw SealError(.internal, "cannot encode the sm2 key") }
            defer { ck_release(pem) }
            return String(decoding: UnsafeRawBufferPointer(start: pem, count: length), as: UTF8.self)
        }
    }

    /// The public key's SubjectPublicKeyInfo, DER.
    var publicKeyDER: [UInt8] {
        var der: UnsafeMutablePointer<UInt8>?
        var length = 0
        // Encoding the public half of a key OpenSSL holds fails only when memory does.
        guard ck_sm2_public_der(handle, &der, &length) == 0, let der else { return [] }
        defer { ck_release(der) }
        return Array(UnsafeBufferPointer(start: der, count: length))
    }

    /// The DER SM2-with-SM3 signature of `bytes`.
    func signature(for bytes: [UInt8]) throws(SealError) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: 80)
        var length = 0
        let handle = self.handle
        try Self.withErrorBuffer { error throws(SealError) in
            let status = bytes.withUnsafeBufferPointer { message in
                signature.withUnsafeMutableBufferPointer { out in
                    ck_sm2_sign(handle, message.baseAddress, message.count, out.baseAddress, &length, error, errorLength)
                }
            }
            guard status == 0 else { throw SealError(.internal, String(cString: error)) }
        }
        return Array(signature.prefix(length))
    }

    /// A self-signed certificate of this key (PEM) for the subject's `attributes` (`CN`, `O`, … and their values).
    func selfSignedCertificate(attributes: [(String, String)], days: Int) throws(SealError) -> String {
        let names = attributes.map { strdup($0.0) }, values = attributes.map { strdup($0.1) }
        defer { (names + values).forEach { free($0) } }
        let handle = self.handle
        return try Self.withErrorBuffer { error throws(SealError) in
            var pem: UnsafeMutablePointer<CChar>?
            var length = 0
            let status = names.map { UnsafePointer($0) }.withUnsafeBufferPointer { names in
                values.map { UnsafePointer($0) }.withUnsafeBufferPointer { values in
                    ck_sm2_certificate(handle, names.baseAddress, values.baseAddress, attributes.count, days, &pem, &length, error, errorLength)
                }
            }
            guard status == 0, let pem else { throw SealError(.internal, "cannot make the certificate: \(String(cString: error))") }
            defer { ck_release(pem) }
            return String(decoding: UnsafeRawBufferPointer(start: pem, count: length), as: UTF8.self)
        }
    }

    /// Whether `signature` (DER) is the SM2-with-SM3 signature of `bytes` by the key in `publicKey` (SubjectPublicKeyInfo DER).
    static func isValidSignature(_ signature: [UInt8], for bytes: [UInt8], publicKey: [UInt8]) -> Bool {
        publicKey.withUnsafeBufferPointer { key in
            bytes.withUnsafeBufferPointer { message in
                signature.withUnsafeBufferPointer {
                    ck_sm2_verify(key.baseAddress, key.count, message.baseAddress, message.count, $0.baseAddress, $0.count) == 1
                }
            }
        }
    }

    /// Whether `publicKey` (SubjectPublicKeyInfo DER) is an SM2 public key.
    static func isPublicKey(_ publicKey: [UInt8]) -> Bool {
        publicKey.withUnsafeBufferPointer { ck_sm2_is_public_key($0.baseAddress, $0.count) == 1 }
    }

    /// The SubjectPublicKeyInfo DER of a certificate's key (DER), read by OpenSSL; nil if it is not a certificate.
    static func certificatePublicKey(_ certificate: [UInt8]) -> [UInt8]? {
        var der: UnsafeMutablePointer<UInt8>?
        var length = 0
        let status = certificate.withUnsafeBufferPointer { ck_certificate_public_key($0.baseAddress, $0.count, &der, &length) }
        guard status == 0, let der else { return nil }
        defer { ck_release(der) }
        return Array(UnsafeBufferPointer(start: der, count: length))
    }

    private static let errorLength = 512
    private var errorLength: Int { Self.errorLength }

    /// Runs `body` with a buffer for OpenSSL's error message.
    private static func withErrorBuffer<T>(_ body: (UnsafeMutablePointer<CChar>) throws(SealError) -> T) throws(SealError) -> T {
        let error = UnsafeMutablePointer<CChar>.allocate(capacity: errorLength)
        defer { error.deallocate() }
        error.initialize(repeating: 0, count: errorLength)
        return try body(error)
    }
}

/// SM3 (GB/T 32905) digests, through OpenSSL: the `sm3` a manifest signed with an SM2 key carries beside its `sha256`.
public enum SM3 {
    /// An SM3 digest fed block by block.
    public final class Hasher: RunningDigest, @unchecked Sendable {
        // An EVP_MD_CTX this object alone uses.
        private let context: UnsafeMutableRawPointer

        /// A new, empty digest (`nil` only if OpenSSL has no SM3).
        public init?() {
            guard let context = ck_sm3_begin() else { return nil }
            self.context = context
        }

        deinit { ck_sm3_free(context) }

        /// Adds bytes.
        public func update(_ bytes: [UInt8]) { bytes.withUnsafeBufferPointer { ck_sm3_update(context, $0.baseAddress, $0.count) } }

        /// Adds bytes.
        public func update(_ bytes: UnsafeRawBufferPointer) {
            ck_sm3_update(context, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        }

        /// The lowercase hex digest of everything added (the digest then starts again, empty).
        public func hex() -> String {
            var digest = [UInt8](repeating: 0, count: 32)
            digest.withUnsafeMutableBufferPointer { ck_sm3_finish(context, $0.baseAddress) }
            return digest.map { String(format: "%02x", $0) }.joined()
        }
    }

    /// The lowercase hex SM3 of the file at `path`, streamed.
    public static func hex(ofFileAt path: String) throws(SealError) -> String {
        guard let hasher = Hasher() else { throw SealError(.internal, "this OpenSSL has no SM3") }
        guard let file = FileHandle(forReadingAtPath: path) else { throw SealError.lastSystemCall(.ioError, "cannot read \(path) for its SM3") }
        defer { try? file.close() }
        do {
            while let block = try file.read(upToCount: 1 << 16), !block.isEmpty { hasher.update(Array(block)) }
        } catch {
            throw SealError(.ioError, "cannot read \(path) for its SM3: \(error.localizedDescription)")
        }
        return hasher.hex()
    }

    /// The lowercase hex SM3 of `bytes`.
    public static func hex(of bytes: [UInt8]) -> String? {
        guard let hasher = Hasher() else { return nil }
        hasher.update(bytes)
        return hasher.hex()
    }
}
