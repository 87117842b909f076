/// How the samples of one pixel row are laid out.
///
/// Rows are tightly packed (no padding). 16-bit samples are in host byte order,
/// as SANE delivers them; 1-bit rows are packed MSB first with 1 = black, as in
/// SANE and PBM.
public enum PixelFormat: String, Sendable, Codable, CaseIterable {
    /// 1 bit per pixel, packed MSB first, 1 = black.
    case blackAndWhite = "bw1"
    /// 8-bit gray.
    case gray8
    /// 16-bit gray, host byte order.
    case gray16
    /// 8-bit red, green, blue.
    case rgb8
    /// 16-bit red, green, blue, host byte order.
    case rgb16
    /// 8-bit gray with 8-bit alpha (0 = transparent): PNG only, e.g. a signature's ink.
    case grayAlpha8

    /// Samples per pixel: 1 for gray and black-and-white, 2 for gray with alpha, 3 for RGB.
    public var channels: Int {
        switch self {
        case .blackAndWhite, .gray8, .gray16: 1
        case .grayAlpha8: 2
        case .rgb8, .rgb16: 3
        }
    }

    /// Whether the format carries transparency (only PNG can store it).
    public var hasAlpha: Bool { self == .grayAlpha8 }

    /// Bits per sample: 1, 8 or 16.
    public var bitsPerSample: Int {
        switch self {
        case .blackAndWhite: 1
        case .gray8, .rgb8, .grayAlpha8: 8
        case .gray16, .rgb16: 16
        }
    }

    /// Bytes in one packed row of `width` pixels.
    public func bytesPerRow(width: Int) -> Int {
        (width * channels * bitsPerSample + 7) / 8
    }

    /// The 8-bit format with the same channels (lineart becomes gray).
    public var eightBit: PixelFormat { hasAlpha ? self : channels == 3 ? .rgb8 : .gray8 }
}

/// The geometry and format of an image that arrives row by row.
public struct ImageDescription: Sendable, Equatable, Codable {
    /// Pixel layout of each row.
    public var format: PixelFormat
    /// Pixels per row.
    public var width: Int
    /// Number of rows.
    public var height: Int
    /// Resolution in dots per inch (0 when unknown).
    public var dpi: Double

    /// Creates a description; `dpi` 0 means unknown.
    public init(format: PixelFormat, width: Int, height: Int, dpi: Double = 0) {
        self.format = format
        self.width = width
        self.height = height
        self.dpi = dpi
    }

    /// Bytes in one packed row.
    public var bytesPerRow: Int { format.bytesPerRow(width: width) }

    /// Checks the geometry is encodable; throws `invalid_image` when it is not.
    public func validate() throws(AttachmentError) {
        guard width > 0, height > 0, width <= 1 << 20, height <= 1 << 20 else {
            throw AttachmentError(.invalidImage, "image size \(width)x\(height) is out of range")
        }
        guard dpi >= 0, dpi <= 100_000, dpi.isFinite else {
            throw AttachmentError(.invalidImage, "resolution \(dpi) dpi is out of range")
        }
    }
}
