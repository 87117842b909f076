import Attachments
import CDocumentImaging
import Foundation

/// A point in an image's pixel coordinates.
public struct ImagePoint: Sendable, Equatable, Codable {
    /// Horizontal position, pixels from the left edge.
    public var x: Double
    /// Vertical position, pixels from the top edge.
    public var y: Double

    /// Creates a point.
    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// Where a page lies in an image: its corners and how sure the finder is.
public struct PageCorners: Sendable, Equatable, Codable {
    /// Top-left, top-right, bottom-right, bottom-left, as the page lies upright, in the image's pixels.
    public var corners: [ImagePoint]
    /// 0…1: the share of the outline that runs along strong edges in the image.
    public var confidence: Double

    /// Creates corners (four, in that order).
    public init(corners: [ImagePoint], confidence: Double) {
        self.corners = corners
        self.confidence = confidence
    }

    /// The Jaccard index of two quadrilaterals (intersection over union of their areas, 0…1): the SmartDoc measure
    /// of how well a detected page matches the true one.
    public static func jaccard(_ a: [ImagePoint], _ b: [ImagePoint]) -> Double {
        guard a.count == 4, b.count == 4 else { return 0 }
        let first = a.flatMap { [$0.x, $0.y] }, second = b.flatMap { [$0.x, $0.y] }
        return ck_doc_jaccard(first, second)
    }

    /// The page's size in the image's pixels: the longer of each pair of opposite sides.
    public var sideLengths: (width: Double, height: Double) {
        func distance(_ a: ImagePoint, _ b: ImagePoint) -> Double { hypot(a.x - b.x, a.y - b.y) }
        return (
            max(distance(corners[0], corners[1]), distance(corners[3], corners[2])),
            max(distance(corners[0], corners[3]), distance(corners[1], corners[2]))
        )
    }
}

/// Finds the page in a camera frame or a scan (OpenCV: colour edges, lightness edges and paper-coloured regions give
/// candidate quadrilaterals; the one whose outline best follows strong edges wins, and its sides are then fitted to
/// the edges in the full-size image).
public enum PageFinder {
    /// The page's corners; `no_document` when nothing page-like is there.
    public static func find(in image: DocumentImage) throws(DocumentImagingError) -> PageCorners {
        var corners = [Double](repeating: 0, count: 8)
        var confidence = 0.0
        let status = try image.withC { source in ck_doc_detect_page(source, &corners, &confidence) }
        try DocumentImagingError.check(status, "finding the page")
        guard status == Int32(CK_DOC_OK) else {
            throw DocumentImagingError(.noDocument, "no page found in the \(image.width)x\(image.height) image")
        }
        return PageCorners(corners: (0..<4).map { ImagePoint(x: corners[2 * $0], y: corners[2 * $0 + 1]) }, confidence: confidence)
    }
}
