import CTokenSigning
import CounterKitCore
import Crypto
import Foundation
import SwiftASN1
import X509

/// A counter key that lives in a PKCS#11 token (a USB key, a smart card, SoftHSM2 in the tests): it signs there and
/// cannot be copied off the PC. Named by a `pkcs11:` URI (RFC 7512); p11-kit loads the token's module.
final class TokenKey: @unchecked Sendable {
    // The token's session; ck_token_sign serializes signatures with its own lock, and nothing else changes it.
    private let handle: OpaquePointer
    /// The key's algorithm: P-256 or Ed25519.
    let algorithm: SealAlgorithm
    /// The public key's SubjectPublicKeyInfo, DER.
    let publicKeyDER: [UInt8]

    private init(handle: OpaquePointer, algorithm: SealAlgorithm, publicKeyDER: [UInt8]) {
        self.handle = handle
        self.algorithm = algorithm
        self.publicKeyDER = publicKeyDER
    }

    deinit { ck_token_close(handle) }

    /// Opens the key `uri` names; `not_found` when the token is absent, `access_denied` when it refuses the PIN,
    /// `invalid_value` for anything else wrong with the URI or the key.
    static func open(_ uri: String) throws(SealError) -> TokenKey {
        var message = [CChar](repeating: 0, count: 512)
        let messageLength = message.count
        var failure: Int32 = 0
        guard let handle = ck_token_open(uri, &failure, &message, messageLength) else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let code: ErrorCode =
                switch failure {
                case Int32(CK_TOKEN_ABSENT): .notFound
                case Int32(CK_TOKEN_PIN_REFUSED): .accessDenied
                default: .invalidValue
                }
            throw SealError(code, "the counter key in the token (\(redacted(uri))): \(text)")
        }
        var point = [UInt8](repeating: 0, count: 256), params = [UInt8](repeating: 0, count: 64)
        var pointLength = point.count, paramsLength = params.count
        guard ck_token_ec_point(handle, &point, &pointLength) == 0, ck_token_ec_params(handle, &params, &paramsLength) == 0 else {
            ck_token_close(handle)
            throw SealError(.invalidValue, "the token's public key cannot be read")
        }
        // CKA_EC_POINT is the point in a DER OCTET STRING (PKCS#11 2.40); some modules give it bare.
        let raw = Array(point.prefix(pointLength))
        let bare = (try? ASN1OctetString(derEncoded: raw)).map { Array($0.bytes) } ?? raw
        let key: Certificate.PublicKey
        let algorithm: SealAlgorithm
        do {
            if ck_token_key_type(handle) == 2 {
                algorithm = .ed25519
                key = Certificate.PublicKey(try Curve25519.Signing.PublicKey(rawRepresentation: bare))
            } else {
                let curve = try ASN1ObjectIdentifier(derEncoded: Array(params.prefix(paramsLength)))
                guard curve == [1, 2, 840, 10045, 3, 1, 7] else {
                    ck_token_close(handle)
                    throw SealError(.invalidValue, "the token's EC key is on curve \(curve), not P-256")
                }
                algorithm = .p256
                key = Certificate.PublicKey(try P256.Signing.PublicKey(x963Representation: bare))
            }
        } catch let error as SealError {
            throw error
        } catch {
            ck_token_close(handle)
            throw SealError(.invalidValue, "the token's public key cannot be read: \(error)")
        }
        var serializer = DER.Serializer()
        do { try serializer.serialize(key) } catch {
            ck_token_close(handle)
            throw SealError(.internal, "cannot encode the token's public key: \(error)")
        }
        return TokenKey(handle: handle, algorithm: algorithm, publicKeyDER: serializer.serializedBytes)
    }

    /// Signs in the token: Ed25519's raw 64 bytes, or a DER ECDSA signature over the bytes' SHA-256.
    func signature(for bytes: [UInt8]) throws(SealError) -> [UInt8] {
        let input = algorithm == .p256 ? Array(SHA256.hash(data: bytes)) : bytes
        var signature = [UInt8](repeating: 0, count: 128)
        var length = signature.count
        var message = [CChar](repeating: 0, count: 256)
        let messageLength = message.count
        let status = input.withUnsafeBufferPointer { input in
            ck_token_sign(handle, input.baseAddress, input.count, &signature, &length, &message, messageLength)
        }
        guard status == 0 else {
            throw SealError(.ioError, String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        let raw = Array(signature.prefix(length))
        guard algorithm == .p256 else { return raw }
        // The token gives r || s; manifests carry DER.
        do { return Array(try P256.Signing.ECDSASignature(rawRepresentation: raw).derRepresentation) } catch {
            throw SealError(.internal, "the token's ECDSA signature is not r || s: \(error)")
        }
    }

    /// The URI with its PIN left out, for messages and logs.
    static func redacted(_ uri: String) -> String {
        uri.replacing(/pin-value=[^&;]*/, with: "pin-value=…")
    }
}
