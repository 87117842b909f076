import CWriteStream
import Crypto
import Foundation
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// When the store removes old attachments.
public struct RetentionPolicy: Sendable, Equatable {
    /// Attachments older than this are removed (nil keeps them).
    public var maxAge: TimeInterval?
    /// The oldest attachments are removed while the total exceeds this (nil: no limit).
    public var maxTotalBytes: Int?
    /// In a spool that seals one-way, an attachment's plaintext is removed this long after it was stored; its
    /// manifest, signature and envelope stay (nil: the plaintext stays as long as the attachment). `0`: no plaintext
    /// byte is ever written; encoders write straight into the envelope.
    public var plaintextMaxAge: TimeInterval?

    /// Creates a policy.
    public init(maxAge: TimeInterval? = nil, maxTotalBytes: Int? = nil, plaintextMaxAge: TimeInterval? = nil) {
        self.maxAge = maxAge
        self.maxTotalBytes = maxTotalBytes
        self.plaintextMaxAge = plaintextMaxAge
    }

    /// Seven days. No size limit here: the service bounds the store with `ServiceLimits.maxStoreBytes`, which refuses
    /// new captures instead of deleting attachments nobody has collected yet.
    public static let `default` = RetentionPolicy(maxAge: 7 * 24 * 3600)
    /// Keep everything.
    public static let keepAll = RetentionPolicy()
}

/// A file being written for the store. Write into `file`, then hand it to
/// `AttachmentStore.commit(_:metadata:)` or `discard(_:)`.
public final class PendingAttachment {
    /// The attachment id it will have.
    public let id: String
    /// The temp file to write.
    public let file: OutputFile
    fileprivate var done = false

    fileprivate init(id: String, file: OutputFile) {
        self.id = id
        self.file = file
    }
}

/// What opening a spool written by an earlier release changed.
///
/// Releases up to 0.x named manifests `<id>.json`, which is also the data file name of a JSON attachment: the
/// manifest was renamed over the stroke document of every signature. Opening such a spool renames each manifest to
/// `<id>.manifest.json` once its data is checked against the manifest's SHA-256. A JSON attachment, whose data was
/// overwritten, or one whose bytes no longer match, cannot be recovered: its manifest is moved to `lost/` (kept, not
/// deleted) and listed in `lost`, so the caller can report it once.
public struct SpoolMigration: Sendable, Equatable {
    /// Manifests renamed from the old scheme.
    public var migrated: Int = 0
    /// Attachments whose data was overwritten by their own manifest in an earlier release (every JSON attachment), or
    /// no longer has the manifest's SHA-256; their manifests are in `lost/`, and they are not listed.
    public var lost: [AttachmentManifest] = []

    /// Creates an empty report.
    public init() {}
}

/// A spool directory of attachments with their manifests.
///
/// Each attachment is two files: its data, `<id>.<extension>`, and its manifest, `<id>.manifest.json`; no data file
/// can have a manifest's name, whatever its format. Writes go to `tmp/` and become visible only after fsync and
/// rename, data first, manifest last: an attachment is listed only when its manifest exists, so no reader ever sees
/// a partial file. At start the index is rebuilt from the directory, temp files of dead writers are removed, files
/// without a valid manifest are dropped, and a spool of the earlier naming scheme is migrated (``migration``).
///
/// A sealed spool (opened with a ``CounterSigning``) signs every manifest it commits: the manifest names the key
/// (`keyId`) and its signature, `<id>.signature.json`, is made durable before the manifest, so a manifest is never
/// visible without it; a manifest that names a key but has no signature is an unfinished commit and is dropped at
/// start like any other. ``integrity(id:)`` tells whether an attachment's files are still as committed.
public final class AttachmentStore: Sendable {
    /// The suffix of manifest file names: `<id>.manifest.json`.
    public static let manifestSuffix = ".manifest.json"
    /// The suffix of signature file names in a sealed spool: `<id>.signature.json`.
    public static let signatureSuffix = ".signature.json"
    /// The suffix of envelope file names in a spool that seals one-way: `<id>.p7m`.
    public static let envelopeSuffix = ".p7m"

