import Foundation

/// Which document stages a capture or file goes through (the `"document"` object of scan and photo requests).
public struct DocumentOptions: Sendable, Equatable, Codable {
    /// Finding and cropping the page.
    public enum Crop: String, Sendable, Codable, CaseIterable {
        /// Camera shots: find the page and flatten it. Scans: straighten the skew, then crop to the page when it is
        /// smaller than the bed. No page found: the image is kept as it is and the manifest says so.
        case auto
        /// The whole image as captured.
        case none
    }

    /// The colour stage.
    public enum Color: String, Sendable, Codable, CaseIterable {
        /// Per page: colour when it has strong colour (a seal), gray with mid tones (a photo), else black and white.
        case auto
        /// Always colour.
        case color
        /// Always gray.
        case gray
        /// Always black and white.
        case bw
    }

    /// What happens to blank pages.
    public enum Blank: String, Sendable, Codable, CaseIterable {
        /// Blank pages are left out (unless every page is blank: then they are kept and flagged).
        case drop
        /// Blank pages are kept and their manifest says `document.blank: true`.
        case flag
    }

    /// Default `.auto`.
    public var crop: Crop
    /// Flatten uneven light and whiten the paper (camera shots); default false.
    public var clean: Bool
    /// Nil: pages keep the colour they were captured in.
    public var color: Color?
    /// Nil: blank pages are not looked for.
    public var blank: Blank?
    /// The largest file allowed, in bytes (each image, or the whole PDF); nil: no limit.
    public var maxBytes: Int?

    /// Options; by default the page is found and cropped and nothing else is done.
    public init(crop: Crop = .auto, clean: Bool = false, color: Color? = nil, blank: Blank? = nil, maxBytes: Int? = nil) {
        self.crop = crop
        self.clean = clean
        self.color = color
        self.blank = blank
        self.maxBytes = maxBytes
    }

    /// Checks the values that can be wrong on their own.
    public func validate() throws(DocumentImagingError) {
        if let maxBytes, maxBytes < 1024 {
            throw DocumentImagingError(.invalidValue, "the size limit (maxBytes) must be at least 1024 bytes, got \(maxBytes)")
        }
    }
}

/// Where an image came from: a camera shot is flattened, a scan straightened.
public enum PageSource: String, Sendable, Codable {
    /// A camera or document camera: the page lies on a desk in perspective.
    case camera
    /// A scanner: the page lies flat on the bed, perhaps turned a little.
    case scanner
}

/// A page after the document stages, with what each stage did.
public struct ProcessedPage: Sendable {
    /// The page as it will be encoded.
    public var image: DocumentImage
    /// Whether it is blank (nil when blank pages were not looked for).
    public var blank: Bool?
    /// Each stage applied and its result, as manifest settings (`document.crop`, `document.corners`,
    /// `document.confidence`, `document.paper`, `document.bounds`, `document.deskew`, `document.clean`, `document.color`,
    /// `document.blank`).
    public var stages: [String: String]
}

/// The document stages, in order: find and flatten or straighten and crop; clean; judge blankness; choose the colour
/// mode. Writing under a size limit is `SizeTarget`'s.
public struct DocumentPipeline: Sendable {
    /// The stages asked for.
    public var options: DocumentOptions

    /// A pipeline with `options`.
    public init(options: DocumentOptions) { self.options = options }

    /// Runs the stages on one page.
    public func process(_ input: DocumentImage, source: PageSource) throws(DocumentImagingError) -> ProcessedPage {
        var image = input
        var stages: [String: String] = [:]
        if options.crop == .auto {
            if source == .scanner {
                // A scan lies flat: its skew from its lines, then the page is the region that differs from the bed in
                // the straightened scan (found on a small copy), straightened and cropped in one pass.
                var turn = 0.0
                if let skew = try Deskew.skew(of: image), abs(skew) >= 0.05 { turn = -skew }
                stages["document.deskew"] = turn == 0 ? "0" : String(format: "%.2f", -turn)
                if let bounds = try ScanBounds.page(in: image, turnedBy: turn) {
                    image = try Deskew.rotate(image, degrees: turn, region: bounds)
                    stages["document.crop"] = "found"
                    stages["document.bounds"] = "\(bounds.x),\(bounds.y) \(bounds.width)x\(bounds.height)"
                } else {
                    if turn != 0 { image = try Deskew.rotate(image, degrees: turn) }
                    stages["document.crop"] = "whole image"
                }
            } else {
                do {
                    let page = try PageFinder.find(in: image)
                    let (flat, shape) = try PageFlattener.flatten(image, page: page)
                    image = flat
                    // A page snapped to a known paper has a known size: its resolution follows.
                    if let shape { image.dpi = (Double(max(flat.width, flat.height)) / (shape.millimetres.long / 25.4)).rounded() }
                    stages["document.crop"] = "found"
                    stages["document.corners"] = page.corners.map { "\(Int($0.x.rounded())),\(Int($0.y.rounded()))" }.joined(separator: " ")
                    stages["document.confidence"] = String(format: "%.3f", page.confidence)
                    if let shape { stages["document.paper"] = shape.rawValue }
                } catch  where error.code == .noDocument {
                    stages["document.crop"] = "no_document: kept uncropped"
                }
            }
        }
        if options.clean {
            image = try PageCleaner.clean(image)
            stages["document.clean"] = "applied"
        }
        var blank: Bool?
        if options.blank != nil || options.color == .auto {
            let content = try PageContent.measure(image)
            if options.blank != nil {
                blank = content.isBlank
                stages["document.blank"] = content.isBlank ? "true" : "false"
            }
            if options.color == .auto {
                let mode = ColorMode.decide(for: content)
                image = try image.converted(to: mode)
                stages["document.color"] = "\(mode.rawValue) (auto)"
            }
        }
        if let color = options.color, color != .auto, let mode = ColorMode(rawValue: color.rawValue) {
            image = try image.converted(to: mode)
            stages["document.color"] = mode.rawValue
        }
        return ProcessedPage(image: image, blank: blank, stages: stages)
    }

    /// The indices of the pages to keep after the blank stage: with `.drop`, the pages that are not blank (all of them
    /// when every page is blank, so that nothing is silently lost).
    public func keptIndices(_ pages: [ProcessedPage]) -> [Int] {
        let kept = pages.indices.filter { options.blank != .drop || pages[$0].blank != true }
        return kept.isEmpty ? Array(pages.indices) : kept
    }
}
