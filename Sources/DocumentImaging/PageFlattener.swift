import CDocumentImaging
import Foundation

/// Paper shapes a flattened page is snapped to when the evidence for its proportion supports one (see
/// `PageFlattener.flatten`): the rectangle's true proportions survive a camera's perspective only approximately.
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
    /// The flattened page and the paper shape it was snapped to (nil: its own proportion was kept). The proportion
    /// weighs the perspective solution against the measured sides, each by its uncertainty; a paper shape is taken
    /// only when the evidence tells it from its neighbours.
    public static func flatten(_ image: DocumentImage, page: PageCorners) throws(DocumentImagingError) -> (image: DocumentImage, shape: PaperShape?) {
        guard page.corners.count == 4 else { throw DocumentImagingError(.invalidValue, "a page needs four corners, got \(page.corners.count)") }
        var (width, height) = page.sideLengths
        let estimate = proportion(of: page.corners, imageWidth: image.width, imageHeight: image.height)
        let landscape = estimate.widthOverHeight > 1
        let shape = estimate.shape
        let proportion = shape?.aspect ?? (landscape ? estimate.widthOverHeight : 1 / estimate.widthOverHeight)
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
                ck_doc_place(
                    source, flat,
                    ck_doc_output(
                        pixels: buffer.baseAddress, width: Int32(scene.width), height: Int32(scene.height),
                        channels: Int32(scene.channels), stride: scene.width * scene.channels))
            }
        }
        try DocumentImagingError.check(status, "placing the page")
        return result
    }
}

/// A page's true proportions as told by its four corners, and the paper shape they support.
struct PageProportion {
    /// The real rectangle's width over its height.
    var widthOverHeight: Double
    /// The paper shape the evidence supports (nil: the page keeps its own proportion).
    var shape: PaperShape?
}

extension PageFlattener {
    /// The page's true width over height and the paper shape the evidence supports, from its corners (top-left,
    /// top-right, bottom-right, bottom-left) in an image of the given size.
    ///
    /// Two estimates, each with its uncertainty, weighed by it: the perspective solution (`PerspectiveView`), used only
    /// when the focal length it implies is one a camera has (0.4 to 4 image diagonals) and the page's tilt one a
    /// counter's camera sees (50° at most), and as sure as the focal length stays put when the corners move by the
    /// finder's error; and the measured sides, whose error grows with how much the opposite sides converge. A paper
    /// shape is taken only when the weighed proportion is within 4 % of it and every other shape lies beyond three
    /// times the uncertainty; otherwise the page keeps its own proportion.
    static func proportion(of corners: [ImagePoint], imageWidth: Int, imageHeight: Int) -> PageProportion {
        func distance(_ a: ImagePoint, _ b: ImagePoint) -> Double { max(hypot(a.x - b.x, a.y - b.y), 1) }
        let top = distance(corners[0], corners[1]), bottom = distance(corners[3], corners[2])
        let left = distance(corners[0], corners[3]), right = distance(corners[1], corners[2])
        // Measured: opposite sides averaged. Their error is the corners' (a pixel or two of the shorter side) plus what
        // the perspective hides: a page tilted by θ is shortened by cos θ (about θ²/2) while its far side shrinks by
        // about θ·(page/distance), so the hidden error grows with the square of the sides' convergence, the more so
        // the longer the lens could be (up to 4 image diagonals) against the page's size in the image.
        let shortest = min(top, bottom, left, right), longest = max(top, bottom, left, right)
        let measured = log((top + bottom) / (left + right))
        let convergence = abs(log(top / bottom)) + abs(log(left / right))
        let cornerError = Self.cornerError(short: shortest)
        let lens = 4 * hypot(Double(imageWidth), Double(imageHeight)) / longest
        let measuredSpread = 2 * cornerError / shortest + 0.5 * lens * lens * convergence * convergence
        var estimate = measured, spread = measuredSpread
        if let view = PerspectiveView(corners, imageWidth: imageWidth, imageHeight: imageHeight) {
            // The focal length is the unsure part. A pair of opposite sides that meet at an angle their corners'
            // errors could nearly make is seen parallel: the focal length is then not told at all (the degenerate
            // view), and any plausible one is as likely. Otherwise its range over 48 fixed patterns of corner errors,
            // the whole plausible range if any of them loses it. The proportions at both ends of that range bound the
            // perspective's answer (a min-max range of 48 draws spans about four standard deviations).
            func angle(_ a: ImagePoint, _ b: ImagePoint) -> Double { atan2(b.y - a.y, b.x - a.x) }
            func meeting(_ first: Double, _ second: Double) -> Double { abs(remainder(first - second, .pi)) }
            let topBottom = meeting(angle(corners[0], corners[1]), angle(corners[3], corners[2]))
            let leftRight = meeting(angle(corners[0], corners[3]), angle(corners[1], corners[2]))
            let parallel = topBottom < 12 * cornerError / (top + bottom) || leftRight < 12 * cornerError / (left + right)
            var low = view.focal2, high = view.focal2
            if parallel { (low, high) = (PerspectiveView.plausibleFocal2.lowerBound, PerspectiveView.plausibleFocal2.upperBound) }
            for pattern in 0..<48 where !parallel {
                let moved = corners.indices.map { index in
                    let k = Double(pattern * 4 + index)
                    let angle = 2 * Double.pi * (k * 0.6180339887).truncatingRemainder(dividingBy: 1)
                    let radius = cornerError * (0.5 + 0.5 * (k * 0.7548776662).truncatingRemainder(dividingBy: 1))
                    return ImagePoint(x: corners[index].x + radius * cos(angle), y: corners[index].y + radius * sin(angle))
                }
                guard let focal2 = PerspectiveView(moved, imageWidth: imageWidth, imageHeight: imageHeight)?.focal2 else {
                    (low, high) = (PerspectiveView.plausibleFocal2.lowerBound, PerspectiveView.plausibleFocal2.upperBound)
                    break
                }
                (low, high) = (min(low, focal2), max(high, focal2))
            }
            let ends = [log(view.widthOverHeight(focal2: low * view.diagonal2)), log(view.widthOverHeight(focal2: high * view.diagonal2))]
            let perspective = log(view.widthOverHeight(focal2: view.focal2 * view.diagonal2))
            let perspectiveSpread = abs(ends[1] - ends[0]) / (parallel ? 2 : 4) + 2 * cornerError / shortest + 0.005
            let weightP = 1 / (perspectiveSpread * perspectiveSpread), weightM = 1 / (measuredSpread * measuredSpread)
            estimate = (weightP * perspective + weightM * measured) / (weightP + weightM)
            spread = 1 / (weightP + weightM).squareRoot()
        }
        let ratio = exp(estimate)
        let aspect = ratio > 1 ? ratio : 1 / ratio
        // The nearest paper shape, if the proportion is within 4 % of it and every other shape lies beyond three times
        // the uncertainty (the shapes lie 9 to 20 % apart).
        let distances = PaperShape.allCases.map { (shape: $0, distance: abs(log($0.aspect / aspect))) }.sorted { $0.distance < $1.distance }
        let supported = distances[0].distance <= 0.04 && distances[1].distance > 3 * spread
        return PageProportion(widthOverHeight: ratio, shape: supported ? distances[0].shape : nil)
    }

