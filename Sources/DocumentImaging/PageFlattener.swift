import CDocumentImaging
import Foundation

/// Paper shapes a flattened page is snapped to when its measured aspect is close: the rectangle's true proportions
/// survive a camera's perspective only approximately.
public enum PaperShape: String, Sendable, CaseIterable, Codable {
    /// ISO A series (A4, A5): 1:√2.
    case a4 = "A4"
    /// US Letter: 8.5 x 11 in.
    case letter = "Letter"
    /// ISO/IEC 7810 ID-1 cards (identity cards, bank cards): 85.60 x 53.98 mm.
    case id1 = "ID1"

    /// Long side over short side.
    public var aspect: Double {
        switch self {
        case .a4: 2.squareRoot()
        case .letter: 11 / 8.5
        case .id1: 85.60 / 53.98
        }
    }

    /// The short and long sides in millimetres.
    public var millimetres: (short: Double, long: Double) {
        switch self {
        case .a4: (210, 297)
        case .letter: (215.9, 279.4)
        case .id1: (53.98, 85.60)
        }
    }

    /// The shape whose aspect is within `tolerance` (relative) of `aspect` (long over short), if any.
    public static func matching(aspect: Double, tolerance: Double = 0.04) -> PaperShape? {
        allCases.min { abs($0.aspect / aspect - 1) < abs($1.aspect / aspect - 1) }.flatMap { abs($0.aspect / aspect - 1) <= tolerance ? $0 : nil }
    }
}

/// Flattens a found page: a perspective warp of its quadrilateral onto an upright rectangle of the page's true aspect.
public enum PageFlattener {
    /// The flattened page and the paper shape it was snapped to (nil: its own measured aspect was kept).
    public static func flatten(_ image: DocumentImage, page: PageCorners) throws(DocumentImagingError) -> (image: DocumentImage, shape: PaperShape?) {
        guard page.corners.count == 4 else { throw DocumentImagingError(.invalidValue, "a page needs four corners, got \(page.corners.count)") }
        var (width, height) = page.sideLengths
        let landscape = width > height
        let aspect = max(width, height) / max(min(width, height), 1)
        let shape = PaperShape.matching(aspect: aspect)
        if let shape {
            // Keep the longer measured side, and give the other the paper's proportion.
            if landscape { height = width / shape.aspect } else { width = height / shape.aspect }
        }
        let outputWidth = max(Int(width.rounded()), 1), outputHeight = max(Int(height.rounded()), 1)
        guard outputWidth * outputHeight <= 200_000_000 else {
            throw DocumentImagingError(.invalidValue, "the page would be \(outputWidth)x\(outputHeight) pixels")
        }
        let corners = page.corners.flatMap { [$0.x, $0.y] }
        let flat = try image.making(width: outputWidth, height: outputHeight) { source, output in ck_doc_warp(source, corners, output) }
        return (flat, shape)
    }
}

/// Composing images: a page drawn into a quadrilateral of another image.
public enum PagePlacement {
    /// `scene` with `page` drawn into the quadrilateral `corners` (top-left, top-right, bottom-right, bottom-left).
    public static func place(_ page: DocumentImage, at corners: [ImagePoint], on scene: DocumentImage) throws(DocumentImagingError) -> DocumentImage {
        guard corners.count == 4, page.channels == scene.channels else {
            throw DocumentImagingError(.invalidValue, "placing needs four corners and images with the same channels")
        }
        var result = scene
        let flat = corners.flatMap { [$0.x, $0.y] }
        let status = try page.withC { (source: ck_doc_image) throws(DocumentImagingError) -> Int32 in
            result.pixels.withUnsafeMutableBufferPointer { buffer in
                ck_doc_place(source, flat, ck_doc_output(pixels: buffer.baseAddress, width: Int32(scene.width), height: Int32(scene.height),
                                                         channels: Int32(scene.channels), stride: scene.width * scene.channels))
            }
        }
        try DocumentImagingError.check(status, "placing the page")
        return result
    }
}

/// The skew of a scanned page's lines, and turning it straight.
public enum Deskew {
    /// The angle the content is turned counter-clockwise, in degrees (within ±`maxDegrees`); nil when the page has too
    /// little line structure to tell (a photo, a blank page).
    public static func skew(of image: DocumentImage, maxDegrees: Double = 15) throws(DocumentImagingError) -> Double? {
        guard maxDegrees > 0, maxDegrees <= 45 else { throw DocumentImagingError(.invalidValue, "maxDegrees must be in (0, 45], got \(maxDegrees)") }
        var degrees = 0.0
        let status = try image.withC { source in ck_doc_skew(source, maxDegrees, &degrees) }
        try DocumentImagingError.check(status, "measuring the skew")
        return status == Int32(CK_DOC_OK) ? degrees : nil
    }

    /// `image` turned by `degrees` counter-clockwise about its centre, the uncovered corners filled with `fill`.
    public static func rotate(_ image: DocumentImage, degrees: Double, fill: UInt8 = 255) throws(DocumentImagingError) -> DocumentImage {
        try image.making(width: image.width, height: image.height) { source, output in ck_doc_rotate(source, degrees, fill, output) }
    }
}
