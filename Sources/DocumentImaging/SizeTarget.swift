import Attachments
import Foundation

/// The files document processing writes.
public enum DocumentFileFormat: String, Sendable, Codable, CaseIterable {
    /// One JPEG image (bilevel pages as 8-bit gray).
    case jpeg
    /// One PNG image (bilevel pages as 1-bit).
    case png
    /// One PDF of every page (JPEG pages, bilevel pages 1-bit and lossless).
    case pdf
}

/// What a write under a size limit chose.
public struct SizeTargetOutcome: Sendable, Equatable, Codable {
    /// The file's size in bytes.
    public var bytes: Int
    /// The JPEG quality used; nil when the file has no JPEG in it (PNG, or only bilevel pages).
    public var quality: Int?
    /// The scale the pages were written at (1: as they came).
    public var scale: Double
    /// The first page's resolution as written, when known.
    public var dpi: Double?
    /// Files encoded to get there.
    public var passes: Int
}

/// Writing pages at the best quality (then, if needed, the lowest resolution) whose file is at most a size limit, in a
/// bounded number of encoder passes, never leaving a file over the limit.
public enum SizeTarget {
    /// The lowest JPEG quality tried before the resolution is lowered.
    public static let lowestQuality = 20
    /// The lowest resolution a page of known resolution is brought to (text stays readable at 150 dpi).
    public static let lowestDPI = 150.0
    /// The smallest scale for pages of unknown resolution (camera shots that matched no paper size).
    public static let lowestScaleWithoutDPI = 0.25

    /// Writes `pages` to `path` as ``encode(_:format:quality:maxBytes:title:)`` makes them, whole or not at all; the
    /// file is created with `mode` less the umask (a user's file by default; 0600 for a scratch file).
    public static func write(
        _ pages: [DocumentImage], to path: String, format: DocumentFileFormat, quality: Int = 85,
        maxBytes: Int? = nil, title: String? = nil, mode: mode_t = 0o666
    ) throws(DocumentImagingError) -> SizeTargetOutcome {
        let (bytes, outcome) = try encode(pages, format: format, quality: quality, maxBytes: maxBytes, title: title)
        try pages[0].writeWhole(to: path, mode: mode) { output throws(AttachmentError) in try output.write(bytes) }
        return outcome
    }

    /// Encodes `pages` in memory as `format` (JPEG and PNG take one page) at `quality`, or, when that is over
    /// `maxBytes`, at the highest quality (at least `lowestQuality`) under it, and if even that is over, at the largest
    /// scale (not below `lowestDPI`) under it with the quality raised again as far as it goes. `size_target_unreachable`
    /// when nothing allowed fits. With `maxBytes` nil the pages are encoded once. No candidate touches the disk.
    public static func encode(
        _ pages: [DocumentImage], format: DocumentFileFormat, quality: Int = 85, maxBytes: Int? = nil, title: String? = nil
    ) throws(DocumentImagingError) -> (bytes: [UInt8], outcome: SizeTargetOutcome) {
        guard !pages.isEmpty else { throw DocumentImagingError(.invalidValue, "nothing to write") }
        guard format == .pdf || pages.count == 1 else {
            throw DocumentImagingError(.invalidValue, "\(format.rawValue) holds one page; \(pages.count) pages need pdf")
        }
        guard (1...100).contains(quality) else { throw DocumentImagingError(.invalidValue, "quality must be 1…100, got \(quality)") }
        if let maxBytes, maxBytes < 1 { throw DocumentImagingError(.invalidValue, "maxBytes must be positive, got \(maxBytes)") }
        let usesQuality = format == .jpeg || (format == .pdf && pages.contains { !$0.isBilevel })
        var search = Search(pages: pages, format: format, title: title, limit: maxBytes ?? Int.max)

        // 1. As asked.
        if try search.fits(quality: quality, scale: 1) || maxBytes == nil { return try search.keepBest() }
        // 2. The highest quality that fits at full size.
        let lowest = min(lowestQuality, quality)
        if usesQuality, quality > lowest {
            if try search.fits(quality: lowest, scale: 1) {
                try search.raiseQuality(from: lowest, below: quality, scale: 1)
                return try search.keepBest()
            }
        }
        // 3. Smaller: each step aims at the limit from the last size (bytes go roughly with the area), down to the
        // floor; then the quality is raised again at that scale.
        let floor = pages.map { $0.dpi > 0 ? min(1, lowestDPI / $0.dpi) : lowestScaleWithoutDPI }.max() ?? 1
        var scale = 1.0, lastBytes = search.lastBytes
        for _ in 0..<5 where scale > floor {
            scale = max(floor, min(scale * 0.97, scale * (Double(search.limit) / Double(max(lastBytes, 1))).squareRoot() * 0.95))
            if try search.fits(quality: usesQuality ? lowest : quality, scale: scale) {
                if usesQuality { try search.raiseQuality(from: lowest, below: quality, scale: scale) }
                return try search.keepBest()
            }
            lastBytes = search.lastBytes
        }
        let dpiNote = pages[0].dpi > 0 ? " at \(Int((pages[0].dpi * floor).rounded())) dpi" : " at \(Int(floor * 100)) % size"
        throw DocumentImagingError(
            .sizeTargetUnreachable,
            "no \(format.rawValue) of these pages fits in \(maxBytes!) bytes: the smallest allowed"
                + "\(usesQuality ? " (quality \(lowest)\(dpiNote))" : dpiNote) is \(lastBytes) bytes")
    }

