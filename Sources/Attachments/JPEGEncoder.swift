import CTurboJPEG
import Foundation

/// How JPEG stores colour detail relative to brightness.
public enum ChromaSubsampling: String, Sendable, Codable, CaseIterable {
    /// Full colour resolution.
    case s444 = "4:4:4"
    /// Half horizontal colour resolution.
    case s422 = "4:2:2"
    /// Half horizontal and vertical colour resolution (the usual default).
    case s420 = "4:2:0"

    var lumaSampling: (horizontal: Int32, vertical: Int32) {
        switch self {
        case .s444: (1, 1)
        case .s422: (2, 1)
        case .s420: (2, 2)
        }
    }
}

/// JPEG compression settings.
public struct JPEGOptions: Sendable, Equatable, Codable {
    /// Quality 1…100.
    public var quality: Int
    /// Chroma subsampling for colour images; nil chooses by quality.
    public var subsampling: ChromaSubsampling?
    /// Threads that compress a large image together, each a horizontal strip joined to the next with a
    /// restart marker (a few bytes per strip; decoded pixels are the same). 1 compresses in one pass.
    /// Defaults to the processor count, at most 4. Not part of the encoded form.
    public var threads: Int = JPEGOptions.defaultThreads

    /// Whether three-sample rows are Y'CbCr as JPEG stores it (full-range BT.601) rather than RGB: a camera's own
    /// Y'CbCr goes in without a round trip through RGB. Not part of the encoded form.
    public var rowsAreYCbCr = false

    /// The default for `threads`.
    public static let defaultThreads = min(max(ProcessInfo.processInfo.activeProcessorCount, 1), 4)

    private enum CodingKeys: String, CodingKey { case quality, subsampling }

    /// Creates options; quality is clamped to 1…100.
    public init(quality: Int = 85, subsampling: ChromaSubsampling? = nil) {
        self.quality = min(max(quality, 1), 100)
        self.subsampling = subsampling
    }

    /// Creates options with an explicit thread count (at least 1).
    public init(quality: Int = 85, subsampling: ChromaSubsampling? = nil, threads: Int) {
        self.init(quality: quality, subsampling: subsampling)
        self.threads = max(threads, 1)
    }

    /// The subsampling used: as given, or 4:4:4 at quality 90 and above
    /// (where 4:2:0 would cap fidelity on coloured detail) and 4:2:0 below.
    public var effectiveSubsampling: ChromaSubsampling {
        subsampling ?? (quality >= 90 ? .s444 : .s420)
    }
}

/// Streams rows into a baseline JFIF file through libjpeg-turbo.
///
/// Lineart and 16-bit rows are converted to 8-bit as they arrive. A large image is compressed by
/// `JPEGOptions.threads` threads at once, in strips joined by restart markers; its rows are still
/// taken one at a time, and at most `threads + 1` strips are held.
public final class JPEGEncoder: RowEncoder {
    public let image: ImageDescription
    public var rowsWritten: Int { accounting.rows }
    private var accounting: RowAccounting
    private let output: OutputFile
    private let encoder: UnsafeMutablePointer<ck_jpeg_encoder>?
    private let strips: JPEGStripEncoder?
    private let converted: RowBuffer?

    /// Writes the JPEG header to `output`; rows follow with `write(row:)`.
    public convenience init(image: ImageDescription, options: JPEGOptions = JPEGOptions(), output: OutputFile) throws(AttachmentError) {
        try self.init(image: image, options: options, output: output, restartInterval: 0)
    }

    /// As above; `restartInterval` (MCUs, single-pass only) is for checking the strips against one pass.
    init(image: ImageDescription, options: JPEGOptions, output: OutputFile, restartInterval: Int) throws(AttachmentError) {
        try image.validate()
        guard !image.format.hasAlpha else { throw AttachmentError(.invalidImage, "JPEG cannot store transparency; use PNG") }
        guard image.width <= 65_500, image.height <= 65_500 else {
            throw AttachmentError(.invalidImage, "JPEG cannot hold \(image.width)x\(image.height) pixels")
        }
        self.image = image
        self.accounting = RowAccounting(image)
        self.output = output
        let eightBit = image.format.eightBit
        if options.threads > 1, restartInterval == 0, let geometry = JPEGStripEncoder.geometry(image: image, options: options) {
            // Rows are converted straight into the strip buffers.
            converted = nil
            encoder = nil
            strips = JPEGStripEncoder(image: image, options: options, output: output, threads: options.threads, geometry: geometry)
            return
        }
        strips = nil
        guard let encoder = ck_jpeg_encoder_create() else {
            throw AttachmentError(.encoderFailed, "libjpeg could not allocate an encoder")
        }
        self.encoder = encoder
        self.converted = image.format == eightBit ? nil : RowBuffer(count: eightBit.bytesPerRow(width: image.width))
        encoder.pointee.input_ycc = options.rowsAreYCbCr ? 1 : 0
        let sampling = options.effectiveSubsampling.lumaSampling
        let dpi = UInt16(clamping: Int(image.dpi.rounded()))
        let status = ck_jpeg_encoder_start(
            encoder, output.stream, JDIMENSION(image.width), JDIMENSION(image.height),
            Int32(image.format.channels), Int32(options.quality), sampling.horizontal, sampling.vertical, dpi, dpi,
            UInt32(clamping: restartInterval))
        try check(status)
    }

    deinit { if let encoder { ck_jpeg_encoder_destroy(encoder) } }

    /// The rows per strip when the image is compressed in strips (nil in one pass).
    var stripRows: Int? { strips?.stripRows }

    public func write(row: UnsafeRawBufferPointer) throws(AttachmentError) {
        try accounting.accept(row)
        if let strips {
            SampleConversion.toEightBit(row, format: image.format, width: image.width, into: try strips.nextRow())
            try strips.rowFilled(isLast: accounting.rows == image.height)
            return
        }
        var source = row
        if let converted {
            SampleConversion.toEightBit(row, format: image.format, width: image.width, into: converted.bytes)
            source = UnsafeRawBufferPointer(converted.bytes)
        }
        var pointer: JSAMPROW? = UnsafeMutablePointer(mutating: source.baseAddress!.assumingMemoryBound(to: JSAMPLE.self))
        try check(ck_jpeg_encoder_write_rows(encoder!, &pointer, 1))
    }

    public func finish() throws(AttachmentError) {
        try accounting.checkComplete()
        if let strips {
            try strips.finish()
            return
        }
        try check(ck_jpeg_encoder_finish(encoder!))
    }

    private func check(_ status: Int32) throws(AttachmentError) {
        guard status == 0 else {
            throw output.failure(orElse: AttachmentError(.encoderFailed, "libjpeg: \(String(cString: ck_jpeg_encoder_message(encoder!)))"))
        }
    }
}
