import CTurboJPEG
import CounterKitCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Encodes one JPEG on several threads: the image is cut into horizontal strips of whole MCU rows,
/// each strip is compressed on its own by a pool thread, and the strips are joined with restart markers.
///
/// A restart marker resets the DC predictions and byte-aligns the entropy-coded data, which is exactly
/// how a single compressor starts; so each strip's scan data, compressed alone, is the same bytes a
/// single libjpeg pass would write for that restart interval (ITU T.81, F.1.1.5 and B.2.1). The file is
/// a baseline JFIF with a DRI segment, which every decoder reads.
///
/// Rows arrive on the caller's thread and are copied into strip buffers; a full strip goes to the
/// pool. Only `threads + 1` strip buffers exist, so a fast producer waits for the encoders rather
/// than buffering the page. Finished strips are written in order, on the caller's thread.
final class JPEGStripEncoder {
    /// Rows per strip (whole MCU rows).
    let stripRows: Int
    /// MCUs per restart interval: one strip.
    let restartInterval: Int

    private let image: ImageDescription
    private let output: OutputFile
    private let pool: StripPool
    private let stripCount: Int
    private var current: UnsafeMutableRawBufferPointer?
    private var currentRows = 0
    private var submitted = 0
    private var written = 0

    /// Components of the 8-bit rows the strips hold: 3 for colour, 1 for gray and lineart.
    static func components(_ image: ImageDescription) -> Int { image.format.channels >= 3 ? 3 : 1 }

    /// The strip geometry for an image, or nil when it fits in fewer than two strips.
    static func geometry(image: ImageDescription, options: JPEGOptions) -> (stripRows: Int, restartInterval: Int)? {
        let colour = components(image) == 3
        let sampling = colour ? options.effectiveSubsampling.lumaSampling : (horizontal: 1, vertical: 1)
        let mcuWidth = 8 * Int(sampling.horizontal), mcuHeight = 8 * Int(sampling.vertical)
        let mcusPerRow = (image.width + mcuWidth - 1) / mcuWidth
        // About 2 MiB of 8-bit rows per strip: large enough that a strip's fixed costs vanish, small
        // enough that a page makes many strips. The interval must fit DRI's 16 bits.
        let rowBytes = image.width * components(image)
        let wantedMCURows = max(1, (2 << 20) / max(rowBytes * mcuHeight, 1))
        let mcuRows = max(1, min(wantedMCURows, 65_535 / mcusPerRow))
        let stripRows = mcuRows * mcuHeight
        guard image.height > stripRows else { return nil }
        return (stripRows, mcuRows * mcusPerRow)
    }

    init(
        image: ImageDescription, options: JPEGOptions, output: OutputFile, threads: Int,
        geometry: (stripRows: Int, restartInterval: Int)
    ) {
        self.image = image
        self.output = output
        self.stripRows = geometry.stripRows
        self.restartInterval = geometry.restartInterval
        self.stripCount = (image.height + geometry.stripRows - 1) / geometry.stripRows
        pool = StripPool(
            image: image, options: options, stripRows: geometry.stripRows,
            threads: max(1, min(threads, stripCount)))
    }

    deinit { pool.stop() }

    /// Where the next row's 8-bit samples go (`width * components` bytes); then call `rowFilled(isLast:)`.
    func nextRow() throws(AttachmentError) -> UnsafeMutableRawBufferPointer {
        if current == nil {
            current = try pool.takeBuffer()
            currentRows = 0
        }
        let rowBytes = pool.rowBytes
        return UnsafeMutableRawBufferPointer(rebasing: current![(currentRows * rowBytes)..<((currentRows + 1) * rowBytes)])
    }

    /// Counts the row given by `nextRow()`; hands a full strip (or the image's last) to the pool.
    func rowFilled(isLast: Bool) throws(AttachmentError) {
        currentRows += 1
        guard currentRows == stripRows || isLast, let buffer = current else { return }
        pool.submit(index: submitted, buffer: buffer, rows: currentRows)
        submitted += 1
        current = nil
        try writeReady(waitingForAll: false)
    }

