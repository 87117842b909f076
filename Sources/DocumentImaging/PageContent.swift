import CDocumentImaging
import Foundation

/// What is on a page once paper grain, noise and faint show-through are set aside, and the verdicts drawn from it.
public struct PageContent: Sendable, Equatable, Codable {
    /// Share of the page's inner area (margins of 3 % left out) covered by ink marks.
    public var inkFraction: Double
    /// Ink marks bigger than specks.
    public var marks: Int
    /// Pixels in the largest mark, on the page shrunk to at most 1000 pixels a side.
    public var largestMark: Int
    /// Share of the inner area in strong colour (a red seal).
    public var chromaticFraction: Double
    /// Share of mid-gray tones (photographs).
    public var grayFraction: Double

    /// Measures a page.
    public static func measure(_ image: DocumentImage) throws(DocumentImagingError) -> PageContent {
        var content = ck_doc_content()
        let status = try image.withC { source in ck_doc_content_of(source, &content) }
        try DocumentImagingError.check(status, "measuring the page")
        return PageContent(
            inkFraction: content.ink_fraction, marks: Int(content.marks), largestMark: Int(content.largest_mark),
            chromaticFraction: content.chromatic_fraction, grayFraction: content.gray_fraction)
    }

    /// Blank: no mark as big as a short pen line or a small stamp (40 pixels at the measuring scale, about a
    /// 12 mm x 1 mm stroke on A4), and almost no ink at all.
    public var isBlank: Bool { largestMark < 40 && inkFraction < 0.0005 && chromaticFraction < 0.0002 }
}
