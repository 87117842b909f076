import Attachments
import CounterKitCore
import Crypto
import Foundation

/// What a successful check of a sealed attachment established.
public struct SealReport: Sendable, Equatable {
    /// The attachment's manifest, as signed.
    public var manifest: AttachmentManifest
    /// The key that signed it.
    public var keyID: String
    /// The signature's algorithm name.
    public var algorithm: String
    /// Whether the data's bytes were checked too (size, SHA-256 and, when the manifest names it, SM3).
    public var dataChecked: Bool
    /// Whether the envelope's bytes were checked against the manifest (when only the envelope is left).
    public var envelopeChecked = false

    /// One line for people: `valid: <id> (<kind> <format>, N bytes) signed by <key id> (<algorithm>)…`.
    public var summary: String {
        "valid: \(manifest.id) (\(manifest.kind.rawValue) \(manifest.format.rawValue), \(manifest.byteCount) bytes) "
            + "signed by key \(keyID) (\(algorithm))"
            + (dataChecked
                ? "; its data matches SHA-256 \(manifest.sha256)" + (manifest.sm3.map { " and SM3 \($0)" } ?? "")
                : envelopeChecked
                    ? "; its envelope matches SHA-256 \(manifest.sealed?.sha256 ?? "") (the plaintext was removed after its retention)"
                    : "; data not checked")
    }
}

/// Checks a sealed attachment as the back office receives it: a manifest's exact bytes, its signature record and,
/// when given, its data. Every failure is `seal_invalid` naming what failed.
public enum SealCheck {
    /// Checks `signature` (the JSON record `GET /v1/attachments/{id}/signature` serves) over `manifest` with `key`,
    /// and, with `data`, that the data has the manifest's size and SHA-256 (and SM3, when the manifest names one).
    public static func verify(
        manifest: [UInt8], signature: [UInt8], key: CounterPublicKey, data: (any Sequence<[UInt8]>)? = nil
    ) throws(SealError) -> SealReport {
        guard let record = SignatureRecord.decode(signature), let raw = record.signatureBytes else {
            throw SealError(.sealInvalid, "the signature is not a CounterKit signature record ({\"algorithm\", \"keyId\", \"signature\"})")
        }
        guard record.keyId == key.keyID else {
            throw SealError(.sealInvalid, "the signature was made by key \(record.keyId), not by the given key \(key.keyID)")
        }
        guard record.algorithm == key.algorithm.signatureName else {
            throw SealError(.sealInvalid, "the signature says \(record.algorithm), but the key is \(key.algorithm.signatureName)")
        }
        guard key.isValidSignature(raw, for: manifest) else {
            throw SealError(.sealInvalid, "the signature does not verify over the manifest: the manifest or the signature was changed")
        }
        guard let decoded = try? AttachmentManifest.makeDecoder().decode(AttachmentManifest.self, from: Data(manifest)) else {
            throw SealError(.sealInvalid, "the manifest verifies but is not a CounterKit manifest")
        }
        guard decoded.keyId == record.keyId else {
            throw SealError(.sealInvalid, "the manifest names key \(decoded.keyId ?? "none"), not its signer \(record.keyId)")
        }
        var report = SealReport(manifest: decoded, keyID: record.keyId, algorithm: record.algorithm, dataChecked: false)
        guard let data else { return report }
        var hasher = SHA256()
        let sm3 = decoded.sm3 != nil ? SM3.Hasher() : nil
        if decoded.sm3 != nil && sm3 == nil { throw SealError(.internal, "the manifest names an SM3, and this OpenSSL has no SM3 to check it") }
        var size = 0
        for block in data {
            hasher.update(data: block)
            sm3?.update(block)
            size += block.count
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        guard size == decoded.byteCount, digest == decoded.sha256 else {
            throw SealError(
                .sealInvalid,
                "the data does not match the manifest: \(size) bytes with SHA-256 \(digest), the manifest says \(decoded.byteCount) bytes with \(decoded.sha256)"
            )
        }
        if let expected = decoded.sm3, let actual = sm3?.hex(), actual != expected {
            throw SealError(.sealInvalid, "the data does not match the manifest: its SM3 is \(actual), the manifest says \(expected)")
        }
        report.dataChecked = true
        return report
    }

    /// Checks an envelope's bytes against a verified manifest (when only the envelope is left to check).
    public static func checkEnvelope(_ envelope: [UInt8], of report: SealReport) throws(SealError) -> SealReport {
        guard let sealed = report.manifest.sealed else { throw SealError(.sealInvalid, "the manifest names no envelope") }
        let digest = SHA256.hash(data: envelope).map { String(format: "%02x", $0) }.joined()
        guard envelope.count == sealed.byteCount, digest == sealed.sha256 else {
            throw SealError(
                .sealInvalid,
                "the envelope does not match the manifest: \(envelope.count) bytes with SHA-256 \(digest), the manifest says \(sealed.byteCount) bytes with \(sealed.sha256)"
            )
        }
        var checked = report
        checked.envelopeChecked = true
        return checked
    }

    /// Checks files as the back office keeps them: the manifest, the signature record and optionally the data.
    public static func verifyFiles(manifest: String, signature: String, data: String?, key: CounterPublicKey) throws(SealError) -> SealReport {
        let manifestBytes = try read(manifest, "manifest"), signatureBytes = try read(signature, "signature")
        guard let data else { return try verify(manifest: manifestBytes, signature: signatureBytes, key: key) }
        guard let handle = FileHandle(forReadingAtPath: data) else { throw SealError(.notFound, "cannot read the data file \(data)") }
        defer { try? handle.close() }
        let blocks = AnySequence<[UInt8]> {
            AnyIterator { () -> [UInt8]? in
                let block = (try? handle.read(upToCount: 1 << 20)) ?? nil
                return block.flatMap { $0.isEmpty ? nil : Array($0) }
            }
        }
        do throws(SealError) {
            return try verify(manifest: manifestBytes, signature: signatureBytes, key: key, data: blocks)
        } catch  where error.code == .sealInvalid && error.message.hasPrefix("the data") {
            throw SealError(.sealInvalid, "\(data): \(error.message)")
        }
    }

    private static func read(_ path: String, _ what: String) throws(SealError) -> [UInt8] {
        guard let bytes = FileManager.default.contents(atPath: path) else { throw SealError(.notFound, "cannot read the \(what) file \(path)") }
        return Array(bytes)
    }
}
