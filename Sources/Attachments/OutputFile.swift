import CWriteStream
import Crypto
import Foundation
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A file being written through C stdio, for encoders whose libraries take a
/// `FILE *`. Created exclusively (never follows or replaces an existing path).
/// Every byte is counted and hashed (SHA-256) on its way to the file, so the
/// digest is ready when the file is closed, without reading it back.
public final class OutputFile {
    /// The stdio stream; valid until `close()`.
    public private(set) var stream: UnsafeMutablePointer<FILE>?
    /// The path it was created at.
    public let path: String
    private let sink: HashingSink

    /// The envelope written beside the file, when the store seals as it writes.
    let envelope: EnvelopeTee?

    /// Creates `path` exclusively with mode 0640.
    public convenience init(creating path: String, mode: mode_t = 0o640) throws(AttachmentError) {
        try self.init(creating: path, mode: mode, envelope: nil, digest: nil)
    }

    /// A file kept in memory, never on disk: what is written is in ``contents`` once it is closed. `name` stands for
    /// its path in messages.
    public convenience init(inMemory name: String) throws(AttachmentError) {
        try self.init(sink: HashingSink(destination: .memory([]), envelope: nil, digest: nil), path: name, envelope: nil)
    }

    /// Creates `path` exclusively; what is written also goes to `envelope`, and is also hashed into `digest`.
    convenience init(creating path: String, mode: mode_t = 0o640, envelope: EnvelopeTee?, digest: (any RunningDigest)?) throws(AttachmentError) {
        let fd = try systemCall(.ioError, "cannot create \(path)") {
            try FileDescriptor.openClosingOnExec(
                path, .writeOnly, options: [.create, .exclusiveCreate, .noFollow], permissions: FilePermissions(rawValue: mode))
        }
        do throws(AttachmentError) {
            try self.init(sink: HashingSink(destination: .file(fd), envelope: envelope, digest: digest), path: path, envelope: envelope)
        } catch {
            try? fd.close()
            throw error
        }
    }

    /// An attachment written only into its envelope (and hashed): no byte of it reaches a file. `path` names it in
    /// messages; nothing is created there. Up to `memoryLimit` bytes are also kept in ``contents`` (a larger file keeps
    /// none).
    convenience init(envelopeOnly path: String, envelope: EnvelopeTee, digest: (any RunningDigest)?, memoryLimit: Int) throws(AttachmentError) {
        let sink = HashingSink(destination: memoryLimit > 0 ? .memory([]) : .none, envelope: envelope, digest: digest)
        sink.memoryLimit = memoryLimit
        try self.init(sink: sink, path: path, envelope: envelope)
    }

    private init(sink: HashingSink, path: String, envelope: EnvelopeTee?) throws(AttachmentError) {
        guard let stream = ck_open_write_stream(Unmanaged.passUnretained(sink).toOpaque(), HashingSink.write, HashingSink.close) else {
            throw AttachmentError.lastSystemCall(.ioError, "cannot open \(path)")
        }
        setvbuf(stream, nil, _IOFBF, 1 << 16)
        self.sink = sink
        self.stream = stream
        self.path = path
        self.envelope = envelope
    }

    deinit { if let stream { fclose(stream) } }

    /// Bytes written so far (flushes stdio's buffer to count them).
    public var offset: Int {
        if let stream { fflush(stream) }
        return sink.byteCount
    }

    /// Size and SHA-256 (lowercase hex) of everything written; nil until the file is closed.
    public var digest: (byteCount: Int, sha256: String)? {
        guard stream == nil else { return nil }
        return (sink.byteCount, sink.hasher.finalize().map { String(format: "%02x", $0) }.joined())
    }

    /// Everything written to a file kept in memory (``init(inMemory:)``); nil for one on disk, or until it is closed.
    public var contents: [UInt8]? {
        guard stream == nil, case .memory(let bytes) = sink.destination else { return nil }
        return bytes
    }

    /// The second digest's lowercase hex (an SM3 the store asked for), once the file is closed.
    var secondDigest: String? { stream == nil ? sink.digest?.hex() : nil }

    /// Whether the bytes go to a file (not only to memory or an envelope).
    var isOnDisk: Bool { if case .file = sink.destination { true } else { false } }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(AttachmentError) {
        guard let stream else { throw AttachmentError(.ioError, "\(path) is closed") }
        guard bytes.count > 0 else { return }
        if fwrite(bytes.baseAddress, 1, bytes.count, stream) != bytes.count { throw failed("write to") }
    }

    /// Appends the UTF-8 bytes of a string.
    public func write(_ text: String) throws(AttachmentError) {
        try write(Array(text.utf8))
    }