    /// How far a found corner may be off, in pixels: the finder's fit to the edges (a pixel and a half, more on a
    /// large page whose edges are blurred over more pixels).
    static func cornerError(short: Double) -> Double { max(1.5, short * 0.004) }
}

/// A camera's view of a rectangle as the quadrilateral `corners` (top-left, top-right, bottom-right, bottom-left), seen
/// by a pinhole camera whose principal point is the image's centre (Zhang and He's method for whiteboards: the focal
/// length is solved from the vanishing geometry, then the rectangle's proportion from the focal length).
struct PerspectiveView {
    /// Focal lengths cameras have, squared, in squared image diagonals: 0.4 to 4 diagonals, from a wide phone lens to
    /// a long document camera.
    static let plausibleFocal2 = 0.16...16.0
    /// The solved focal length squared, in squared image diagonals.
    let focal2: Double
    /// The image's diagonal squared, in pixels.
    let diagonal2: Double
    private let n2: SIMD3<Double>, n3: SIMD3<Double>

    /// Nil when no plausible focal length explains the corners: the view too square-on to solve, or not a camera's
    /// view of a rectangle.
    init?(_ corners: [ImagePoint], imageWidth: Int, imageHeight: Int) {
        let u0 = Double(imageWidth) / 2, v0 = Double(imageHeight) / 2
        func point(_ p: ImagePoint) -> SIMD3<Double> { SIMD3(p.x - u0, p.y - v0, 1) }
        func cross(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> SIMD3<Double> {
            SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
        }
        func dot(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double { (a * b).sum() }
        let m1 = point(corners[0]), m2 = point(corners[1]), m3 = point(corners[3]), m4 = point(corners[2])
        let k2 = dot(cross(m1, m4), m3) / dot(cross(m2, m4), m3)
        let k3 = dot(cross(m1, m4), m2) / dot(cross(m3, m4), m2)
        n2 = k2 * m2 - m1
        n3 = k3 * m3 - m1
        guard k2.isFinite, k3.isFinite, abs(n2.z * n3.z) > 1e-12 else { return nil }
        diagonal2 = Double(imageWidth * imageWidth + imageHeight * imageHeight)
        focal2 = -(n2.x * n3.x + n2.y * n3.y) / (n2.z * n3.z) / diagonal2
        guard Self.plausibleFocal2.contains(focal2) else { return nil }
        // The page's plane, from its sides' directions in space: a page turned more than 50° from the camera is not
        // what a counter's camera sees (and such a view could not be read); corners that say so are not a page's view.
        let f = (focal2 * diagonal2).squareRoot()
        let normal = cross(SIMD3(n2.x, n2.y, f * n2.z), SIMD3(n3.x, n3.y, f * n3.z))
        let length = (normal * normal).sum().squareRoot()
        guard length > 0, abs(normal.z) / length >= cos(Self.steepestTilt * .pi / 180) else { return nil }
    }

    /// The steepest angle, in degrees, between the page and the camera's image plane that a view may have.
    static let steepestTilt = 50.0

    /// The rectangle's width over its height if the focal length squared (in pixels) were `focal2`.
    func widthOverHeight(focal2: Double) -> Double {
        ((n2.x * n2.x + n2.y * n2.y + focal2 * n2.z * n2.z) / (n3.x * n3.x + n3.y * n3.y + focal2 * n3.z * n3.z)).squareRoot()
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
