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
        try self.init(creating: path, mode: mode, envelope: nil)
    }

    /// Creates `path` exclusively; what is written also goes to `envelope`.
    init(creating path: String, mode: mode_t = 0o640, envelope: EnvelopeTee?) throws(AttachmentError) {
        let fd = try systemCall(.ioError, "cannot create \(path)") {
            try FileDescriptor.openClosingOnExec(
                path, .writeOnly, options: [.create, .exclusiveCreate, .noFollow], permissions: FilePermissions(rawValue: mode))
        }
        let sink = HashingSink(fd: fd, envelope: envelope)
        guard let stream = ck_open_write_stream(Unmanaged.passUnretained(sink).toOpaque(), HashingSink.write, HashingSink.close) else {
            let error = AttachmentError.lastSystemCall(.ioError, "cannot open \(path)")
            try? fd.close()
            throw error
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
        do throws(Errno) { try sink.fd.sync() } catch { throw AttachmentError(.ioError, "flushing \(path) failed", error) }
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

/// Where an `OutputFile`'s stream writes: the file descriptor, with a running count and SHA-256.
private final class HashingSink {
    let fd: FileDescriptor
    /// The first write's failure, if one failed.
    var failure: Errno?
    var hasher = SHA256()
    var byteCount = 0
    /// Where the bytes not yet handed to writeback begin.
    var writebackStart = 0
    /// Writeback starts after each this many bytes.
    static let writebackChunk = 1 << 20

    /// Where the bytes also go, encrypted, when the store seals as it writes.
    let envelope: EnvelopeTee?

    init(fd: FileDescriptor, envelope: EnvelopeTee?) {
        self.fd = fd
        self.envelope = envelope
    }

    static let write: ck_write_function = { cookie, bytes, count in
        let sink = Unmanaged<HashingSink>.fromOpaque(cookie!).takeUnretainedValue()
        do {
            _ = try sink.fd.writeAll(UnsafeRawBufferPointer(start: bytes, count: count))
        } catch {
            let error = error as? Errno ?? .ioError
            if sink.failure == nil { sink.failure = error }
            errno = error.rawValue
            return 0  // stdio's convention for an error; errno tells which
        }
        sink.hasher.update(bufferPointer: UnsafeRawBufferPointer(start: bytes, count: count))
        sink.envelope?.append(UnsafeRawBufferPointer(start: bytes, count: count))
        sink.byteCount += count
        if sink.byteCount - sink.writebackStart >= HashingSink.writebackChunk {
            // Hand what is written so far to the disk now, while the encoder goes on, so that the fsync at
            // commit only waits for the tail. Best effort: a file system without it just syncs later.
            _ = ck_start_writeback(sink.fd.rawValue, Int64(sink.writebackStart), Int64(sink.byteCount - sink.writebackStart))
            sink.writebackStart = sink.byteCount
        }
        return count
    }

    static let close: ck_close_function = { cookie in
        do { try Unmanaged<HashingSink>.fromOpaque(cookie!).takeUnretainedValue().fd.close() } catch { return -1 }
        return 0
    }
}
