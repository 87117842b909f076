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
    public func encode(
        _ pixels: UnsafeRawBufferPointer, format: PixelFormat, width: Int, height: Int,
        ycbcr: Bool = false
    ) throws(AttachmentError) -> Data {
        guard pixels.count >= format.bytesPerRow(width: width) * height else {
            throw AttachmentError(.invalidImage, "cannot compress \(width)x\(height) \(format.rawValue) from \(pixels.count) bytes")
        }
        try start(format: format, width: width, height: height, ycbcr: ycbcr)
        try write(pixels, rows: height, rowBytes: format.bytesPerRow(width: width))
        return try finish()
    }

    /// Compresses the rows of `bands`, one after another, as one image: each band holds whole rows of `width` pixels of
    /// `format` (`.gray8` or `.rgb8`), tightly packed. The bands are read where they lie, not first copied together.
    public func encode(bands: [Data], format: PixelFormat, width: Int) throws(AttachmentError) -> Data {
        let rowBytes = format.bytesPerRow(width: width)
        guard rowBytes > 0, bands.allSatisfy({ $0.count % rowBytes == 0 }) else {
            throw AttachmentError(.invalidImage, "bands of \(bands.map(\.count)) bytes are not whole rows of \(width) \(format.rawValue) pixels")
        }
        let height = bands.reduce(0) { $0 + $1.count / rowBytes }
        try start(format: format, width: width, height: height, ycbcr: false)
        for band in bands where !band.isEmpty {
            let failure: AttachmentError? = band.withUnsafeBytes { bytes in
                do throws(AttachmentError) { try write(bytes, rows: bytes.count / rowBytes, rowBytes: rowBytes) } catch { return error }
                return nil
            }
            if let failure { throw failure }
        }
        return try finish()
    }

    private func start(format: PixelFormat, width: Int, height: Int, ycbcr: Bool) throws(AttachmentError) {
        guard format == .gray8 || format == .rgb8, width > 0, height > 0, width <= 65_500, height <= 65_500 else {
            throw AttachmentError(.invalidImage, "cannot compress \(width)x\(height) \(format.rawValue)")
        }
        let sampling = (format == .gray8 ? ChromaSubsampling.s444 : subsampling).lumaSampling
        encoder.pointee.input_ycc = ycbcr ? 1 : 0
        guard
            ck_jpeg_encoder_start_memory(
                encoder, JDIMENSION(width), JDIMENSION(height), Int32(format.channels), Int32(quality),
                sampling.horizontal, sampling.vertical, 0, 0) == 0
        else { throw failed() }
    }

    private func write(_ pixels: UnsafeRawBufferPointer, rows count: Int, rowBytes: Int) throws(AttachmentError) {
        var rows = (0..<count).map { row -> JSAMPROW? in
            UnsafeMutablePointer(mutating: (pixels.baseAddress! + row * rowBytes).assumingMemoryBound(to: JSAMPLE.self))
        }
        let status = rows.withUnsafeMutableBufferPointer { ck_jpeg_encoder_write_rows(encoder, $0.baseAddress, JDIMENSION(count)) }
        guard status == 0 else { throw failed() }
    }

    private func finish() throws(AttachmentError) -> Data {
        guard ck_jpeg_encoder_finish(encoder) == 0 else { throw failed() }
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
    /// Per source sample: its sum over the source rows of the pending output row (since the last spill). Sixteen bits
    /// halve the memory the per-row sum walks; they hold 257 rows of 255. Followed by `widestRun` pixels of zeros, so
    /// a window may run past the last column.
    private let columnSums: UnsafeMutableBufferPointer<UInt16>
    /// The most source columns an output column covers; the others cover one fewer (`start` spaces them so).
    private let widestRun: Int
    /// Per output column: 1 when it covers `widestRun - 1` source columns.
    private let shortRun: UnsafeMutableBufferPointer<UInt8>
    /// Per source sample: the sum of `columnSums` over the `widestRun` pixels starting at it.
    private let windowSums: UnsafeMutableBufferPointer<UInt16>
    /// Where `columnSums` spill every 257 rows when an output row covers more source rows than that (very narrow
    /// views of very wide pages); empty otherwise.
    private let spilled: UnsafeMutableBufferPointer<UInt32>
    private var rowsSinceSpill = 0
    private var reciprocalTables: [Int: UnsafeMutableBufferPointer<UInt64>] = [:]
    private var scaleTables: [Int: UnsafeMutableBufferPointer<Float>] = [:]
    /// An output row's sums, before `averageByWindows` scales them.
    private let outputTotals: UnsafeMutableBufferPointer<UInt16>
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
        let starts = (0...width).map { ($0 * sourceWidth + width - 1) / width }
        start = .allocate(capacity: width + 1)
        _ = start.initialize(from: starts)
        let runs = (0..<width).map { starts[$0 + 1] - starts[$0] }
        widestRun = max(runs.max() ?? 1, 1)
        shortRun = .allocate(capacity: width)
        for column in 0..<width { shortRun[column] = runs[column] < widestRun ? 1 : 0 }
        let samples = max(sourceWidth, 1) * format.channels
        columnSums = .allocate(capacity: samples + widestRun * format.channels)
        columnSums.initialize(repeating: 0)
        windowSums = .allocate(capacity: samples)
        windowSums.initialize(repeating: 0)
        outputTotals = .allocate(capacity: width * format.channels)
        outputTotals.initialize(repeating: 0)
        let rowsPerOutputRow = (max(sourceWidth, 1) + width - 1) / width + 1
        spilled = .allocate(capacity: rowsPerOutputRow > Self.rowsPerSpill ? samples : 0)
        spilled.initialize(repeating: 0)
        eightBit = RowBuffer(count: sourceFormat.eightBit.bytesPerRow(width: sourceWidth))
        output = RowBuffer(count: format.bytesPerRow(width: width))
    }

    deinit {
        start.deallocate()
        shortRun.deallocate()
        columnSums.deallocate()
        windowSums.deallocate()
        spilled.deallocate()
        for table in reciprocalTables.values { table.deallocate() }
        for table in scaleTables.values { table.deallocate() }
        outputTotals.deallocate()
    }

    private static let rowsPerSpill = Int(UInt16.max / 255)

    private func spill() {
        for index in 0..<spilled.count { spilled[index] &+= UInt32(columnSums[index]) }
        columnSums.update(repeating: 0)
        rowsSinceSpill = 0
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
        if rowsSinceSpill == Self.rowsPerSpill { spill() }
        let sums = self.columnSums.baseAddress!
        for index in 0..<(sourceWidth * channels) { sums[index] &+= UInt16(samples[index]) }
        rowsSinceSpill += 1
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
        if spilled.isEmpty, Int(rowsSummed) * widestRun <= Int(UInt16.max / 255) {
            averageByWindows()
            columnSums.update(repeating: 0)
            rowsSinceSpill = 0
        } else if spilled.isEmpty {
            average(columnSums.baseAddress!)
            columnSums.update(repeating: 0)
            rowsSinceSpill = 0
        } else {
            spill()
            average(spilled.baseAddress!)
            spilled.update(repeating: 0)
        }
        rowsSummed = 0
        pending = false
        try emit(UnsafeRawBufferPointer(output.bytes))
    }

    /// Per output column, 2^32 / (its source columns × `rows`), for output rows that summed `rows` source rows (kept
    /// per row count: a page's output rows cover one of two counts, and its last row perhaps a third).
    private func reciprocals(rows: Int) -> UnsafeMutableBufferPointer<UInt64> {
        if let table = reciprocalTables[rows] { return table }
        let table = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: width)
        for x in 0..<width { table[x] = (UInt64(1) << 32) / UInt64(max((start[x + 1] - start[x]) * rows, 1)) }
        reciprocalTables[rows] = table
        return table
    }

    /// `average` for output rows whose window sums fit 16 bits (all but very narrow views): the sums of `widestRun`
    /// neighbouring pixels are made for every source sample in a few plain passes, each output sample takes its
    /// window's sum (less its last pixel when it covers one column fewer), and all are scaled in one more pass; the
    /// compiler vectorizes all but the middle step.
    private func averageByWindows() {
        let samples = sourceWidth * channels
        let sums = columnSums.baseAddress!, windows = windowSums.baseAddress!
        // One pass for the usual runs (a view a quarter of the page: 4 or 5 columns), one per column beyond.
        let c = channels
        switch widestRun {
        case 1: windows.update(from: sums, count: samples)
        case 2: for i in 0..<samples { windows[i] = sums[i] &+ sums[i &+ c] }
        case 3: for i in 0..<samples { windows[i] = sums[i] &+ sums[i &+ c] &+ sums[i &+ 2 &* c] }
        case 4: for i in 0..<samples { windows[i] = sums[i] &+ sums[i &+ c] &+ sums[i &+ 2 &* c] &+ sums[i &+ 3 &* c] }
        default:
            for i in 0..<samples {
                windows[i] = sums[i] &+ sums[i &+ c] &+ sums[i &+ 2 &* c] &+ sums[i &+ 3 &* c] &+ sums[i &+ 4 &* c]
            }
            for offset in 5..<widestRun {
                let shifted = sums + offset * c
                for i in 0..<samples { windows[i] &+= shifted[i] }
            }
        }
        let start = self.start.baseAddress!, short = shortRun.baseAddress!, totals = outputTotals.baseAddress!
        let lastOffset = (widestRun - 1) * channels
        if channels == 3 {
            for x in 0..<width {
                let from = start[x] &* 3
                // A short run's window reaches one pixel into the next run: that pixel's sums come off.
                let cut = from &+ lastOffset, drop = 0 &- UInt16(short[x])  // all ones for a short run, else zero
                totals[x &* 3] = windows[from] &- (sums[cut] & drop)
                totals[x &* 3 &+ 1] = windows[from &+ 1] &- (sums[cut &+ 1] & drop)
                totals[x &* 3 &+ 2] = windows[from &+ 2] &- (sums[cut &+ 2] & drop)
            }
        } else {
            for x in 0..<width {
                totals[x] = windows[start[x]] &- (sums[start[x] &+ lastOffset] & (0 &- UInt16(short[x])))
            }
        }
        // Single precision is exact enough: a total below 2^16 times its count's rounded reciprocal is within 1/30 000
        // of the true mean, so only a mean that close to a half can round the other way (one level off at most).
        // Adding 1.5 x 2^23 leaves the mean rounded to an integer in the low bits of the float, which a checked
        // conversion (that the compiler does not vectorize) would otherwise have to do.
        let scales = sampleScales(rows: Int(rowsSummed)).baseAddress!
        let out = output.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        for index in 0..<(width * channels) {
            out[index] = UInt8(truncatingIfNeeded: (Float(totals[index]) * scales[index] + 12_582_912).bitPattern)
        }
    }

    /// Per output sample, 1 / (its source columns × `rows`), for `averageByWindows` (kept per row count).
    private func sampleScales(rows: Int) -> UnsafeMutableBufferPointer<Float> {
        if let table = scaleTables[rows] { return table }
        let table = UnsafeMutableBufferPointer<Float>.allocate(capacity: width * channels)
        for x in 0..<width {
            let scale = 1 / Float(max((start[x + 1] - start[x]) * rows, 1))
            for channel in 0..<channels { table[x * channels + channel] = scale }
        }
        scaleTables[rows] = table
        return table
    }

    /// Sums each output pixel's source columns and divides by the samples summed, into `output`.
    private func average<Sum: FixedWidthInteger & UnsignedInteger>(_ sums: UnsafePointer<Sum>) {
        let start = self.start.baseAddress!, out = output.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let reciprocals = reciprocals(rows: Int(rowsSummed))
        // One pass per output pixel with a sum per channel, and the rounding division done as a multiplication by a
        // 32-bit fixed-point reciprocal from a table: this runs once per output row over the whole source width.
        func rounded(_ total: UInt32, _ reciprocal: UInt64) -> UInt8 {
            UInt8(truncatingIfNeeded: (UInt64(total) &* reciprocal &+ (1 << 31)) >> 32)
        }
        if channels == 3 {
            for x in 0..<width {
                var red: UInt32 = 0, green: UInt32 = 0, blue: UInt32 = 0
                var from = start[x] * 3
                let end = start[x + 1] * 3
                while from < end {
                    red &+= UInt32(sums[from])
                    green &+= UInt32(sums[from + 1])
                    blue &+= UInt32(sums[from + 2])
                    from += 3
                }
                out[x * 3] = rounded(red, reciprocals[x])
                out[x * 3 + 1] = rounded(green, reciprocals[x])
                out[x * 3 + 2] = rounded(blue, reciprocals[x])
            }
        } else {
            for x in 0..<width {
                var total: UInt32 = 0
                for from in start[x]..<start[x + 1] { total &+= UInt32(sums[from]) }
                out[x] = rounded(total, reciprocals[x])
            }
        }
    }
}