    /// Appends bytes from an array.
    public func write(_ bytes: [UInt8]) throws(AttachmentError) {
        guard let stream else { throw AttachmentError(.ioError, "\(path) is closed") }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, stream) }
        if written != bytes.count { throw failed("write to") }
    }

    /// Flushes stdio's buffer to the file (and to the envelope beside it), without forcing the bytes to disk.
    func flush() throws(AttachmentError) {
        guard let stream else { throw AttachmentError(.ioError, "\(path) is closed") }
        if fflush(stream) != 0 { throw failed("flushing") }
    }

    /// Flushes stdio buffers and forces the bytes to disk.
    public func sync() throws(AttachmentError) {
        guard let stream else { throw AttachmentError(.ioError, "\(path) is closed") }
        if fflush(stream) != 0 { throw failed("flushing") }
        guard case .file(let fd) = sink.destination else { return }
        do throws(Errno) { try fd.sync() } catch { throw AttachmentError(.ioError, "flushing \(path) failed", error) }
    }

    /// Closes the stream; reports a failed final flush.
    public func close() throws(AttachmentError) {
        guard let stream else { return }
        self.stream = nil
        if fclose(stream) != 0 { throw failed("closing") }
    }

    /// Whether a write failed because the disk (or the user's quota) is full.
    public var ranOutOfSpace: Bool { sink.failure == .noSpace || sink.failure?.rawValue == EDQUOT }

    /// An encoder's failure as it should be reported: `disk_full` when the real cause was the disk filling up under
    /// the encoder's writes, else the encoder's own error.
    public func failure(orElse error: AttachmentError) -> AttachmentError {
        ranOutOfSpace ? AttachmentError(.diskFull, "the disk holding \((path as NSString).deletingLastPathComponent) is full; nothing was kept") : error
    }

    private func failed(_ what: String) -> AttachmentError {
        let error = sink.failure ?? Errno(rawValue: errno)
        if ranOutOfSpace || error == .noSpace || error.rawValue == EDQUOT {
            return AttachmentError(.diskFull, "\(what) \(path) failed: \(error.description); the disk is full and nothing was kept")
        }
        return AttachmentError(.ioError, "\(what) \(path) failed", error)
    }
}

/// Where an `OutputFile`'s stream writes: a file descriptor, memory, or nowhere but the envelope; with a running count
/// and SHA-256 (and a second digest when asked).
private final class HashingSink {
    enum Destination {
        case file(FileDescriptor)
        case memory([UInt8])
        /// Only the envelope (and the digests) get the bytes.
        case none
    }

    var destination: Destination
    /// The first write's failure, if one failed.
    var failure: Errno?
    var hasher = SHA256()
    var byteCount = 0
    /// Where the bytes not yet handed to writeback begin.
    var writebackStart = 0
    /// Writeback starts after each this many bytes.
    static let writebackChunk = 1 << 20
    /// Memory kept beyond this is dropped (the destination becomes `.none`).
    var memoryLimit = Int.max

    /// Where the bytes also go, encrypted, when the store seals as it writes.
    let envelope: EnvelopeTee?
    /// A second digest of the bytes (the SM3 an SM2-signed manifest carries).
    let digest: (any RunningDigest)?

    init(destination: Destination, envelope: EnvelopeTee?, digest: (any RunningDigest)?) {
        self.destination = destination
        self.envelope = envelope
        self.digest = digest
    }

    static let write: ck_write_function = { cookie, bytes, count in
        let sink = Unmanaged<HashingSink>.fromOpaque(cookie!).takeUnretainedValue()
        let block = UnsafeRawBufferPointer(start: bytes, count: count)
        switch sink.destination {
        case .file(let fd):
            do {
                _ = try fd.writeAll(block)
            } catch {
                let error = error as? Errno ?? .ioError
                if sink.failure == nil { sink.failure = error }
                errno = error.rawValue
                return 0  // stdio's convention for an error; errno tells which
            }
        case .memory(var bytes):
            sink.destination = .none  // the array is uniquely held while it grows
            if bytes.count + count <= sink.memoryLimit {
                bytes.append(contentsOf: block)
                sink.destination = .memory(bytes)
            }
        case .none:
            break
        }
        sink.hasher.update(bufferPointer: block)
        sink.digest?.update(block)
        sink.envelope?.append(block)
        sink.byteCount += count
        if case .file(let fd) = sink.destination, sink.byteCount - sink.writebackStart >= HashingSink.writebackChunk {
            // Hand what is written so far to the disk now, while the encoder goes on, so that the fsync at
            // commit only waits for the tail. Best effort: a file system without it just syncs later.
            _ = ck_start_writeback(fd.rawValue, Int64(sink.writebackStart), Int64(sink.byteCount - sink.writebackStart))
            sink.writebackStart = sink.byteCount
        }
        return count
    }

    static let close: ck_close_function = { cookie in
        let sink = Unmanaged<HashingSink>.fromOpaque(cookie!).takeUnretainedValue()
        guard case .file(let fd) = sink.destination else { return 0 }
        do { try fd.close() } catch { return -1 }
        return 0
    }
}
