import CLibcrypto
import Foundation

/// What CounterKit checks of a certificate, as OpenSSL reads it: for the certificates swift-certificates cannot read
/// (SM2 keys) and for certificate chains.
struct CertificateFacts {
    /// The certificate, DER.
    var der: [UInt8]
    var notValidBefore: Date
    var notValidAfter: Date
    /// The key usage bits (X509v3 `KU_*`), nil without the extension.
    var keyUsage: Int?
    var isSM2: Bool
    /// Subject and issuer, RFC 2253.
    var subject: String
    var issuer: String
    /// The certificate's key, SubjectPublicKeyInfo DER.
    var publicKeyDER: [UInt8]

    /// The facts of a DER certificate; nil if OpenSSL does not read it as one.
    init?(der: [UInt8]) {
        var notBefore: Int64 = 0, notAfter: Int64 = 0, usage = 0, isSM2: Int32 = 0
        var subject = [CChar](repeating: 0, count: 1024), issuer = [CChar](repeating: 0, count: 1024)
        let subjectLength = subject.count, issuerLength = issuer.count
        let status = der.withUnsafeBufferPointer { certificate in
            ck_certificate_facts(certificate.baseAddress, certificate.count, &notBefore, &notAfter, &usage, &isSM2, &subject, subjectLength) == 0
                && ck_certificate_issuer(certificate.baseAddress, certificate.count, &issuer, issuerLength) == 0
        }
        guard status, let key = SM2Key.certificatePublicKey(der) else { return nil }
        self.der = der
        notValidBefore = Date(timeIntervalSince1970: TimeInterval(notBefore))
        notValidAfter = Date(timeIntervalSince1970: TimeInterval(notAfter))
        keyUsage = usage >= 0 ? usage : nil
        self.isSM2 = isSM2 == 1
        self.subject = Self.text(subject)
        self.issuer = Self.text(issuer)
        publicKeyDER = key
    }

    private static func text(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
