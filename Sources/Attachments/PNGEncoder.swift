import CPNG

/// PNG compression settings.
public struct PNGOptions: Sendable, Equatable, Codable {
    /// Row filters libpng may choose from.
    public struct Filters: OptionSet, Sendable, Equatable, Codable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        /// No filter.
        public static let none = Filters(rawValue: 0x08)
        /// Difference to the pixel on the left.
        public static let sub = Filters(rawValue: 0x10)
        /// Difference to the pixel above.
        public static let up = Filters(rawValue: 0x20)
        /// Difference to the mean of left and above.
        public static let average = Filters(rawValue: 0x40)
        /// Paeth predictor of left, above and upper left.
        public static let paeth = Filters(rawValue: 0x80)
        /// All five filters, libpng's default.
        public static let all: Filters = [.none, .sub, .up, .average, .paeth]
    }

    /// zlib level 0…9.
    public var compressionLevel: Int
    /// Filters to try on each row.
    public var filters: Filters

    /// Creates options; the defaults are the ones chosen by the benchmark (see README).
    public init(compressionLevel: Int = PNGOptions.default.compressionLevel, filters: Filters = PNGOptions.default.filters) {
        self.compressionLevel = min(max(compressionLevel, 0), 9)
        self.filters = filters
    }

    private init(level: Int, filters: Filters) {
        self.compressionLevel = level
        self.filters = filters
    }

    /// Chosen from `make bench`: at least twice as fast as libpng's defaults
    /// on a scanned page, with output within 15% of their size.
    public static let `default` = PNGOptions(level: 2, filters: [.up])
    /// libpng's own defaults (level 6, all filters), the benchmark's peer.
    public static let libpngDefault = PNGOptions(level: 6, filters: .all)
}

/// Streams rows into a PNG file through libpng.
public final class PNGEncoder: RowEncoder {
    public let image: ImageDescription
    public var rowsWritten: Int { accounting.rows }
    private var accounting: RowAccounting
    private let output: OutputFile
    private var png: png_structp?
    private var info: png_infop?
    private var error = ck_png_error()

    /// Writes the PNG header to `output`; rows follow with `write(row:)`.
    public init(image: ImageDescription, options: PNGOptions = .default, output: OutputFile) throws(AttachmentError) {
        try image.validate()
        self.image = image
        self.accounting = RowAccounting(image)
        self.output = output
        guard let png = ck_png_create_write(&error), let info = png_create_info_struct(png) else {
            throw AttachmentError(.encoderFailed, "libpng could not allocate a writer")
        }
        self.png = png
        self.info = info
        let colorType: Int32 =
            switch image.format.channels {
            case 3: PNG_COLOR_TYPE_RGB
            case 2: PNG_COLOR_TYPE_GRAY_ALPHA
            default: PNG_COLOR_TYPE_GRAY
            }
        let pixelsPerMetre = png_uint_32((image.dpi / 0.0254).rounded())
        let status = ck_png_write_header(
            png, info, output.stream, png_uint_32(image.width), png_uint_32(image.height),
            Int32(image.format.bitsPerSample), colorType, pixelsPerMetre,
            Int32(options.compressionLevel), 0, options.filters.rawValue,
            image.format.bitsPerSample == 16 && SampleConversion.hostIsLittleEndian ? 1 : 0,
            image.format == .blackAndWhite ? 1 : 0)
        try check(status)
    }

    deinit { ck_png_destroy_write(png, info) }

    public func write(row: UnsafeRawBufferPointer) throws(AttachmentError) {
        try accounting.accept(row)
        // libpng copies the row before its transforms (swap, invert), so the caller's bytes stay intact.
        try check(ck_png_write_row(png, row.baseAddress!.assumingMemoryBound(to: UInt8.self)))
    }

    public func finish() throws(AttachmentError) {
        try accounting.checkComplete()
        try check(ck_png_write_end(png, info))
    }

    private func check(_ status: Int32) throws(AttachmentError) {
        guard status == 0 else {
            let message = withUnsafeBytes(of: error.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw output.failure(orElse: AttachmentError(.encoderFailed, "libpng: \(message)"))
        }
    }
}
