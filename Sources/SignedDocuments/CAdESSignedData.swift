import Crypto
import Foundation
import Sealing
import SwiftASN1
import X509

/// The CMS (RFC 5652) SignedData of a PAdES baseline B-B signature (ETSI EN 319 142-1, CAdES as ETSI EN 319 122-1
/// profiles it): detached content (the PDF's byte range), signed attributes content-type, message-digest and
/// signing-certificate-v2 (no signing-time: PAdES takes the time from the signature dictionary's `/M`), the signer's
/// certificate chain, and the signature by the counter key over the DER of the signed attributes. Encoded with
/// swift-asn1; the signature itself is the key's (swift-crypto, or a PKCS#11 token).
enum CAdESSignedData {
    static let idData: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 7, 1]
    static let idSignedData: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 7, 2]
    static let contentType: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 9, 3]
    static let messageDigest: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 9, 4]
    static let signingCertificateV2: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 9, 16, 2, 47]
    static let sha256: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 2, 1]
    static let sha512: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 2, 3]
    static let ecdsaWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 10045, 4, 3, 2]
    static let ed25519: ASN1ObjectIdentifier = [1, 3, 101, 112]

    /// The digest a key's signatures pair with: SHA-256 for ECDSA P-256, SHA-512 for Ed25519 (RFC 8419).
    static func digestAlgorithm(for key: CounterKey) throws(DocumentError) -> (oid: ASN1ObjectIdentifier, digest: @Sendable ([ArraySlice<UInt8>]) -> [UInt8]) {
        switch key.algorithm {
        case .p256:
            return (
                sha256,
                { parts in
                    var hasher = SHA256(); for part in parts { hasher.update(data: part) }; return Array(hasher.finalize())
                }
            )
        case .ed25519:
            return (
                sha512,
                { parts in
                    var hasher = SHA512(); for part in parts { hasher.update(data: part) }; return Array(hasher.finalize())
                }
            )
        case .sm2:
            throw DocumentError(
                .invalidValue, "PDF signatures are made with P-256 or Ed25519 keys; PAdES has no SM2 (make the counter key with --algorithm p256)")
        }
    }

    /// The signature algorithm named in the SignerInfo.
    static func signatureAlgorithm(for key: CounterKey) -> ASN1ObjectIdentifier { key.algorithm == .ed25519 ? ed25519 : ecdsaWithSHA256 }

    /// The DER ContentInfo of a SignedData over content whose digest (by `digestAlgorithm(for:)`) is `digest`, signed by
    /// `key` whose certificate chain (leaf first, DER) is `chain`.
    /// With `timestamp` (which may give no token), the signature value is timestamped (its token an unsigned
    /// attribute, PAdES B-T).
    static func make(
        digest: [UInt8], key: CounterKey, chain: [[UInt8]], timestamp: ((_ signatureValue: [UInt8]) throws(DocumentError) -> [UInt8]?)? = nil
    ) throws(DocumentError) -> [UInt8] {
        guard let leafDER = chain.first else { throw DocumentError(.invalidValue, "the counter key has no certificate to sign documents with") }
        do {
            let leaf = try Certificate(derEncoded: leafDER)
            var issuerSerializer = DER.Serializer()
            try issuerSerializer.serialize(leaf.issuer)
            let issuer = issuerSerializer.serializedBytes
            let serial = Array(leaf.serialNumber.bytes)
            let (digestOID, _) = try digestAlgorithm(for: key)

            // The signed attributes, each encoded, in DER's SET OF order.
            var attributes: [[UInt8]] = []
            attributes.append(try attribute(contentType) { try $0.serialize(idData) })
            attributes.append(try attribute(messageDigest) { try $0.serialize(ASN1OctetString(contentBytes: ArraySlice(digest))) })
            attributes.append(
                try attribute(signingCertificateV2) { coder in
                    // SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { certHash (SHA-256, the default), issuerSerial } }
                    try coder.appendConstructedNode(identifier: .sequence) { coder in
                        try coder.appendConstructedNode(identifier: .sequence) { coder in
                            try coder.appendConstructedNode(identifier: .sequence) { coder in
                                try coder.serialize(ASN1OctetString(contentBytes: ArraySlice(SHA256.hash(data: leafDER))))
                                try issuerSerial(issuer: issuer, serial: serial, into: &coder)
                            }
                        }
                    }
                })
            attributes.sort { $0.lexicographicallyPrecedes($1) }
            // What is signed: the attributes as a SET (tag 0x31); in the SignerInfo they are [0] IMPLICIT.
            var signedSet = DER.Serializer()
            try signedSet.appendConstructedNode(identifier: .set) { coder in
                for attribute in attributes { try coder.serialize(try ASN1Any(derEncoded: ArraySlice(attribute))) }
            }
            let signature: [UInt8]
            do throws(SealError) { signature = try key.signature(for: signedSet.serializedBytes) } catch {
                throw DocumentError(error.code, "the counter key could not sign the document: \(error.message)")
            }
            let token = try timestamp?(signature) ?? nil

            var serializer = DER.Serializer()
            try serializer.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(idSignedData)
                try coder.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) { coder in
                    try coder.appendConstructedNode(identifier: .sequence) { coder in
                        try coder.serialize(1)  // version
                        try coder.appendConstructedNode(identifier: .set) { coder in try algorithmIdentifier(digestOID, into: &coder) }
                        try coder.appendConstructedNode(identifier: .sequence) { coder in try coder.serialize(idData) }  // detached
                        try coder.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) { coder in
                            for certificate in chain { try coder.serialize(try ASN1Any(derEncoded: ArraySlice(certificate))) }
                        }
                        try coder.appendConstructedNode(identifier: .set) { coder in
                            try coder.appendConstructedNode(identifier: .sequence) { coder in
                                try coder.serialize(1)  // version: issuerAndSerialNumber
                                try coder.appendConstructedNode(identifier: .sequence) { coder in
                                    try coder.serialize(try ASN1Any(derEncoded: ArraySlice(issuer)))
                                    try coder.serialize(ArraySlice(serial))
                                }
                                try algorithmIdentifier(digestOID, into: &coder)
                                try coder.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) { coder in
                                    for attribute in attributes { try coder.serialize(try ASN1Any(derEncoded: ArraySlice(attribute))) }
                                }
                                try algorithmIdentifier(signatureAlgorithm(for: key), into: &coder)
                                try coder.serialize(ASN1OctetString(contentBytes: ArraySlice(signature)))
                                if let token {
                                    // unsignedAttrs [1]: id-aa-signatureTimeStampToken over the signature value (RFC 3161 appendix A).
                                    try coder.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 1, tagClass: .contextSpecific)) { coder in
                                        try coder.serialize(
                                            try ASN1Any(
                                                derEncoded: ArraySlice(
                                                    try attribute(TimestampAuthority.idTimestampToken) { coder in
                                                        try coder.serialize(try ASN1Any(derEncoded: ArraySlice(token)))
                                                    })))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return serializer.serializedBytes
        } catch let error as DocumentError {
            throw error
        } catch {
            throw DocumentError(.invalidValue, "the counter key's certificate cannot be used in a PDF signature: \(error)")
        }
    }

    /// Attribute ::= SEQUENCE { attrType, attrValues SET OF value }, encoded.
    private static func attribute(_ type: ASN1ObjectIdentifier, _ value: (inout DER.Serializer) throws -> Void) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(type)
            try coder.appendConstructedNode(identifier: .set) { coder in try value(&coder) }
        }
        return serializer.serializedBytes
    }

    /// AlgorithmIdentifier ::= SEQUENCE { algorithm } (SHA-2, ECDSA and EdDSA take no parameters).
    private static func algorithmIdentifier(_ oid: ASN1ObjectIdentifier, into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in try coder.serialize(oid) }
    }

    /// IssuerSerial ::= SEQUENCE { issuer GeneralNames { directoryName [4] Name }, serialNumber }.
    private static func issuerSerial(issuer: [UInt8], serial: [UInt8], into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 4, tagClass: .contextSpecific)) { coder in
                    try coder.serialize(try ASN1Any(derEncoded: ArraySlice(issuer)))
                }
            }
            try coder.serialize(ArraySlice(serial))
        }
    }
}
