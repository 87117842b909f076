import CTurboJPEG

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

    /// Creates options; quality is clamped to 1…100.
    public init(quality: Int = 85, subsampling: ChromaSubsampling? = nil) {
        self.quality = min(max(quality, 1), 100)
        self.subsampling = subsampling
    }

    /// The subsampling used: as given, or 4:4:4 at quality 90 and above
    /// (where 4:2:0 would cap fidelity on coloured detail) and 4:2:0 below.
    public var effectiveSubsampling: ChromaSubsampling {
        subsampling ?? (quality >= 90 ? .s444 : .s420)
    }
}

/// Streams rows into a baseline JFIF file through libjpeg-turbo.
///
/// Lineart and 16-bit rows are converted to 8-bit as they arrive.
public final class JPEGEncoder: RowEncoder {
    public let image: ImageDescription
    public var rowsWritten: Int { accounting.rows }
    private var accounting: RowAccounting
    private let output: OutputFile
    private let encoder: UnsafeMutablePointer<ck_jpeg_encoder>
    private let converted: RowBuffer?

    /// Writes the JPEG header to `output`; rows follow with `write(row:)`.
    public init(image: ImageDescription, options: JPEGOptions = JPEGOptions(), output: OutputFile) throws(AttachmentError) {
        try image.validate()
        guard !image.format.hasAlpha else { throw AttachmentError(.invalidImage, "JPEG cannot store transparency; use PNG") }
        guard image.width <= 65_500, image.height <= 65_500 else {
            throw AttachmentError(.invalidImage, "JPEG cannot hold \(image.width)x\(image.height) pixels")
        }
        guard let encoder = ck_jpeg_encoder_create() else {
            throw AttachmentError(.encoderFailed, "libjpeg could not allocate an encoder")
        }
        self.image = image
        self.accounting = RowAccounting(image)
        self.output = output
        self.encoder = encoder
        let eightBit = image.format.eightBit
        self.converted = image.format == eightBit ? nil : RowBuffer(count: eightBit.bytesPerRow(width: image.width))
        let sampling = options.effectiveSubsampling.lumaSampling
        let dpi = UInt16(clamping: Int(image.dpi.rounded()))
        let status = ck_jpeg_encoder_start(
            encoder, output.stream, JDIMENSION(image.width), JDIMENSION(image.height),
            Int32(image.format.channels), Int32(options.quality), sampling.horizontal, sampling.vertical, dpi, dpi)
        try check(status)
    }

    deinit { ck_jpeg_encoder_destroy(encoder) }

    public func write(row: UnsafeRawBufferPointer) throws(AttachmentError) {
        try accounting.accept(row)
        var source = row
        if let converted {
            SampleConversion.toEightBit(row, format: image.format, width: image.width, into: converted.bytes)
            source = UnsafeRawBufferPointer(converted.bytes)
        }
        var pointer: JSAMPROW? = UnsafeMutablePointer(mutating: source.baseAddress!.assumingMemoryBound(to: JSAMPLE.self))
        try check(ck_jpeg_encoder_write_rows(encoder, &pointer, 1))
    }

    public func finish() throws(AttachmentError) {
        try accounting.checkComplete()
        try check(ck_jpeg_encoder_finish(encoder))
    }

    private func check(_ status: Int32) throws(AttachmentError) {
        guard status == 0 else {
            throw AttachmentError(.encoderFailed, "libjpeg: \(String(cString: ck_jpeg_encoder_message(encoder)))")
        }
    }
}
