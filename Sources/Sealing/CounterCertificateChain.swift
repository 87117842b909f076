import CLibcrypto
import CounterKitCore
import Foundation
import SwiftASN1

/// The counter key's certificate chain: the counter's certificate first, then the CAs that issued it. Until the back
/// office's CA issues one, the self-signed certificate `counterkit keys init --cert` writes; then the CA's chain, put
/// in its place beside the key (`seal.crt` beside `seal.key`) or named by `[seal] certificate`.
///
/// ```swift
/// let chain = try CounterCertificateChain.load(from: "/etc/counterkit/seal.crt", for: key.publicKey)
/// print(chain.isSelfSigned ? "self-signed" : "issued by \(chain.issuer)")
/// ```
public struct CounterCertificateChain: Sendable, Equatable {
    /// One certificate of the chain, as people read it.
    public struct Link: Sendable, Equatable, Codable {
        /// Its subject, RFC 2253.
        public var subject: String
        /// Its issuer, RFC 2253.
        public var issuer: String
        /// Valid from.
        public var notValidBefore: Date
        /// Valid until.
        public var notValidAfter: Date
    }

    /// The certificates, DER, the counter's first.
    public let certificates: [[UInt8]]
    /// The same, described.
    public let links: [Link]

    /// Whether the chain is only the counter's own self-signed certificate.
    public var isSelfSigned: Bool { links.count == 1 && links[0].subject == links[0].issuer }
    /// Who issued the counter's certificate.
    public var issuer: String { links[0].issuer }
    /// When the counter's certificate expires.
    public var notValidAfter: Date { links[0].notValidAfter }

    /// The chain as PEM (`application/pem-certificate-chain`, RFC 8555): one `CERTIFICATE` block each, the counter's first.
    public var pem: String { certificates.map { PEMDocument(type: "CERTIFICATE", derBytes: $0).pemString + "\n" }.joined() }

    /// Where `keys init --cert` writes the certificate: beside the key, same name, `.crt`.
    public static func defaultPath(forKey keyPath: String) -> String { (keyPath as NSString).deletingPathExtension + ".crt" }

    /// The chain in the PEM file at `path`, checked: the first certificate is `key`'s, valid now, and each is issued
    /// and signed by the next (OpenSSL checks names, key identifiers and signatures). Anything else is
    /// `invalid_value` naming the file, the certificate and the fix.
    public static func load(from path: String, for key: CounterPublicKey, now: Date = Date()) throws(SealError) -> CounterCertificateChain {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SealError.lastSystemCall(.notFound, "cannot read the counter's certificate chain \(path)")
        }
        return try parse(String(decoding: data, as: UTF8.self), for: key, from: path, now: now)
    }

    /// The chain in PEM text (`source` names it in errors); checked as ``load(from:for:now:)`` says.
    public static func parse(
        _ pem: String, for key: CounterPublicKey, from source: String = "the certificate chain", now: Date = Date()
    ) throws(SealError)
        -> CounterCertificateChain
    {
        let documents: [PEMDocument]
        do { documents = try PEMDocument.parseMultiple(pemString: pem) } catch {
            throw SealError(.invalidValue, "\(source) is not PEM (BEGIN CERTIFICATE blocks, the counter's first): \(error)")
        }
        guard !documents.isEmpty, documents.allSatisfy({ $0.discriminator == "CERTIFICATE" }) else {
            throw SealError(.invalidValue, "\(source) must hold only certificates (BEGIN CERTIFICATE), the counter's first")
        }
        var facts: [CertificateFacts] = []
        for (index, document) in documents.enumerated() {
            guard let read = CertificateFacts(der: document.derBytes) else {
                throw SealError(.invalidValue, "\(source): certificate \(index + 1) cannot be read")
            }
            facts.append(read)
        }
        let leaf = facts[0]
        guard leaf.publicKeyDER == key.der else {
            throw SealError(
                .invalidValue,
                "\(source) certifies key \(CounterPublicKey.keyID(leaf.publicKeyDER)), not the counter key \(key.keyID): "
                    + "put there the certificate the CA issued for this key (its public key: `counterkit keys show`)")
        }
        do throws(SealError) {
            try EnvelopeRecipient.checkValidity(from: leaf.notValidBefore, to: leaf.notValidAfter, of: source, now: now)
        } catch {
            throw SealError(
                error.code,
                error.message.replacingOccurrences(of: "ask the back office for its current certificate", with: "ask the back office's CA for a new one"))
        }
        var failedAt = 0
        var message = [CChar](repeating: 0, count: 1024)
        let messageLength = message.count
        let status = withPointers(to: facts.map(\.der)) { pointers, lengths in
            ck_chain_check(pointers, lengths, facts.count, &failedAt, &message, messageLength)
        }
        guard status == 0 else {
            let why = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw SealError(
                .invalidValue,
                "\(source): certificate \(failedAt + 1) (\(facts[min(failedAt, facts.count - 1)].subject)) does not chain: \(why); "
                    + "keep the counter's certificate first and each issuer after the certificate it issued")
        }
        return CounterCertificateChain(
            certificates: facts.map(\.der),
            links: facts.map { Link(subject: $0.subject, issuer: $0.issuer, notValidBefore: $0.notValidBefore, notValidAfter: $0.notValidAfter) })
    }

    /// Runs `body` with C arrays of the certificates' base addresses and lengths.
    private static func withPointers<T>(to certificates: [[UInt8]], _ body: (UnsafePointer<UnsafePointer<UInt8>?>, UnsafePointer<Int>) -> T) -> T {
        let buffers = certificates.map { certificate -> UnsafeMutableBufferPointer<UInt8> in
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: certificate.count)
            _ = buffer.initialize(from: certificate)
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        let pointers: [UnsafePointer<UInt8>?] = buffers.map { UnsafePointer($0.baseAddress) }
        let lengths = certificates.map(\.count)
        return pointers.withUnsafeBufferPointer { pointers in lengths.withUnsafeBufferPointer { body(pointers.baseAddress!, $0.baseAddress!) } }
    }
}
