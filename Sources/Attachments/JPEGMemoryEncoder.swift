import CTurboJPEG
import Foundation

/// Compresses small images held in memory (preview frames, live scan bands) into JPEG bytes through libjpeg-turbo,
/// reusing one compressor and one output buffer from image to image. Not thread-safe: one owner at a time.
public final class JPEGMemoryEncoder {
    private let encoder: UnsafeMutablePointer<ck_jpeg_encoder>
    /// Quality 1…100 of every image it makes.
    public let quality: Int
    /// Chroma subsampling of colour images.
    public let subsampling: ChromaSubsampling

    /// A compressor at `quality` and `subsampling` (previews: 80 and 4:2:0; small scan bands keep full chroma).
    public init(quality: Int = 80, subsampling: ChromaSubsampling = .s420) throws(AttachmentError) {
        guard let encoder = ck_jpeg_encoder_create() else { throw AttachmentError(.encoderFailed, "libjpeg could not allocate an encoder") }
        self.encoder = encoder
        self.quality = min(max(quality, 1), 100)
        self.subsampling = subsampling
    }

    deinit { ck_jpeg_encoder_destroy(encoder) }

    /// Compresses `height` rows of `width` 8-bit gray or RGB pixels (`format` `.gray8` or `.rgb8`), tightly packed in
    /// `pixels`, into a baseline JFIF file. With `ycbcr`, three-sample pixels are Y'CbCr as JPEG stores it (full-range
    /// BT.601) rather than RGB, and go in without a colour conversion.
    public func encode(_ pixels: UnsafeRawBufferPointer, format: PixelFormat, width: Int, height: Int,
                       ycbcr: Bool = false) throws(AttachmentError) -> Data {
        guard format == .gray8 || format == .rgb8, width > 0, height > 0, width <= 65_500, height <= 65_500,
              pixels.count >= format.bytesPerRow(width: width) * height else {
            throw AttachmentError(.invalidImage, "cannot compress \(width)x\(height) \(format.rawValue) from \(pixels.count) bytes")
        }
        let sampling = (format == .gray8 ? ChromaSubsampling.s444 : subsampling).lumaSampling
        encoder.pointee.input_ycc = ycbcr ? 1 : 0
        guard ck_jpeg_encoder_start_memory(encoder, JDIMENSION(width), JDIMENSION(height), Int32(format.channels), Int32(quality),
                                           sampling.horizontal, sampling.vertical, 0, 0) == 0 else { throw failed() }
        let rowBytes = format.bytesPerRow(width: width)
        var rows = (0..<height).map { row -> JSAMPROW? in
            UnsafeMutablePointer(mutating: (pixels.baseAddress! + row * rowBytes).assumingMemoryBound(to: JSAMPLE.self))
        }
        let status = rows.withUnsafeMutableBufferPointer { ck_jpeg_encoder_write_rows(encoder, $0.baseAddress, JDIMENSION(height)) }
        guard status == 0, ck_jpeg_encoder_finish(encoder) == 0 else { throw failed() }
        let memory = encoder.pointee.memory
        return Data(bytes: memory.data, count: memory.length)
    }

    private func failed() -> AttachmentError {
        let error = AttachmentError(.encoderFailed, "libjpeg: \(String(cString: ck_jpeg_encoder_message(encoder)))")
        ck_jpeg_encoder_abort(encoder)
        return error
    }
}

/// Shrinks an image that arrives row by row to a narrower width (and the same factor in height) by averaging the
/// source pixels each output pixel covers, holding one row of per-sample sums: for live scan bands and previews.
/// Rows come in any `PixelFormat` without alpha and leave as `.gray8` or `.rgb8`.
public final class RowDownscaler {
    /// The output rows' format: `.gray8` or `.rgb8`.
    public let format: PixelFormat
    /// Output width (at most the source's).
    public let width: Int
    private let sourceFormat: PixelFormat
    private let sourceWidth: Int
    private let channels: Int
    /// The first source column of each output column (and, last, the source width): output column `o` averages
    /// source columns `start[o] ..< start[o + 1]`, the ones with `x * width / sourceWidth == o`.
    private let start: UnsafeMutableBufferPointer<Int>
    /// Per source sample: its sum over the source rows of the pending output row.
    private let columnSums: UnsafeMutableBufferPointer<UInt32>
    /// Source rows summed into the pending output row.
    private var rowsSummed: UInt32 = 0
    private let eightBit: RowBuffer
    private let output: RowBuffer
    private var sourceRows = 0
    private var currentRow = 0
    private var pending = false

    /// A downscaler from `sourceWidth` pixels of `sourceFormat` to `width` (clamped to 1…`sourceWidth`).
    public init(sourceFormat: PixelFormat, sourceWidth: Int, width: Int) {
        self.sourceFormat = sourceFormat
        self.sourceWidth = sourceWidth
        self.format = sourceFormat.channels == 3 ? .rgb8 : .gray8
        self.channels = format.channels
        let width = min(max(width, 1), max(sourceWidth, 1))
        self.width = width
        start = .allocate(capacity: width + 1)
        for column in 0...width { start[column] = (column * sourceWidth + width - 1) / width }
        columnSums = .allocate(capacity: max(sourceWidth, 1) * format.channels)
        columnSums.initialize(repeating: 0)
        eightBit = RowBuffer(count: sourceFormat.eightBit.bytesPerRow(width: sourceWidth))
        output = RowBuffer(count: format.bytesPerRow(width: width))
    }

    deinit {
        start.deallocate()
        columnSums.deallocate()
    }

    /// The output row a source row `y` falls in.
    private func outputRow(_ y: Int) -> Int { y * width / max(sourceWidth, 1) }

    /// Adds one source row; calls `emit` with each output row it completes.
    public func add(_ row: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        let target = outputRow(sourceRows)
        if pending, target != currentRow { try flush(emit) }
        currentRow = target
        let samples: UnsafePointer<UInt8>
        if sourceFormat == format {
            samples = row.baseAddress!.assumingMemoryBound(to: UInt8.self)
        } else {
            SampleConversion.toEightBit(row, format: sourceFormat, width: sourceWidth, into: eightBit.bytes)
            samples = UnsafePointer(eightBit.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        // Rows are summed sample by sample first (a plain loop over contiguous memory, which the compiler vectorizes);
        // the columns are summed once per output row, in `flush`.
        let sums = self.columnSums.baseAddress!
        for index in 0..<(sourceWidth * channels) { sums[index] &+= UInt32(samples[index]) }
        rowsSummed += 1
        sourceRows += 1
        pending = true
    }

    /// Emits the last, partly covered output row, if any; the downscaler then starts a new image.
    public func finish(emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        if pending { try flush(emit) }
        sourceRows = 0
        currentRow = 0
    }

    private func flush(_ emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        let sums = columnSums.baseAddress!, start = self.start.baseAddress!
        for x in 0..<width {
            let count = max(UInt32(start[x + 1] - start[x]) * rowsSummed, 1)
            for channel in 0..<channels {
                var total: UInt32 = 0
                var from = start[x] * channels + channel
                let end = start[x + 1] * channels
                while from < end {
                    total &+= sums[from]
                    from += channels
                }
                output.bytes[x * channels + channel] = UInt8((total + count / 2) / count)
            }
        }
        columnSums.update(repeating: 0)
        rowsSummed = 0
        pending = false
        try emit(UnsafeRawBufferPointer(output.bytes))
    }
}
