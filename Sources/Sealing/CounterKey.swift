import CounterKitCore
import Crypto
import Foundation
import SwiftASN1
import SystemPackage
import X509

#if canImport(Glibc)
    import Glibc
#endif

/// The sealing family's name of the one error type.
public typealias SealError = CounterKitError

/// An algorithm the counter's key signs with.
public enum SealAlgorithm: String, Sendable, CaseIterable, Codable {
    /// Ed25519 (RFC 8032): signatures are the raw 64 bytes.
    case ed25519
    /// ECDSA on P-256 over SHA-256: signatures are DER-encoded.
    case p256
    /// SM2 with SM3 (GB/T 32918, GB/T 35276's default signer id `1234567812345678`): signatures are DER-encoded, and
    /// manifests carry the data's SM3 beside its SHA-256.
    case sm2

    /// The name a signature's `algorithm` field carries.
    public var signatureName: String {
        switch self {
        case .ed25519: "ed25519"
        case .p256: "ecdsa-p256-sha256"
        case .sm2: "sm2-sm3"
        }
    }
}

/// The counter's signing key: which counter captured an attachment. Kept as a PKCS#8 PEM file that only its owner
/// can read (0600); its public half, and the key id that names it (the hex SHA-256 of the public key's
/// SubjectPublicKeyInfo DER), are what the back office is given.
///
/// ```swift
/// let key = try CounterKey.generate(.ed25519)
/// try key.write(to: "/etc/counterkit/seal.key")
/// print(key.keyID, key.publicKeyPEM)
/// ```
public struct CounterKey: Sendable {
    /// The key's raw private scalar (Ed25519's 32-byte seed, P-256's 32-byte scalar): swift-crypto's key types are
    /// made from it where they are used, as they are not `Sendable` on every platform. SM2 keys are OpenSSL's.
    private enum Backing: Sendable {
        case ed25519([UInt8])
        case p256([UInt8])
        case sm2(SM2Key)
        case token(TokenKey)
    }

    private let backing: Backing

    private static func ed25519(_ raw: [UInt8]) -> Curve25519.Signing.PrivateKey {
        // Made from a key of this type: the raw bytes are always a valid seed.
        try! Curve25519.Signing.PrivateKey(rawRepresentation: raw)
    }

    private static func p256(_ raw: [UInt8]) -> P256.Signing.PrivateKey {
        // Made from a key of this type: the raw bytes are always a valid scalar.
        try! P256.Signing.PrivateKey(rawRepresentation: raw)
    }

    /// The signing algorithm.
    public var algorithm: SealAlgorithm {
        switch backing {
        case .ed25519: .ed25519
        case .p256: .p256
        case .sm2: .sm2
        case .token(let key): key.algorithm
        }
    }

    /// Where a key is, fit to print or log: a `pkcs11:` URI's `pin-value` is left out; a file path is kept.
    public static func printableLocation(_ location: String) -> String {
        location.hasPrefix("pkcs11:") ? TokenKey.redacted(location) : location
    }

    /// Whether the key lives in a PKCS#11 token (it signs there and cannot be exported).
    public var isInToken: Bool {
        if case .token = backing { return true }
        return false
    }

    /// The key as swift-certificates holds it (to serialize it and to sign certificates); nil for SM2, which it does
    /// not know.
    private var privateKey: Certificate.PrivateKey? {
        switch backing {
        case .ed25519(let raw): Certificate.PrivateKey(Self.ed25519(raw))
        case .p256(let raw): Certificate.PrivateKey(Self.p256(raw))
        case .sm2, .token: nil
        }
    }

    /// A new random key (`internal` only if OpenSSL cannot make an SM2 key).
    public static func generate(_ algorithm: SealAlgorithm) throws(SealError) -> CounterKey {
        switch algorithm {
        case .ed25519: CounterKey(backing: .ed25519(Array(Curve25519.Signing.PrivateKey().rawRepresentation)))
        case .p256: CounterKey(backing: .p256(Array(P256.Signing.PrivateKey().rawRepresentation)))
        case .sm2: CounterKey(backing: .sm2(try SM2Key.generate()))
        }
    }

