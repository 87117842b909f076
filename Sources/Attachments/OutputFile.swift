#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A file being written through C stdio, for encoders whose libraries take a
/// `FILE *`. Created exclusively (never follows or replaces an existing path).
public final class OutputFile {
    /// The stdio stream; valid until `close()`.
    public private(set) var stream: UnsafeMutablePointer<FILE>?
    /// The path it was created at.
    public let path: String

    /// Creates `path` exclusively with mode 0640.
    public init(creating path: String) throws(AttachmentError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard fd >= 0 else {
            throw AttachmentError(.ioError, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        guard let stream = fdopen(fd, "wb") else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw AttachmentError(.ioError, "cannot open \(path): \(message)")
        }
        setvbuf(stream, nil, _IOFBF, 1 << 16)
        self.stream = stream
        self.path = path
    }

    deinit { if let stream { fclose(stream) } }

    /// Bytes written so far.
    public var offset: Int {
        guard let stream else { return 0 }
        return Int(ftello(stream))
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(AttachmentError) {
        guard let stream else { throw AttachmentError(.ioError, "\(path) is closed") }
        guard bytes.count > 0 else { return }
        if fwrite(bytes.baseAddress, 1, bytes.count, stream) != bytes.count {
            throw AttachmentError(.ioError, "write to \(path) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Appends the UTF-8 bytes of a string.
    public func write(_ text: String) throws(AttachmentError) {
        try write(Array(text.utf8))
    }

    /// Appends bytes from an array.
    public func write(_ bytes: [UInt8]) throws(AttachmentError) {
        guard let stream else { throw AttachmentError(.ioError, "\(path) is closed") }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, stream) }
        if written != bytes.count {
            throw AttachmentError(.ioError, "write to \(path) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Flushes stdio buffers and forces the bytes to disk.
    public func sync() throws(AttachmentError) {
        guard let stream else { throw AttachmentError(.ioError, "\(path) is closed") }
        if fflush(stream) != 0 || fsync(fileno(stream)) != 0 {
            throw AttachmentError(.ioError, "flushing \(path) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Closes the stream; reports a failed final flush.
    public func close() throws(AttachmentError) {
        guard let stream else { return }
        self.stream = nil
        if fclose(stream) != 0 {
            throw AttachmentError(.ioError, "closing \(path) failed: \(String(cString: strerror(errno)))")
        }
    }
}