    /// Waits for every strip and writes the rest of the file, ending with EOI.
    func finish() throws(AttachmentError) {
        try writeReady(waitingForAll: true)
        try output.write([0xFF, 0xD9])
    }

    /// Writes finished strips in order; with `waitingForAll`, until every submitted strip is written.
    private func writeReady(waitingForAll: Bool) throws(AttachmentError) {
        while written < submitted {
            guard let strip = try pool.takeEncoded(index: written, waiting: waitingForAll) else { return }
            try writeStrip(strip, index: written)
            written += 1
        }
    }

    /// Strip 0 brings the file's headers (its SOF height raised to the image's, and a DRI added);
    /// every strip but the last is followed by its restart marker RSTn, n counting 0...7.
    private func writeStrip(_ strip: EncodedStrip, index: Int) throws(AttachmentError) {
        if index == 0 {
            var headers = strip.headers
            headers[strip.heightOffset] = UInt8(image.height >> 8)
            headers[strip.heightOffset + 1] = UInt8(image.height & 0xFF)
            headers.insert(
                contentsOf: [0xFF, 0xDD, 0x00, 0x04, UInt8(restartInterval >> 8), UInt8(restartInterval & 0xFF)],
                at: strip.scanHeaderStart)
            try output.write(headers)
        }
        try output.write(strip.scanData)
        if index < stripCount - 1 { try output.write([0xFF, 0xD0 + UInt8(index % 8)]) }
    }
}

/// One strip compressed alone, split where the pool thread found its markers: everything before the
/// entropy-coded data (kept for strip 0 only), and that data without its EOI.
private struct EncodedStrip {
    var headers: [UInt8]
    /// Offset in `headers` of the SOF height, and of the SOS segment (where DRI goes).
    var heightOffset: Int
    var scanHeaderStart: Int
    var scanData: [UInt8]
}

/// The strip buffers, the queue and the threads that compress strips. Shared with the threads (which
/// hold it, not the encoder), so the encoder's deinit can stop them.
private final class StripPool: @unchecked Sendable {
    let rowBytes: Int
    private let image: ImageDescription
    private let options: JPEGOptions
    private let components: Int

    /// Guards everything below; the threads wait on it for strips, the caller for buffers and results.
    private let condition = NSCondition()
    private var allBuffers: [UnsafeMutableRawBufferPointer] = []
    private var freeBuffers: [UnsafeMutableRawBufferPointer] = []
    private var queued: [(index: Int, buffer: UnsafeMutableRawBufferPointer, rows: Int)] = []
    private var encoded: [Int: EncodedStrip] = [:]
    private var failure: AttachmentError?
    private var stopping = false
    private var runningThreads = 0

