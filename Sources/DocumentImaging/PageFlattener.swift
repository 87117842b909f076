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
        // The rectangle's true proportion, undoing the perspective; the measured sides when it cannot be told.
        let ratio = trueWidthOverHeight(page.corners, imageWidth: image.width, imageHeight: image.height) ?? width / max(height, 1)
        let landscape = ratio > 1
        let aspect = landscape ? ratio : 1 / ratio
        let shape = PaperShape.matching(aspect: aspect)
        let proportion = shape?.aspect ?? aspect
        // Keep the longer measured side, and give the other the page's proportion.
        if landscape { width = max(width, height); height = width / proportion } else { height = max(width, height); width = height / proportion }
        let outputWidth = max(Int(width.rounded()), 1), outputHeight = max(Int(height.rounded()), 1)
        guard outputWidth * outputHeight <= 200_000_000 else {
            throw DocumentImagingError(.invalidValue, "the page would be \(outputWidth)x\(outputHeight) pixels")
        }
        let corners = page.corners.flatMap { [$0.x, $0.y] }
        // The page's edge falls just outside the output: the crop is inside it.
        let inset = Double(PageEdge.inset(width: outputWidth, height: outputHeight))
        let flat = try image.making(width: outputWidth, height: outputHeight) { source, output in ck_doc_warp(source, corners, inset, output) }
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

extension PageFlattener {
    /// The width-to-height proportion of the real rectangle seen as the quadrilateral `corners` (top-left, top-right,
    /// bottom-right, bottom-left) by a pinhole camera whose principal point is the image's centre (Zhang and He's
    /// method for whiteboards: the focal length is solved from the vanishing geometry). Nil when the view is too
    /// close to head-on for the focal length to be known; the measured sides are then as good.
    static func trueWidthOverHeight(_ corners: [ImagePoint], imageWidth: Int, imageHeight: Int) -> Double? {
        let u0 = Double(imageWidth) / 2, v0 = Double(imageHeight) / 2
        func point(_ p: ImagePoint) -> SIMD3<Double> { SIMD3(p.x - u0, p.y - v0, 1) }
        func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
            SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
        }
        func dot(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double { (a * b).sum() }
        let m1 = point(corners[0]), m2 = point(corners[1]), m3 = point(corners[3]), m4 = point(corners[2])
        let k2 = dot(cross(m1, m4), m3) / dot(cross(m2, m4), m3)
        let k3 = dot(cross(m1, m4), m2) / dot(cross(m3, m4), m2)
        let n2 = k2 * m2 - m1, n3 = k3 * m3 - m1
        guard k2.isFinite, k3.isFinite, abs(n2.z * n3.z) > 1e-12 else { return nil }
        let focal2 = -(n2.x * n3.x + n2.y * n3.y) / (n2.z * n3.z)
        // A focal length far outside what cameras have means the view was too square-on to solve.
        let diagonal2 = Double(imageWidth * imageWidth + imageHeight * imageHeight)
        guard focal2 > 0.05 * diagonal2, focal2 < 400 * diagonal2 else { return nil }
        let ratio2 = (n2.x * n2.x + n2.y * n2.y + focal2 * n2.z * n2.z) / (n3.x * n3.x + n3.y * n3.y + focal2 * n3.z * n3.z)
        guard ratio2.isFinite, ratio2 > 0 else { return nil }
        return ratio2.squareRoot()
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

    /// The part `region` of `image` turned by `degrees` counter-clockwise about its centre: straightening and cropping
    /// in one pass (pixels from beyond the image repeat its edge).
    public static func rotate(_ image: DocumentImage, degrees: Double, region: PixelRectangle) throws(DocumentImagingError) -> DocumentImage {
        guard region.width > 0, region.height > 0, region.width <= 4 * image.width, region.height <= 4 * image.height else {
            throw DocumentImagingError(.invalidValue, "the region \(region) does not fit the image")
        }
        return try image.making(width: region.width, height: region.height) { source, output in
            ck_doc_rotate_region(source, degrees, Int32(region.x), Int32(region.y), output)
        }
    }

    /// `image` turned by `degrees` counter-clockwise about its centre, the uncovered corners filled with `fill`.
    public static func rotate(_ image: DocumentImage, degrees: Double, fill: UInt8 = 255) throws(DocumentImagingError) -> DocumentImage {
        try image.making(width: image.width, height: image.height) { source, output in ck_doc_rotate(source, degrees, fill, output) }
    }
}
