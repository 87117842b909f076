import Attachments

/// Where the paper comes from, whatever the backend calls it.
public enum ScanSource: String, Sendable, Codable, CaseIterable {
    /// Where the paper is taken from: the glass, the feeder, or the feeder both sides.
    case flatbed, adf, duplex
}

/// Colour mode, whatever the backend calls it.
public enum ScanMode: String, Sendable, Codable, CaseIterable {
    /// Colour, grayscale or black and white.
    case color, gray, lineart
}

/// Paper presets, in millimetres.
public enum PaperSize: String, Sendable, Codable, CaseIterable {
    /// Paper presets: ISO A4 and A5, US Letter, and ID-1 cards (85.6 x 54 mm).
    case a4 = "A4", a5 = "A5", letter = "Letter", id1 = "ID1"

    /// Width and height in millimetres.
    public var size: (width: Double, height: Double) {
        switch self {
        case .a4: (210, 297)
        case .a5: (148, 210)
        case .letter: (215.9, 279.4)
        case .id1: (85.6, 54)
        }
    }

    /// Parses a preset case-insensitively.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else { return nil }
        self = match
    }
}

/// A scan area in millimetres from the top-left corner.
public struct ScanArea: Sendable, Equatable, Codable {
    /// Left edge in millimetres.
    public var x: Double
    /// Top edge in millimetres.
    public var y: Double
    /// Width in millimetres.
    public var width: Double
    /// Height in millimetres.
    public var height: Double

    /// Creates an area.
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// Parses `X,Y,W,H` in millimetres.
    public init?(parsing text: String) {
        let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 4, let x = parts[0], let y = parts[1], let w = parts[2], let h = parts[3],
            x >= 0, y >= 0, w > 0, h > 0
        else { return nil }
        self.init(x: x, y: y, width: w, height: h)
    }
}

/// The output file format of a scan.
public enum ScanOutputFormat: String, Sendable, Codable, CaseIterable {
    /// The output formats: one image per page (JPEG, PNG, PNM) or one PDF of all pages.
    case jpeg, png, pnm, pdf
}

/// What to scan and how, in device-independent terms.
public struct ScanRequest: Sendable, Equatable, Codable {
    /// The device id; nil picks the first scanner found.
    public var device: String?
    /// Where the paper is taken from (nil: the scanner's default).
    public var source: ScanSource?
    /// Colour, gray or lineart (nil: colour).
    public var mode: ScanMode?
    /// Dots per inch; the nearest supported value is used.
    public var resolution: Double?
    /// A paper preset (ignored when `area` is set).
    public var paper: PaperSize?
    /// An explicit area; nil with no paper means the whole bed.
    public var area: ScanArea?
    /// Backend options by SANE name, checked against their descriptors.
    public var options: [String: String]
    /// The output format.
    public var format: ScanOutputFormat
    /// JPEG quality 1…100.
    public var quality: Int?
    /// Stop after this many pages from a feeder (nil: until empty).
    public var maxPages: Int?
    /// Normalization layers to switch off, by name (see `OptionNormalization.layers`).
    public var disabledLayers: [String]
    /// Seconds of backend silence before this scan is abandoned with `timeout`; nil takes the scanner's
    /// `SANEScanner.idleTimeout`.
    public var idleTimeout: Double?
    /// A live view of the rows while they are scanned (`ScanRowsBand`s to the scan's `rows` handler); nil: none.
    public var live: LiveRowsRequest?
    /// With `true`, 8-bit gray pages of a PNG scan are written as RGB with three equal samples, for readers that
    /// take no gray PNG (libsane's `escl` client); nil or `false`: gray PNG.
    public var grayAsRGB: Bool?

    /// Creates a request.
    public init(
        device: String? = nil, source: ScanSource? = nil, mode: ScanMode? = nil, resolution: Double? = nil,
        paper: PaperSize? = nil, area: ScanArea? = nil, options: [String: String] = [:],
        format: ScanOutputFormat = .jpeg, quality: Int? = nil, maxPages: Int? = nil, disabledLayers: [String] = []
    ) {
        self.device = device
        self.source = source
        self.mode = mode
        self.resolution = resolution
        self.paper = paper
        self.area = area
        self.options = options
        self.format = format
        self.quality = quality
        self.maxPages = maxPages
        self.disabledLayers = disabledLayers
    }

    /// The default colour, 300 dpi.
    public static let defaultMode = ScanMode.color
    /// The default resolution in dots per inch.
    public static let defaultResolution = 300.0

    /// Checks ranges that do not depend on the device.
    public func validate() throws(ScanError) {
        if let resolution, !(resolution > 0 && resolution <= 19_200) {
            throw ScanError(.invalidValue, "resolution \(resolution) dpi is out of range (1…19200)")
        }
        if let quality, !(1...100).contains(quality) {
            throw ScanError(.invalidValue, "quality \(quality) is out of range (1…100)")
        }
        try live?.validate()
        if let maxPages, !(1...10_000).contains(maxPages) { throw ScanError(.invalidValue, "maxPages must be 1…10000, not \(maxPages)") }
        if let idleTimeout, !(idleTimeout > 0 && idleTimeout <= 3600) {
            throw ScanError(.invalidValue, "the timeout must be above 0 and at most 3600 s, not \(idleTimeout)")
        }
        if let area, !(area.x >= 0 && area.y >= 0 && area.width > 0 && area.height > 0) {
            throw ScanError(.invalidValue, "the area must have a non-negative origin and a positive size")
        }
    }
}