    init(image: ImageDescription, options: JPEGOptions, stripRows: Int, threads: Int) {
        self.image = image
        self.options = options
        components = JPEGStripEncoder.components(image)
        rowBytes = image.width * components
        // One buffer per thread, and one for the caller to fill meanwhile.
        for _ in 0...threads {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: stripRows * rowBytes, alignment: 64)
            allBuffers.append(buffer)
            freeBuffers.append(buffer)
        }
        runningThreads = threads
        for _ in 0..<threads {
            BlockingCalls.shared.start(named: "counterkit-jpeg-strips") { [self] in run() }
        }
    }

    deinit { for buffer in allBuffers { buffer.deallocate() } }

    /// Drops strips not yet started, ends the threads and waits for them.
    func stop() {
        condition.lock()
        stopping = true
        freeBuffers += queued.map(\.buffer)
        queued.removeAll()
        condition.broadcast()
        while runningThreads > 0 { condition.wait() }
        condition.unlock()
    }

    /// A free strip buffer, waiting while all are in use.
    func takeBuffer() throws(AttachmentError) -> UnsafeMutableRawBufferPointer {
        condition.lock()
        defer { condition.unlock() }
        while freeBuffers.isEmpty && failure == nil { condition.wait() }
        if let failure { throw failure }
        return freeBuffers.removeLast()
    }

    func submit(index: Int, buffer: UnsafeMutableRawBufferPointer, rows: Int) {
        condition.lock()
        queued.append((index, buffer, rows))
        condition.broadcast()
        condition.unlock()
    }

    /// Strip `index` once compressed (nil if not yet and not `waiting`); throws the first failure.
    func takeEncoded(index: Int, waiting: Bool) throws(AttachmentError) -> EncodedStrip? {
        condition.lock()
        defer { condition.unlock() }
        while waiting && encoded[index] == nil && failure == nil { condition.wait() }
        if let failure { throw failure }
        return encoded.removeValue(forKey: index)
    }

    private func run() {
        let encoder = ck_jpeg_encoder_create()
        encoder?.pointee.input_ycc = options.rowsAreYCbCr ? 1 : 0
        defer {
            ck_jpeg_encoder_destroy(encoder)
            condition.lock()
            runningThreads -= 1
            condition.broadcast()
            condition.unlock()
        }
        while true {
            condition.lock()
            while queued.isEmpty && !stopping { condition.wait() }
            guard !queued.isEmpty else {
                condition.unlock()
                return
            }
            let job = queued.removeFirst()
            condition.unlock()
            let result: Result<EncodedStrip, AttachmentError> =
                if let encoder {
                    compress(job.buffer, rows: job.rows, keepingHeaders: job.index == 0, with: encoder)
                } else {
                    .failure(AttachmentError(.encoderFailed, "libjpeg could not allocate an encoder"))
                }
            condition.lock()
            freeBuffers.append(job.buffer)
            switch result {
            case .success(let bytes): encoded[job.index] = bytes
            case .failure(let error): if failure == nil { failure = error }
            }
            condition.broadcast()
            condition.unlock()
        }
    }

    private func compress(
        _ buffer: UnsafeMutableRawBufferPointer, rows: Int, keepingHeaders: Bool,
        with encoder: UnsafeMutablePointer<ck_jpeg_encoder>
    ) -> Result<EncodedStrip, AttachmentError> {
        let sampling = options.effectiveSubsampling.lumaSampling
        let dpi = UInt16(clamping: Int(image.dpi.rounded()))
        guard
            ck_jpeg_encoder_start_memory(
                encoder, JDIMENSION(image.width), JDIMENSION(rows), Int32(components),
                Int32(options.quality), sampling.horizontal, sampling.vertical, dpi, dpi) == 0
        else {
            return .failure(failed(encoder))
        }
        var pointers = (0..<rows).map { row -> JSAMPROW? in
            (buffer.baseAddress! + row * rowBytes).assumingMemoryBound(to: JSAMPLE.self)
        }
        let status = pointers.withUnsafeMutableBufferPointer { ck_jpeg_encoder_write_rows(encoder, $0.baseAddress, JDIMENSION(rows)) }
        guard status == 0, ck_jpeg_encoder_finish(encoder) == 0 else { return .failure(failed(encoder)) }
        let memory = encoder.pointee.memory
        let jpeg = UnsafeRawBufferPointer(start: memory.data, count: memory.length)
        let walk: JPEGMarkerWalk
        do { walk = try JPEGMarkerWalk(jpeg) } catch { return .failure(error) }
        guard jpeg.count >= walk.scanDataStart + 2, jpeg[jpeg.count - 2] == 0xFF, jpeg[jpeg.count - 1] == 0xD9 else {
            return .failure(AttachmentError(.encoderFailed, "libjpeg wrote a strip without its end marker"))
        }
        return .success(
            EncodedStrip(
                headers: keepingHeaders ? Array(jpeg[0..<walk.scanDataStart]) : [], heightOffset: walk.frameHeaderStart + 5,
                scanHeaderStart: walk.scanStart, scanData: Array(jpeg[walk.scanDataStart..<(jpeg.count - 2)])))
    }

    private func failed(_ encoder: UnsafeMutablePointer<ck_jpeg_encoder>) -> AttachmentError {
        let error = AttachmentError(.encoderFailed, "libjpeg: \(String(cString: ck_jpeg_encoder_message(encoder)))")
        ck_jpeg_encoder_abort(encoder)
        return error
    }
}
