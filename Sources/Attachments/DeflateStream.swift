import CZlib

/// Compresses bytes with zlib as they arrive and appends the result to a file.
final class DeflateStream {
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: OutputFile
    private let buffer = RowBuffer(count: 1 << 16)
    private var finished = false

    init(level: Int, output: OutputFile) throws(AttachmentError) {
        self.output = output
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard ck_deflate_init(stream, Int32(level)) == Z_OK else {
            stream.deallocate()
            throw AttachmentError(.encoderFailed, "zlib could not start a deflate stream")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(AttachmentError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(bytes.count)
        try pump(flush: Z_NO_FLUSH)
    }

    func finish() throws(AttachmentError) {
        guard !finished else { return }
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        try pump(flush: Z_FINISH)
        finished = true
    }

    private func pump(flush: Int32) throws(AttachmentError) {
        let capacity = buffer.bytes.count
        while true {
            stream.pointee.next_out = buffer.bytes.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(capacity)
            let status = deflate(stream, flush)
            let produced = capacity - Int(stream.pointee.avail_out)
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw AttachmentError(.encoderFailed, "zlib deflate failed with status \(status)")
            }
            try output.write(UnsafeRawBufferPointer(rebasing: buffer.bytes.prefix(produced)))
            if flush == Z_FINISH {
                if status == Z_STREAM_END { return }
            } else if stream.pointee.avail_in == 0 && produced < capacity {
                return
            }
        }
    }
}
