import CWriteStream
import Crypto
import Foundation

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

    /// Creates `path` exclusively with mode 0640.
    public init(creating path: String, mode: mode_t = 0o640) throws(AttachmentError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else {
            throw AttachmentError(.ioError, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let sink = HashingSink(fd: fd)
        guard let stream = ck_open_write_stream(Unmanaged.passUnretained(sink).toOpaque(), HashingSink.write, HashingSink.close) else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw AttachmentError(.ioError, "cannot open \(path): \(message)")
        }
        setvbuf(stream, nil, _IOFBF, 1 << 16)
        self.sink = sink
        self.stream = stream
        self.path = path
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

    /// Flushes stdio buffers and forces the bytes to disk.
    public func sync() throws(AttachmentError) {
        guard let stream else { throw AttachmentError(.ioError, "\(path) is closed") }
        if fflush(stream) != 0 || fsync(sink.fd) != 0 { throw failed("flushing") }
    }

    /// Closes the stream; reports a failed final flush.
    public func close() throws(AttachmentError) {
        guard let stream else { return }
        self.stream = nil
        if fclose(stream) != 0 { throw failed("closing") }
    }

    /// Whether a write failed because the disk (or the user's quota) is full.
    public var ranOutOfSpace: Bool { sink.failure == ENOSPC || sink.failure == EDQUOT }

    /// An encoder's failure as it should be reported: `disk_full` when the real cause was the disk filling up under
    /// the encoder's writes, else the encoder's own error.
    public func failure(orElse error: AttachmentError) -> AttachmentError {
        ranOutOfSpace ? AttachmentError(.diskFull, "the disk holding \((path as NSString).deletingLastPathComponent) is full; nothing was kept") : error
    }

    private func failed(_ what: String) -> AttachmentError {
        let reason = String(cString: strerror(errno))
        if errno == ENOSPC || errno == EDQUOT || ranOutOfSpace {
            return AttachmentError(.diskFull, "\(what) \(path) failed: \(reason); the disk is full and nothing was kept")
        }
        return AttachmentError(.ioError, "\(what) \(path) failed: \(reason)")
    }
}

/// Where an `OutputFile`'s stream writes: the file descriptor, with a running count and SHA-256.
private final class HashingSink {
    let fd: Int32
    /// The errno of the first write that failed (0: none).
    var failure: Int32 = 0
    var hasher = SHA256()
    var byteCount = 0
    /// Where the bytes not yet handed to writeback begin.
    var writebackStart = 0
    /// Writeback starts after each this many bytes.
    static let writebackChunk = 1 << 20

    init(fd: Int32) { self.fd = fd }

    static let write: ck_write_function = { cookie, bytes, count in
        let sink = Unmanaged<HashingSink>.fromOpaque(cookie!).takeUnretainedValue()
        var done = 0
        while done < count {
            let written = Glibc.write(sink.fd, bytes! + done, count - done)
            if written < 0 {
                if errno == EINTR { continue }
                if sink.failure == 0 { sink.failure = errno }
                return 0  // stdio's convention for an error; errno tells which
            }
            done += written
        }
        sink.hasher.update(bufferPointer: UnsafeRawBufferPointer(start: bytes, count: count))
        sink.byteCount += count
        if sink.byteCount - sink.writebackStart >= HashingSink.writebackChunk {
            // Hand what is written so far to the disk now, while the encoder goes on, so that the fsync at
            // commit only waits for the tail. Best effort: a file system without it just syncs later.
            _ = ck_start_writeback(sink.fd, Int64(sink.writebackStart), Int64(sink.byteCount - sink.writebackStart))
            sink.writebackStart = sink.byteCount
        }
        return count
    }

    static let close: ck_close_function = { cookie in
        Glibc.close(Unmanaged<HashingSink>.fromOpaque(cookie!).takeUnretainedValue().fd)
    }
}