    /// The key in a PKCS#8 PEM file: readable by its owner only, else `access_denied` naming the file and the fix. A
    /// `pkcs11:` URI (RFC 7512) opens a key in a PKCS#11 token instead (P-256 or Ed25519; the URI gives the PIN with
    /// `pin-source=` or `pin-value=`): `not_found` when the token is absent, `access_denied` when it refuses the PIN.
    public static func load(from path: String) throws(SealError) -> CounterKey {
        if path.hasPrefix("pkcs11:") { return CounterKey(backing: .token(try TokenKey.open(path))) }
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw SealError.lastSystemCall(.notFound, "cannot read the counter key \(path) (create one with `counterkit keys init`)")
        }
        guard status.st_mode & S_IFMT == S_IFREG else { throw SealError(.invalidValue, "the counter key \(path) is not a file") }
        guard status.st_mode & 0o077 == 0 else {
            throw SealError(
                .accessDenied,
                "the counter key \(path) can be read by others (mode \(String(status.st_mode & 0o777, radix: 8))); "
                    + "only its owner may: chmod 600 \(path)")
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw SealError(.accessDenied, "cannot read the counter key \(path): \(error.localizedDescription)")
        }
        return try parse(text, from: path)
    }

    /// The key in PKCS#8 PEM text (`from` names where it came from in errors).
    public static func parse(_ pem: String, from source: String = "the key") throws(SealError) -> CounterKey {
        let document: PEMDocument
        do { document = try PEMDocument(pemString: pem) } catch { throw SealError(.invalidValue, "\(source) is not a PEM file") }
        guard document.discriminator == "PRIVATE KEY" else {
            throw SealError(.invalidValue, "\(source) holds a \(document.discriminator), not a PKCS#8 private key (BEGIN PRIVATE KEY)")
        }
        // PKCS#8 (RFC 5208/5958): SEQUENCE { version, AlgorithmIdentifier { OID, parameters }, OCTET STRING privateKey, … }.
        let algorithm: ASN1ObjectIdentifier, curve: ASN1ObjectIdentifier?, inner: ArraySlice<UInt8>
        do {
            (algorithm, curve, inner) = try DER.sequence(try DER.parse(document.derBytes), identifier: .sequence) { nodes in
                _ = try Int(derEncoded: &nodes)
                guard let identifier = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "no algorithm") }
                let (oid, curve) = try DER.sequence(identifier, identifier: .sequence) { fields in
                    let oid = try ASN1ObjectIdentifier(derEncoded: &fields)
                    // An EC key's parameters name its curve; other keys have none, or not an OID.
                    let curve = fields.next().flatMap { try? ASN1ObjectIdentifier(derEncoded: $0) }
                    while fields.next() != nil {}
                    return (oid, curve)
                }
                let key = try ASN1OctetString(derEncoded: &nodes)
                while nodes.next() != nil {}
                return (oid, curve, key.bytes)
            }
        } catch {
            throw SealError(.invalidValue, "\(source) is not a well-formed PKCS#8 private key (\(error))")
        }
        do {
            switch algorithm {
            case [1, 3, 101, 112]:  // id-Ed25519 (RFC 8410): the privateKey is an OCTET STRING of the 32-byte seed.
                let seed = try ASN1OctetString(derEncoded: Array(inner))
                return CounterKey(backing: .ed25519(Array(try Curve25519.Signing.PrivateKey(rawRepresentation: seed.bytes).rawRepresentation)))
            case [1, 2, 840, 10045, 2, 1] where curve == Self.sm2Curve:  // id-ecPublicKey on the SM2 curve: OpenSSL's.
                return CounterKey(backing: .sm2(try SM2Key.parse(pem, from: source)))
            case [1, 2, 840, 10045, 2, 1]:  // id-ecPublicKey: swift-crypto reads the P-256 key itself.
                return CounterKey(backing: .p256(Array(try P256.Signing.PrivateKey(pemRepresentation: pem).rawRepresentation)))
            default:
                throw SealError(.invalidValue, "\(source) is a key of algorithm \(algorithm); the counter key is ed25519, p256 or sm2")
            }
        } catch let error as SealError {
            throw error
        } catch {
            throw SealError(.invalidValue, "\(source) is not a usable ed25519, p256 or sm2 key (\(error))")
        }
    }

    /// The SM2 curve's OID (GB/T 33560: 1.2.156.10197.1.301), an EC key's parameter.
    static let sm2Curve: ASN1ObjectIdentifier = [1, 2, 156, 10197, 1, 301]

    /// The private key as PKCS#8 PEM.
    public var privateKeyPEM: String {
        get throws(SealError) {
            if case .sm2(let key) = backing { return Self.lines(try key.pkcs8PEM) }
            if case .token = backing { throw SealError(.invalidValue, "the counter key lives in a PKCS#11 token and cannot be exported") }
            do { return Self.lines(try privateKey!.serializeAsPEM().pemString) } catch { throw SealError(.internal, "cannot encode the key: \(error)") }
        }
    }

    /// The public key's SubjectPublicKeyInfo, DER.
    public var publicKeyDER: [UInt8] {
        if case .sm2(let key) = backing { return key.publicKeyDER }
        if case .token(let key) = backing { return key.publicKeyDER }
        var serializer = DER.Serializer()
        // Serializing a key this type made cannot fail.
        try? serializer.serialize(privateKey!.publicKey)
        return serializer.serializedBytes
    }

    /// The public key as PEM (`PUBLIC KEY`), as `openssl pkey -pubout` writes it.
    public var publicKeyPEM: String { Self.lines(PEMDocument(type: "PUBLIC KEY", derBytes: publicKeyDER).pemString) }

    /// PEM text as files hold it: ending with a newline.
    private static func lines(_ pem: String) -> String { pem.hasSuffix("\n") ? pem : pem + "\n" }

    /// The public half, to verify with.
    public var publicKey: CounterPublicKey {
        // A key this type made is always an ed25519, p256 or sm2 key.
        try! CounterPublicKey(der: publicKeyDER)
    }

    /// The key id: the hex SHA-256 of the public key's SubjectPublicKeyInfo DER.
    public var keyID: String { SHA256.hash(data: publicKeyDER).map { String(format: "%02x", $0) }.joined() }

    /// Signs `bytes`: Ed25519's raw 64 bytes, a DER ECDSA signature over their SHA-256, or a DER SM2 signature with SM3.
    public func signature(for bytes: [UInt8]) throws(SealError) -> [UInt8] {
        do {
            switch backing {
            case .ed25519(let raw): return Array(try Self.ed25519(raw).signature(for: bytes))
            case .p256(let raw): return Array(try Self.p256(raw).signature(for: bytes).derRepresentation)
            case .sm2(let key): return try key.signature(for: bytes)
            case .token(let key): return try key.signature(for: bytes)
            }
        } catch let error as SealError {
            throw error
        } catch {
            throw SealError(.internal, "signing failed: \(error)")
        }
    }

    /// Writes the private key to `path` as PKCS#8 PEM, mode 0600; an existing file is `already_exists` unless `replacing`
    /// (then replaced whole, never half-written).
    public func write(to path: String, replacing: Bool = false) throws(SealError) {
        let pem = Array(try privateKeyPEM.utf8)
        if replacing {
            let written = pem.withUnsafeBytes { bytes in Result { () throws(Errno) in try replaceFile(at: path, with: bytes, permissions: .ownerReadWrite) } }
            do throws(Errno) { try written.get() } catch { throw SealError(.ioError, "cannot write the counter key \(path)", error) }
            return
        }
        do throws(Errno) {
            let file = try FileDescriptor.openClosingOnExec(path, .writeOnly, options: [.create, .exclusiveCreate, .noFollow], permissions: .ownerReadWrite)
            defer { try? file.close() }
            do { _ = try file.writeAll(pem) } catch { throw error as? Errno ?? .ioError }
            try file.sync()
        } catch .fileExists {
            throw SealError(
                .invalidValue, "\(path) already exists; keep it, or replace it with --force (attachments it signed still verify with its public key)")
        } catch {
            unlink(path)
            throw SealError(.ioError, "cannot write the counter key \(path)", error)
        }
    }

    /// A self-signed X.509 certificate of this key for `subject` (`CN=…, O=…, C=…`), valid from now for `years`, as PEM.
    public func selfSignedCertificate(subject: String, years: Int = 10, now: Date = Date()) throws(SealError) -> String {
        let attributes = try Self.subjectAttributes(subject)
        guard let privateKey else {
            guard case .sm2(let key) = backing else {
                throw SealError(.invalidValue, "a key in a PKCS#11 token cannot sign certificates here: have the token's tools or the CA make one")
            }
            return Self.lines(try key.selfSignedCertificate(attributes: attributes, days: Int(Double(years) * 365.25)))
        }
        let name = try Self.distinguishedName(attributes)
        do {
            var serial = [UInt8](repeating: 0, count: 16)
            for index in serial.indices { serial[index] = UInt8.random(in: 0...255) }
            serial[0] &= 0x7f
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(bytes: serial), publicKey: privateKey.publicKey,
                notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(years) * 365.25 * 86400),
                issuer: name, subject: name,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true, nonRepudiation: true))
                    SubjectKeyIdentifier(hash: privateKey.publicKey)
                },
                issuerPrivateKey: privateKey)
            return Self.lines(try certificate.serializeAsPEM().pemString)
        } catch {
            throw SealError(.internal, "cannot make the certificate: \(error)")
        }
    }

    /// `CN=…, O=…, OU=…, L=…, ST=…, C=…` as attribute types and values; anything else is `invalid_value`.
    static func subjectAttributes(_ text: String) throws(SealError) -> [(String, String)] {
        var attributes: [(String, String)] = []
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, !pair[1].isEmpty else {
                throw SealError(.invalidValue, "--cert expects a subject such as \"CN=Counter 3, O=Town service centre, C=CN\", got '\(text)'")
            }
            let type = pair[0].uppercased()
            guard ["CN", "O", "OU", "L", "ST", "C"].contains(type) else {
                throw SealError(.invalidValue, "--cert: unknown attribute \(pair[0]) (CN, O, OU, L, ST, C)")
            }
            attributes.append((type, pair[1]))
        }
        guard attributes.contains(where: { $0.0 == "CN" }) else { throw SealError(.invalidValue, "--cert needs a CN=…, got '\(text)'") }
        return attributes
    }

    /// Subject attributes as a distinguished name.
    static func distinguishedName(_ attributes: [(String, String)]) throws(SealError) -> DistinguishedName {
        do {
            return try DistinguishedName {
                for (type, value) in attributes {
                    switch type {
                    case "CN": CommonName(value)
                    case "O": OrganizationName(value)
                    case "OU": OrganizationalUnitName(value)
                    case "L": LocalityName(value)
                    case "ST": StateOrProvinceName(value)
                    default: CountryName(value)  // "C": the types were checked above
                    }
                }
            }
        } catch let error as SealError {
            throw error
        } catch {
            throw SealError(.invalidValue, "--cert: \(error)")
        }
    }
}
