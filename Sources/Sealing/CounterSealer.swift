import Attachments
import CounterKitCore
import Foundation

/// Signs a sealed spool's manifests (and its audit log) with the counter key, and verifies them with that key or with an earlier one
/// (after a key change, attachments signed with the old key still verify with its public key).
///
/// ```swift
/// let sealer = try CounterSealer.forSpool(spool, key: try CounterKey.load(from: "/etc/counterkit/seal.key"))
/// let store = try AttachmentStore(directory: spool, signer: sealer)
/// ```
public struct CounterSealer: CounterSigning {
    /// The key that signs.
    public let key: CounterKey
    /// Every key whose signatures verify, by key id: ``key`` and the earlier keys.
    public let knownKeys: [String: CounterPublicKey]

    /// A sealer signing with `key` that also accepts `earlierKeys`' signatures.
    public init(key: CounterKey, earlierKeys: [CounterPublicKey] = []) {
        self.key = key
        var known = Dictionary(earlierKeys.map { ($0.keyID, $0) }, uniquingKeysWith: { first, _ in first })
        known[key.keyID] = key.publicKey
        knownKeys = known
    }

    /// The directory of a spool that keeps the public half of every key that signed in it: `keys/<key id>.pem`.
    public static func keyRing(of spool: URL) -> URL { spool.appendingPathComponent("keys", isDirectory: true) }

    /// A sealer for the spool at `spool`: `key`'s public half is added to the spool's key ring (``keyRing(of:)``)
    /// before anything is signed with it, and every key in the ring verifies.
    public static func forSpool(_ spool: URL, key: CounterKey) throws(SealError) -> CounterSealer {
        let ring = keyRing(of: spool)
        let own = ring.appendingPathComponent("\(key.keyID).pem").path
        do {
            try FileManager.default.createDirectory(at: ring, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: own) {
                let temp = own + ".part"
                try Data(key.publicKeyPEM.utf8).write(to: URL(fileURLWithPath: temp))
                try FileManager.default.moveItem(atPath: temp, toPath: own)
            }
        } catch {
            throw SealError(.ioError, "cannot record the counter key's public half in \(ring.path): \(error.localizedDescription)")
        }
        return CounterSealer(key: key, earlierKeys: ringKeys(of: spool))
    }

    /// The public keys in a spool's key ring (``keyRing(of:)``). A file that is not a key, or not named by its key's
    /// id, verifies nothing and is left out.
    public static func ringKeys(of spool: URL) -> [CounterPublicKey] {
        let ring = keyRing(of: spool)
        var keys: [CounterPublicKey] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: ring.path)) ?? [] where name.hasSuffix(".pem") {
            guard let known = try? CounterPublicKey.load(from: ring.appendingPathComponent(name).path), name == "\(known.keyID).pem" else { continue }
            keys.append(known)
        }
        return keys
    }

    public var keyID: String { key.keyID }

    public var algorithm: String { key.algorithm.signatureName }

    public func sign(_ bytes: [UInt8]) throws(AttachmentError) -> SignatureRecord {
        do throws(SealError) {
            return SignatureRecord(algorithm: key.algorithm.signatureName, keyId: key.keyID, signature: try key.signature(for: bytes))
        } catch {
            throw AttachmentError(error.code, "cannot sign with the counter key: \(error.message)")
        }
    }

    /// A running SM3 of the data when the key is SM2's (GB/T 35276 pairs SM2 with SM3), else nil.
    public func makeSM3() -> (any RunningDigest)? {
        key.algorithm == .sm2 ? SM3.Hasher() : nil
    }

    public func isValid(_ signature: SignatureRecord, for bytes: [UInt8]) -> Bool {
        knownKeys[signature.keyId]?.isValid(signature, for: bytes) ?? false
    }
}