    /// The search's state: candidates encoded in memory, the best one that fits kept.
    private struct Search {
        let pages: [DocumentImage]
        let format: DocumentFileFormat
        let title: String?
        let limit: Int
        var passes = 0
        var lastBytes = 0
        var best: (quality: Int, scale: Double, bytes: [UInt8])?
        var scaledPages: (scale: Double, pages: [DocumentImage])?

        init(pages: [DocumentImage], format: DocumentFileFormat, title: String?, limit: Int) {
            self.pages = pages
            self.format = format
            self.title = title
            self.limit = limit
        }

        /// Encodes a candidate; true (and it becomes the best) when it fits.
        mutating func fits(quality: Int, scale: Double) throws(DocumentImagingError) -> Bool {
            if scaledPages?.scale != scale {
                scaledPages = (
                    scale,
                    try pages.map { (page) throws(DocumentImagingError) -> DocumentImage in
                        scale == 1
                            ? page
                            : try page.resized(
                                width: max(1, Int((Double(page.width) * scale).rounded())),
                                height: max(1, Int((Double(page.height) * scale).rounded())))
                    }
                )
            }
            let scaled = scaledPages!.pages
            let candidate: [UInt8]
            switch format {
            case .jpeg: candidate = try scaled[0].encoded(as: .jpeg(JPEGOptions(quality: quality)))
            case .png: candidate = try scaled[0].encoded(as: .png(PNGOptions()))
            case .pdf: candidate = try DocumentImage.encodedPDF(scaled, quality: quality, title: title)
            }
            passes += 1
            lastBytes = candidate.count
            guard lastBytes <= limit else { return false }
            best = (quality, scale, candidate)
            return true
        }

        /// The highest quality in `from + 1 ..< below` that fits at `scale`, by bisection (`from` fits).
        mutating func raiseQuality(from: Int, below: Int, scale: Double) throws(DocumentImagingError) {
            var low = from, high = below
            while high - low > 1 {
                let middle = (low + high) / 2
                if try fits(quality: middle, scale: scale) { low = middle } else { high = middle }
            }
        }

        /// The best candidate and what it is.
        func keepBest() throws(DocumentImagingError) -> (bytes: [UInt8], outcome: SizeTargetOutcome) {
            guard let best else { throw DocumentImagingError(.internal, "no candidate was kept") }
            let jpegInside = format == .jpeg || (format == .pdf && pages.contains { !$0.isBilevel })
            return (
                best.bytes,
                SizeTargetOutcome(
                    bytes: best.bytes.count, quality: jpegInside ? best.quality : nil, scale: best.scale,
                    dpi: pages[0].dpi > 0 ? (pages[0].dpi * best.scale * 10).rounded() / 10 : nil, passes: passes)
            )
        }
    }
}
