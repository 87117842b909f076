import CWriteStream
import Foundation

/// An envelope written while its attachment is: the bytes an encoder writes are encrypted as they come (the
/// `Sealing` module's CMS streams), so that no second pass over the stored file is needed at commit.
public protocol EnvelopeStream: AnyObject {
    /// Encrypts more content; false when the stream failed (``finish()`` says why).
    func write(_ bytes: UnsafeRawBufferPointer) -> Bool
    /// Completes the envelope and returns its size and SHA-256 (lowercase hex), counted as it was written.
    func finish() throws(AttachmentError) -> (byteCount: Int, sha256: String)
    /// Drops a stream that will not be finished (its file is removed by the caller).
    func abandon()
}

extension EnvelopeSealing {
    /// No streaming: the store seals the stored file at commit instead.
    public func openStream(to output: String) throws(AttachmentError) -> (any EnvelopeStream)? { nil }
}

/// Feeds an ``EnvelopeStream`` on a thread of its own, so that encryption runs beside the encoder rather than after
/// it: each write is copied and queued (at most `depth` blocks ahead; the writer waits beyond that).
final class EnvelopeTee: @unchecked Sendable {
    // The stream is used only on `queue`; `failed` is read on the writer's side after the queue has drained.
    private let stream: any EnvelopeStream
    private let queue = DispatchQueue(label: "counterkit.envelope")
    private let slots: DispatchSemaphore
    private var failed = false
    /// The envelope's temp file.
    let path: String
    /// A descriptor of the envelope file (when the stream has created it), to start its writeback as it grows: the
    /// sync at commit then waits only for the tail, as it does for the data file.
    private let writeback: Int32
    private var written = 0, writebackAt = 1 << 20

    init(stream: any EnvelopeStream, path: String, depth: Int = 16) {
        self.stream = stream
        self.path = path
        slots = DispatchSemaphore(value: depth)
        writeback = open(path, O_RDONLY | O_CLOEXEC)
    }

    deinit { if writeback >= 0 { close(writeback) } }

    /// Queues a copy of `bytes` for encryption.
    func append(_ bytes: UnsafeRawBufferPointer) {
        let block = [UInt8](bytes)
        slots.wait()
        queue.async { [self] in
            if !failed { failed = !block.withUnsafeBytes { stream.write($0) } }
            written += block.count
            if written >= writebackAt, writeback >= 0 {
                // Best effort: what the encryption has written so far goes to the disk while the capture goes on.
                _ = ck_start_writeback(writeback, 0, 0)
                writebackAt = written + (1 << 20)
            }
            slots.signal()
        }
    }

    /// Waits for the queued blocks, completes the envelope, and returns its size and SHA-256.
    func finish() throws(AttachmentError) -> (byteCount: Int, sha256: String) {
        let failed = queue.sync { self.failed }
        guard !failed else {
            stream.abandon()
            throw AttachmentError(.attachmentFailed, "encrypting the envelope \(path) failed")
        }
        return try stream.finish()
    }

    /// Waits for the queued blocks and drops the envelope.
    func abandon() {
        queue.sync {}
        stream.abandon()
        unlink(path)
    }
}