    /// The spool directory.
    public let directory: URL
    /// The retention applied after each commit and at start.
    public let retention: RetentionPolicy
    /// What opening this spool migrated from an earlier release's layout (empty for a current spool).
    public let migration: SpoolMigration
    /// What signs each committed manifest; nil for an unsealed spool.
    public let signer: (any CounterSigning)?
    /// What encrypts each committed attachment's data for the back office; nil: no envelopes.
    public let envelopes: (any EnvelopeSealing)?
    /// Whether attachments' plaintext is written at all: false when the spool seals one-way with a plaintext retention
    /// of 0, when only manifests, signatures and envelopes reach the disk.
    public var writesPlaintext: Bool { !(envelopes != nil && retention.plaintextMaxAge == 0) }
    /// Told of every attachment stored, deleted or expired, after the change is on disk.
    private let observer: (@Sendable (SpoolEvent) -> Void)?
    private let index: Mutex<[String: AttachmentManifest]>
    /// The last integrity check of each attachment, with the files' stamps it was made on.
    private let checks = Mutex<[String: IntegrityCheck]>([:])
    private let lastStoredMilliseconds = Mutex<Int64>(0)
    /// In a spool that writes no plaintext, the last images stored, in memory only and for a short while.
    private let recentImages = Mutex(RecentImages())

    private var tempDirectory: URL { directory.appendingPathComponent("tmp", isDirectory: true) }

    /// Opens (creating if needed) a spool at `directory` and rebuilds its index.
    /// With `verifyHashes`, every file's SHA-256 is checked against its manifest. With a `signer`, the spool is
    /// sealed: every manifest committed from now on is signed; with `envelopes`, each attachment's data is also
    /// encrypted for the back office (`<id>.p7m`, named in its manifest). `observer` is told of every attachment stored, deleted
    /// or expired (from the start's own retention on), once the change is on disk.
    public init(
        directory: URL, retention: RetentionPolicy = .default, verifyHashes: Bool = false, signer: (any CounterSigning)? = nil,
        envelopes: (any EnvelopeSealing)? = nil, observer: (@Sendable (SpoolEvent) -> Void)? = nil
    ) throws(AttachmentError) {
        self.directory = directory
        self.retention = retention
        self.signer = signer
        self.envelopes = envelopes
        self.observer = observer
        self.index = Mutex([:])
        if retention.plaintextMaxAge == 0 && envelopes == nil {
            throw AttachmentError(.invalidValue, "a plaintext retention of 0 needs envelopes (a recipient): without them nothing of a capture would be kept")
        }
        do {
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent("tmp", isDirectory: true),
                withIntermediateDirectories: true)
        } catch {
            throw AttachmentError(.ioError, "cannot create spool \(directory.path): \(error.localizedDescription)")
        }
        try Self.refuseSymlink(directory)
        migration = Self.migrateLegacyManifests(in: directory)
        removeDeadTempFiles()
        let found = rebuild(verifyHashes: verifyHashes)
        index.withLock { $0 = found }
        applyRetention()
    }

    /// Starts a new attachment file. In a spool that writes no plaintext (``writesPlaintext``) its bytes go only into
    /// the envelope.
    public func begin() throws(AttachmentError) -> PendingAttachment {
        let id = UUID().uuidString.lowercased()
        let path = tempDirectory.appendingPathComponent("\(Self.writerTag)-\(id).part").path
        // A sealer that streams encrypts as the encoder writes, on a thread of its own: the envelope is ready at commit.
        let envelopePath = envelopeTempPath(id)
        let envelope = try envelopes?.openStream(to: envelopePath).map { EnvelopeTee(stream: $0, path: envelopePath) }
        do throws(AttachmentError) {
            let digest = signer?.makeSM3()
            if writesPlaintext {
                return PendingAttachment(id: id, file: try OutputFile(creating: path, envelope: envelope, digest: digest))
            }
            guard let envelope else {
                throw AttachmentError(
                    .invalidValue, "this spool keeps no plaintext (plaintext retention 0), and its sealer cannot write an envelope as the data comes")
            }
            return PendingAttachment(
                id: id, file: try OutputFile(envelopeOnly: path, envelope: envelope, digest: digest, memoryLimit: RecentImages.largest))
        } catch {
            envelope?.abandon()
            throw error
        }
    }

    /// Stores `bytes` (a file made in memory) as a new attachment, through the same writes as an encoder's: in a spool
    /// that writes no plaintext they go only into the envelope.
    @discardableResult
    public func store(_ bytes: [UInt8], metadata: AttachmentMetadata) throws(AttachmentError) -> AttachmentManifest {
        let pending = try begin()
        do throws(AttachmentError) {
            try pending.file.write(bytes)
            return try commit(pending, metadata: metadata)
        } catch {
            discard(pending)
            throw error
        }
    }

    /// Makes a finished file visible: fsync, hash, rename, manifest. The pending file is consumed.
    ///
    /// Every file of the commit (the data, its envelope, the signature and the manifest) is written under a temp name
    /// first and all are synced together, then renamed into place in that order, the manifest last: a manifest is never
    /// visible without the files it names, and the commit waits for the disk once rather than once a file.
    @discardableResult
    public func commit(_ pending: PendingAttachment, metadata: AttachmentMetadata) throws(AttachmentError) -> AttachmentManifest {
        guard !pending.done else { throw AttachmentError(.invalidImage, "attachment \(pending.id) was already committed") }
        pending.done = true
        let id = pending.id, tempPath = pending.file.path
        var envelope = pending.file.envelope
        var placed: [String] = []
        do throws(AttachmentError) {
            var sealed: SealedCopy?
            if let tee = envelope {
                // Every byte through to the envelope, which is then completed (its size and hash counted as written).
                try pending.file.flush()
                envelope = nil  // finished or abandoned by finish()
                let (byteCount, sha256) = try tee.finish()
                sealed = envelopes.map {
                    SealedCopy(
                        fileName: id + Self.envelopeSuffix, byteCount: byteCount, sha256: sha256, recipient: $0.recipientID,
                        encryption: $0.contentEncryption)
                }
            }
            try pending.file.close()
            guard let (size, digest) = pending.file.digest else { throw AttachmentError(.ioError, "\(tempPath) was not closed") }
            let dataTemp = pending.file.isOnDisk ? tempPath : nil
            if sealed == nil, let envelopes, let dataTemp {
                // A sealer that does not stream encrypts the finished file now.
                let (byteCount, sha256) = try envelopes.seal(file: dataTemp, to: envelopeTempPath(id))
                sealed = SealedCopy(
                    fileName: id + Self.envelopeSuffix, byteCount: byteCount, sha256: sha256, recipient: envelopes.recipientID,
                    encryption: envelopes.contentEncryption)
            }
            let fileName = "\(id).\(metadata.format.fileExtension)"
            var manifest = AttachmentManifest(
                id: id, kind: metadata.kind, format: metadata.format, mediaType: metadata.format.mediaType,
                fileName: fileName, byteCount: size, sha256: digest, pixelWidth: metadata.pixelWidth,
                pixelHeight: metadata.pixelHeight, dpi: metadata.dpi, pages: metadata.pages, device: metadata.device,
                capturedAt: AttachmentManifest.storedDate(metadata.capturedAt), storedAt: nextStoredAt(),
                settings: metadata.settings, keyId: signer?.keyID)
            manifest.sm3 = pending.file.secondDigest
            manifest.sealed = sealed
            let (manifestBytes, stored) = try Self.encode(manifest)
            // Temp file → final name, in the order they become visible.
            var moves: [(from: String, to: String)] = []
            if let dataTemp { moves.append((dataTemp, directory.appendingPathComponent(fileName).path)) }
            if sealed != nil { moves.append((envelopeTempPath(id), envelopePath(id))) }
            if let signer {
                let signature = try signer.sign(manifestBytes)
                moves.append((try writeTemp(signature.encoded(), name: "\(id).signature.part"), signaturePath(id)))
            }
            moves.append((try writeTemp(manifestBytes, name: "\(id).manifest.part"), manifestPath(id)))
            try Self.syncTogether(moves.map(\.from))
            for move in moves {
                try rename(move.from, to: move.to)
                placed.append(move.to)
            }
            syncDirectory()
            index.withLock { $0[stored.id] = stored }
            recordIntact(stored)
            observer?(.stored(stored))
            applyRetention()
            if let bytes = pending.file.contents, [.jpeg, .png, .pnm].contains(stored.format) {
                recentImages.withLock { $0.add(stored.id, bytes) }
            }
            return stored
        } catch {
            envelope?.abandon()
            // The manifest is renamed last, so a failure leaves no visible attachment; what was placed goes again.
            for path in placed { unlink(path) }
            for name in ["\(id).signature.part", "\(id).manifest.part"] { unlink(tempDirectory.appendingPathComponent("\(Self.writerTag)-\(name)").path) }
            unlink(tempPath)
            unlink(envelopeTempPath(id))
            throw error
        }
    }

    /// Where attachment `id`'s envelope is written before it is moved into place (streamed or made at commit).
    private func envelopeTempPath(_ id: String) -> String {
        tempDirectory.appendingPathComponent("\(Self.writerTag)-\(id).p7m.part").path
    }

    /// Forces finished files' bytes to disk, side by side: writeback is started on all of them first, so that one
    /// journal commit usually covers them all and the later fsyncs find little left to do.
    private static func syncTogether(_ paths: [String]) throws(AttachmentError) {
        var files: [FileDescriptor] = []
        defer { for file in files { try? file.close() } }
        for path in paths {
            let file = try systemCall(.ioError, "cannot read \(path)") { try FileDescriptor.openClosingOnExec(path, .readOnly) }
            files.append(file)
            _ = ck_start_writeback(file.rawValue, 0, 0)
        }
        let failures = Mutex<[Int: Errno]>([:])
        let descriptors = files
        DispatchQueue.concurrentPerform(iterations: descriptors.count) { index in
            do throws(Errno) { try descriptors[index].sync() } catch { failures.withLock { $0[index] = error } }
        }
        if let (index, error) = failures.withLock({ $0.min { $0.key < $1.key } }) {
            throw AttachmentError(.ioError, "flushing \(paths[index]) failed", error)
        }
    }

    /// Drops a pending file (after a failed capture).
    public func discard(_ pending: PendingAttachment) {
        guard !pending.done else { return }
        pending.done = true
        try? pending.file.close()
        unlink(pending.file.path)
        pending.file.envelope?.abandon()
    }

    /// All attachments, oldest first.
    public func list() -> [AttachmentManifest] {
        index.withLock { Array($0.values) }.sorted { ($0.storedAt, $0.id) < ($1.storedAt, $1.id) }
    }

    /// The manifest of one attachment.
    public func manifest(id: String) throws(AttachmentError) -> AttachmentManifest {
        try Self.checkId(id)
        guard let manifest = index.withLock({ $0[id] }) else {
            throw AttachmentError(.notFound, "no attachment \(id)")
        }
        return manifest
    }

    /// The path of an attachment's file.
    public func fileURL(id: String) throws(AttachmentError) -> URL {
        directory.appendingPathComponent(try manifest(id: id).fileName)
    }

    /// The path of an attachment's manifest file.
    public func manifestURL(id: String) throws(AttachmentError) -> URL {
        directory.appendingPathComponent(try manifest(id: id).id + Self.manifestSuffix)
    }

    /// The path of an attachment's envelope; `not_found` when the spool did not seal it one-way.
    public func envelopeURL(id: String) throws(AttachmentError) -> URL {
        guard let sealed = try manifest(id: id).sealed else {
            throw AttachmentError(.notFound, "attachment \(id) has no envelope: it was stored before the spool sealed one-way ([seal] recipient)")
        }
        return directory.appendingPathComponent(sealed.fileName)
    }

    /// The image attachment `id` held in memory, in a spool that writes no plaintext: each JPEG, PNG or PNM image up to
    /// 32 MiB is kept for ten minutes (at most four, the newest), so that an ID card copy can be composed of the card's
    /// two sides. Nil for anything else, or once it has gone.
    public func recentImage(id: String) -> [UInt8]? {
        recentImages.withLock { $0.bytes(of: id) }
    }

    /// Whether only the envelope of attachment `id` is left: its plaintext was removed after the plaintext retention.
    public func isSealedOnly(id: String) throws(AttachmentError) -> Bool {
        let manifest = try manifest(id: id)
        return manifest.sealed != nil && !FileManager.default.fileExists(atPath: directory.appendingPathComponent(manifest.fileName).path)
    }

    /// An attachment's manifest exactly as stored: the bytes its signature covers.
    public func manifestBytes(id: String) throws(AttachmentError) -> [UInt8] {
        try Self.readSmallFile(manifestPath(try manifest(id: id).id))
    }

    /// An attachment's signature record exactly as stored (compact JSON); `not_found` when it was committed unsealed.
    public func signatureBytes(id: String) throws(AttachmentError) -> [UInt8] {
        let manifest = try manifest(id: id)
        guard manifest.keyId != nil else {
            throw AttachmentError(.notFound, "attachment \(id) is not signed: it was stored before the spool was sealed ([seal] key)")
        }
        return try Self.readSmallFile(signaturePath(id))
    }

    /// Removes an attachment: the manifest first, so it is never listed without its file. `detail` (who asked) goes
    /// to the observer with the deletion.
    public func delete(id: String, detail: [String: String] = [:]) throws(AttachmentError) {
        let manifest = try manifest(id: id)
        guard remove(manifest) else { throw AttachmentError(.notFound, "no attachment \(id)") }
        observer?(.deleted(manifest, detail: detail))
    }

    /// Takes `manifest` out of the index and removes its files; false when another caller already did.
    private func remove(_ manifest: AttachmentManifest) -> Bool {
        let id = manifest.id
        guard index.withLock({ $0.removeValue(forKey: id) != nil }) else { return false }
        recentImages.withLock { $0.remove(id) }
        checks.withLock { _ = $0.removeValue(forKey: id) }
        unlink(manifestPath(id))
        unlink(signaturePath(id))
        unlink(directory.appendingPathComponent(manifest.fileName).path)
        unlink(envelopePath(id))
        return true
    }

    /// Total bytes of all attachments.
    public var totalBytes: Int { index.withLock { $0.values.reduce(0) { $0 + $1.byteCount } } }

    /// Removes what the retention policy no longer keeps; returns the removed ids.
    @discardableResult
    public func applyRetention(now: Date = Date()) -> [String] {
        var removed: [String] = []
        let all = list()
        var total = all.reduce(0) { $0 + $1.byteCount }
        for manifest in all {
            let tooOld = retention.maxAge.map { now.timeIntervalSince(manifest.storedAt) > $0 } ?? false
            let tooBig = retention.maxTotalBytes.map { total > $0 } ?? false
            if tooOld || tooBig {
                if remove(manifest) { observer?(.expired(manifest)) }
                total -= manifest.byteCount
                removed.append(manifest.id)
                continue
            }
            // One-way sealed: past the plaintext retention only the envelope, manifest and signature stay.
            if manifest.sealed != nil, let plaintextMaxAge = retention.plaintextMaxAge, now.timeIntervalSince(manifest.storedAt) > plaintextMaxAge,
                unlink(directory.appendingPathComponent(manifest.fileName).path) == 0
            {
                observer?(.plaintextRemoved(manifest))
            }
        }
        return removed
    }

    /// SHA-256 and size of a file, read in 1 MiB blocks.
    public static func hashFile(atPath path: String) throws(AttachmentError) -> (size: Int, sha256: String) {
        let fd = try systemCall(.ioError, "cannot read \(path)") { try FileDescriptor.openClosingOnExec(path, .readOnly) }
        defer { try? fd.close() }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var size = 0
        while true {
            let count = try systemCall(.ioError, "reading \(path) failed") { try buffer.withUnsafeMutableBytes { try fd.read(into: $0) } }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
            size += count
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return (size, digest)
    }

    // MARK: - Integrity

    /// Whether attachment `id`'s files are as they were committed: its data's size and SHA-256 match the manifest,
    /// the manifest on disk is the one indexed, and in a sealed spool its signature verifies. Files unchanged since
    /// the last check (same inode, size, mtime and ctime) are not read again; a changed data file is hashed anew.
    public func integrity(id: String) throws(AttachmentError) -> AttachmentIntegrity {
        let manifest = try manifest(id: id)
        let stamps = [
            FileStamp(directory.appendingPathComponent(manifest.fileName).path), FileStamp(manifestPath(id)), FileStamp(signaturePath(id)),
            FileStamp(envelopePath(id)),
        ]
        if let last = checks.withLock({ $0[id] }), last.stamps == stamps { return last.result }
        let result = verify(manifest) ? AttachmentIntegrity.intact : .broken
        checks.withLock { $0[id] = IntegrityCheck(stamps: stamps, result: result) }
        return result
    }

    /// What is wrong with attachment `id`'s files, for an error message; nil when it is intact.
    public func integrityProblem(id: String) throws(AttachmentError) -> String? {
        guard try integrity(id: id) == .broken else { return nil }
        let manifest = try manifest(id: id)
        return problem(manifest) ?? "its files changed while they were checked"
    }

    private func verify(_ manifest: AttachmentManifest) -> Bool { problem(manifest) == nil }

    /// The first thing that does not hold of `manifest`'s files, or nil.
    private func problem(_ manifest: AttachmentManifest) -> String? {
        let id = manifest.id
        guard let bytes = try? Self.readSmallFile(manifestPath(id)),
            (try? AttachmentManifest.makeDecoder().decode(AttachmentManifest.self, from: Data(bytes))) == manifest
        else { return "its manifest (\(id)\(Self.manifestSuffix)) was changed after it was committed" }
        if manifest.keyId != nil {
            guard let signature = (try? Self.readSmallFile(signaturePath(id))).flatMap(SignatureRecord.decode) else {
                return "its signature (\(id)\(Self.signatureSuffix)) is missing or unreadable"
            }
            if let signer, !signer.isValid(signature, for: bytes) {
                return "its signature (\(id)\(Self.signatureSuffix)) does not verify over its manifest with key \(signature.keyId)"
            }
        }
        if let sealed = manifest.sealed {
            guard let (size, digest) = try? Self.hashFile(atPath: envelopePath(id)), size == sealed.byteCount, digest == sealed.sha256 else {
                return "its envelope (\(sealed.fileName)) no longer has the size and SHA-256 its manifest states"
            }
            if !FileManager.default.fileExists(atPath: directory.appendingPathComponent(manifest.fileName).path) { return nil }
        }
        guard let (size, digest) = try? Self.hashFile(atPath: directory.appendingPathComponent(manifest.fileName).path),
            size == manifest.byteCount, digest == manifest.sha256
        else { return "its data (\(manifest.fileName)) no longer has the size and SHA-256 its manifest states" }
        return nil
    }

    /// Records a just-committed attachment as intact on its files' current stamps.
    private func recordIntact(_ manifest: AttachmentManifest) {
        let stamps = [
            FileStamp(directory.appendingPathComponent(manifest.fileName).path), FileStamp(manifestPath(manifest.id)),
            FileStamp(signaturePath(manifest.id)), FileStamp(envelopePath(manifest.id)),
        ]
        checks.withLock { $0[manifest.id] = IntegrityCheck(stamps: stamps, result: .intact) }
    }

    /// Accepts only the ids this store makes (lowercase UUIDs): no paths, no traversal.
    static func checkId(_ id: String) throws(AttachmentError) {
        let valid =
            id.utf8.count == 36
            && id.utf8.enumerated().allSatisfy { offset, byte in
                [8, 13, 18, 23].contains(offset)
                    ? byte == UInt8(ascii: "-")
                    : (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            }
        guard valid else { throw AttachmentError(.invalidId, "'\(id)' is not an attachment id") }
    }

    // MARK: - Files

    /// Commit times strictly increase within a process, so listing order is commit order.
    private func nextStoredAt() -> Date {
        let milliseconds = lastStoredMilliseconds.withLock { last in
            last = max(last + 1, Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
            return last
        }
        return AttachmentManifest.date(milliseconds: milliseconds)
    }

    private func manifestPath(_ id: String) -> String { directory.appendingPathComponent(id + Self.manifestSuffix).path }
    private func signaturePath(_ id: String) -> String { directory.appendingPathComponent(id + Self.signatureSuffix).path }
    private func envelopePath(_ id: String) -> String { directory.appendingPathComponent(id + Self.envelopeSuffix).path }

    /// A manifest as it is stored and served (compact JSON, sorted keys: its signature covers these bytes), and as
    /// readers will decode it.
    private static func encode(_ manifest: AttachmentManifest) throws(AttachmentError) -> ([UInt8], AttachmentManifest) {
        do {
            let encoder = AttachmentManifest.makeEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(manifest)
            return ([UInt8](data), try AttachmentManifest.makeDecoder().decode(AttachmentManifest.self, from: data))
        } catch {
            throw AttachmentError(.ioError, "cannot encode manifest: \(error)")
        }
    }

    /// Writes `bytes` to a new temp file named after `name` (not yet synced) and returns its path.
    private func writeTemp(_ bytes: [UInt8], name: String) throws(AttachmentError) -> String {
        let tempPath = tempDirectory.appendingPathComponent("\(Self.writerTag)-\(name)").path
        let file = try OutputFile(creating: tempPath)
        do throws(AttachmentError) {
            try file.write(bytes)
            try file.close()
            return tempPath
        } catch {
            unlink(tempPath)
            throw error
        }
    }

    /// A manifest or signature file's bytes (a few KiB at most; larger is not one of ours).
    private static func readSmallFile(_ path: String) throws(AttachmentError) -> [UInt8] {
        let fd = try systemCall(.ioError, "cannot read \(path)") { try FileDescriptor.openClosingOnExec(path, .readOnly) }
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while bytes.count <= 1 << 20 {
            let count = try systemCall(.ioError, "reading \(path) failed") { try buffer.withUnsafeMutableBytes { try fd.read(into: $0) } }
            if count == 0 { return bytes }
            bytes += buffer.prefix(count)
        }
        throw AttachmentError(.ioError, "\(path) is larger than any manifest or signature")
    }

    private func rename(_ from: String, to: String) throws(AttachmentError) {
        do throws(Errno) { try renameFile(from, to: to) } catch { throw AttachmentError(.ioError, "cannot move \(from) to \(to)", error) }
    }

    private func syncDirectory() { Self.syncDirectory(directory) }

    private static func syncDirectory(_ directory: URL) {
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    private static func refuseSymlink(_ url: URL) throws(AttachmentError) {
        var info = stat()
        if lstat(url.path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK {
            throw AttachmentError(.ioError, "spool \(url.path) is a symbolic link; refusing to use it")
        }
    }

    /// This boot's identity (the kernel's `boot_id`, dashes removed); empty when the kernel does not say.
    static let bootID: String = {
        let text = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? ""
        return text.filter(\.isHexDigit)
    }()

    /// What prefixes a temp file's name: the writer's pid and boot (`PID@BOOT`), so that a pid reused after a reboot
    /// or power cut is not taken for the writer.
    static var writerTag: String { bootID.isEmpty ? "\(getpid())" : "\(getpid())@\(bootID)" }

    /// Whether a temp file named `name` may still be written to: its writer's pid is alive in this boot. Names
    /// without a boot (`PID-…`, written before boots were recorded) go by the pid alone.
    static func writerMayBeAlive(_ name: String) -> Bool {
        // A helper's files beside a writer's own (`.NAME.PID.try`) carry its tag after the dot.
        let tag = name.drop { $0 == "." }.split(separator: "-", maxSplits: 1).first ?? ""
        let parts = tag.split(separator: "@", maxSplits: 1)
        guard let pid = parts.first.flatMap({ pid_t($0) }), pid > 0 else { return false }
        if parts.count == 2 && String(parts[1]) != bootID { return false }
        return pid == getpid() || kill(pid, 0) == 0 || errno == EPERM
    }

    /// Removes temp files whose writer process is gone: it died, or the machine restarted since.
    private func removeDeadTempFiles() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: tempDirectory.path)) ?? []
        for name in names where !Self.writerMayBeAlive(name) {
            unlink(tempDirectory.appendingPathComponent(name).path)
        }
    }

    /// Renames manifests of the earlier scheme (`<id>.json`) to `<id>.manifest.json`. A `<id>.json` that is a
    /// manifest of a JSON attachment is its own data's grave: moved to `lost/` and reported. Safe to repeat after a
    /// crash: each step is one rename.
    private static func migrateLegacyManifests(in directory: URL) -> SpoolMigration {
        var report = SpoolMigration()
        let names = Set((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
        let decoder = AttachmentManifest.makeDecoder()
        for name in names.sorted() where name.hasSuffix(".json") && !name.hasSuffix(manifestSuffix) {
            let id = String(name.dropLast(5))
            guard (try? checkId(id)) != nil, !names.contains(id + manifestSuffix) else { continue }
            let path = directory.appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path),
                let manifest = try? decoder.decode(AttachmentManifest.self, from: data), manifest.id == id
            else { continue }  // a JSON data file without its manifest: rebuild drops it like any orphan
            // Migrated only when its data still has the manifest's SHA-256 (a one-time read); a JSON attachment's data
            // is the manifest itself, and anything else that does not match is kept for the record in lost/ too.
            let dataPath = directory.appendingPathComponent(manifest.fileName).path
            if manifest.fileName != name, (try? hashFile(atPath: dataPath))?.sha256 == manifest.sha256 {
                if Glibc.rename(path, directory.appendingPathComponent(id + manifestSuffix).path) == 0 { report.migrated += 1 }
                continue
            }
            let lost = directory.appendingPathComponent("lost", isDirectory: true)
            try? FileManager.default.createDirectory(at: lost, withIntermediateDirectories: true)
            guard Glibc.rename(path, lost.appendingPathComponent(id + manifestSuffix).path) == 0 else { continue }
            report.lost.append(manifest)
        }
        if report != SpoolMigration() { syncDirectory(directory) }
        return report
    }

    /// Reads every manifest; drops manifests without a matching file and files without a manifest.
    private func rebuild(verifyHashes: Bool) -> [String: AttachmentManifest] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let decoder = AttachmentManifest.makeDecoder()
        var found: [String: AttachmentManifest] = [:]
        for name in names where name.hasSuffix(Self.manifestSuffix) {
            let id = String(name.dropLast(Self.manifestSuffix.count))
            guard (try? Self.checkId(id)) != nil else { continue }
            let path = directory.appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path),
                let manifest = try? decoder.decode(AttachmentManifest.self, from: data),
                manifest.id == id, manifest.fileName == "\(id).\(manifest.format.fileExtension)"
            else { unlink(path); continue }
            let filePath = directory.appendingPathComponent(manifest.fileName).path
            var info = stat()
            // A manifest that names a key but has no signature record is a commit that did not finish.
            let signed = manifest.keyId == nil || (try? Self.readSmallFile(signaturePath(id))).flatMap(SignatureRecord.decode) != nil
            // One-way sealed: the envelope must be there whole; the plaintext may be gone (its retention ended).
            var envelope = stat()
            let sealed =
                manifest.sealed.map {
                    lstat(envelopePath(id), &envelope) == 0 && Int(envelope.st_size) == $0.byteCount && $0.fileName == id + Self.envelopeSuffix
                }
                ?? true
            let plaintextGone = manifest.sealed != nil && lstat(filePath, &info) != 0 && errno == ENOENT
            let intact =
                signed && sealed
                && (plaintextGone
                    || (lstat(filePath, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
                        && Int(info.st_size) == manifest.byteCount
                        && (!verifyHashes || (try? Self.hashFile(atPath: filePath))?.sha256 == manifest.sha256)))
            if intact { found[id] = manifest } else { unlink(path); unlink(filePath); unlink(signaturePath(id)); unlink(envelopePath(id)) }
        }
        let kept = Set(
            found.values.flatMap {
                [$0.fileName] + ($0.keyId == nil ? [] : [$0.id + Self.signatureSuffix]) + ($0.sealed == nil ? [] : [$0.id + Self.envelopeSuffix])
            })
        for name in names where !name.hasSuffix(Self.manifestSuffix) && !kept.contains(name) {
            let id = String(name.prefix { $0 != "." })
            if (try? Self.checkId(id)) != nil { unlink(directory.appendingPathComponent(name).path) }
        }
        return found
    }
}

/// The log lines that report a spool migration: one per attachment lost in an earlier release, and a count of
/// migrated manifests. Shared by the service's log and the CLI's warnings so both say the same.
public enum SpoolMigrationReport {
    /// The lines for `migration` of the spool at `spool`; empty when nothing was migrated.
    public static func lines(_ migration: SpoolMigration, spool: URL) -> [String] {
        var lines: [String] = []
        if migration.migrated > 0 {
            lines.append("spool \(spool.path): \(migration.migrated) manifests renamed to <id>\(AttachmentStore.manifestSuffix) (earlier release's layout)")
        }
        for manifest in migration.lost {
            lines.append(
                "spool \(spool.path): attachment \(manifest.id) (\(manifest.kind.rawValue) \(manifest.format.rawValue), "
                    + "\(manifest.byteCount) bytes, sha256 \(manifest.sha256), device \(manifest.device ?? "-")) "
                    + (manifest.format == .json
                        ? "was overwritten by its manifest in an earlier release"
                        : "no longer has the bytes its manifest states") + " and cannot be recovered; its manifest is kept in lost/")
        }
        return lines
    }
}

/// What identifies a file's content without reading it: any write changes its ctime, which no user can set back.
private struct FileStamp: Equatable {
    var exists = false
    var inode: UInt = 0
    var size = 0
    var modified = timespec()
    var changed = timespec()

    init(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        exists = true
        inode = UInt(info.st_ino)
        size = Int(info.st_size)
        modified = info.st_mtim
        changed = info.st_ctim
    }

    static func == (a: FileStamp, b: FileStamp) -> Bool {
        a.exists == b.exists && a.inode == b.inode && a.size == b.size && a.modified.tv_sec == b.modified.tv_sec
            && a.modified.tv_nsec == b.modified.tv_nsec && a.changed.tv_sec == b.changed.tv_sec && a.changed.tv_nsec == b.changed.tv_nsec
    }
}

/// The images a spool that writes no plaintext keeps in memory for a while (``AttachmentStore/recentImage(id:)``).
private struct RecentImages {
    /// The largest image kept, in bytes.
    static let largest = 32 << 20
    /// How many are kept, and for how long.
    static let count = 4
    static let lifetime: TimeInterval = 600

    private var entries: [(id: String, added: Date, bytes: [UInt8])] = []

    mutating func add(_ id: String, _ bytes: [UInt8], now: Date = Date()) {
        entries.removeAll { now.timeIntervalSince($0.added) > Self.lifetime }
        entries.append((id, now, bytes))
        if entries.count > Self.count { entries.removeFirst(entries.count - Self.count) }
    }

    mutating func bytes(of id: String, now: Date = Date()) -> [UInt8]? {
        entries.removeAll { now.timeIntervalSince($0.added) > Self.lifetime }
        return entries.first { $0.id == id }?.bytes
    }

    mutating func remove(_ id: String) { entries.removeAll { $0.id == id } }
}

/// One attachment's last integrity check.
private struct IntegrityCheck {
    var stamps: [FileStamp]
    var result: AttachmentIntegrity
}
