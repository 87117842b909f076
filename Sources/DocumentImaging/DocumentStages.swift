import CDocumentImaging
import Foundation

/// How a page's colours are kept: what the colour stage chooses or is told.
public enum ColorMode: String, Sendable, Codable, CaseIterable {
    /// Full colour (a red seal, a coloured form, a photo in colour).
    case color
    /// 8-bit gray (photographs and shaded pages without meaningful colour).
    case gray
    /// Black and white (plain text and line drawings): the smallest files.
    case bw

    /// The mode that keeps what matters on a page: colour when it has strong colour (a seal, coloured print), gray
    /// when it has mid tones (a photo, shading), black and white for text and lines only.
    public static func decide(for content: PageContent) -> ColorMode {
        if content.chromaticFraction >= 0.0003 { return .color }
        if content.grayFraction >= 0.01 { return .gray }
        return .bw
    }
}

/// Flattening uneven light: the cleaning stage.
public enum PageCleaner {
    /// `image` with its illumination flattened and its paper whitened; ink keeps its colour (see `ck_doc_clean`).
    public static func clean(_ image: DocumentImage) throws(DocumentImagingError) -> DocumentImage {
        var cleaned = try image.making(width: image.width, height: image.height) { source, output in ck_doc_clean(source, output) }
        cleaned.isBilevel = false
        return cleaned
    }
}

extension DocumentImage {
    /// The image in `mode`: RGB, gray, or black and white (a gray image of 0 and 255 marked `isBilevel`, written as
    /// 1-bit where the format allows). Turning gray into colour keeps it gray in three channels.
    public func converted(to mode: ColorMode) throws(DocumentImagingError) -> DocumentImage {
        switch mode {
        case .color:
            var rgb = try self.rgb()
            rgb.isBilevel = isBilevel
            return rgb
        case .gray:
            if channels == 1 { return self }
            return try single { source, output in ck_doc_gray(source, output) }
        case .bw:
            if isBilevel { return self }
            var bw = try single { source, output in ck_doc_binarize(source, output) }
            bw.isBilevel = true
            return bw
        }
    }

    /// The image scaled to `width` x `height` (area averaging when shrinking); the dpi follows the scale.
    public func resized(width newWidth: Int, height newHeight: Int) throws(DocumentImagingError) -> DocumentImage {
        guard newWidth > 0, newHeight > 0, newWidth <= 60_000, newHeight <= 60_000 else {
            throw DocumentImagingError(.invalidValue, "cannot resize to \(newWidth)x\(newHeight)")
        }
        if newWidth == width, newHeight == height { return self }
        var resized = try making(width: newWidth, height: newHeight) { source, output in ck_doc_resize(source, output) }
        resized.dpi = dpi * Double(newWidth) / Double(width)
        if isBilevel {
            // Averaging makes grays of a black-and-white page: back to black and white.
            resized.pixels = resized.pixels.map { $0 < 128 ? 0 : 255 }
            resized.isBilevel = true
        }
        return resized
    }

    /// A one-channel image of this size made by `body` from this one.
    private func single(_ body: (ck_doc_image, ck_doc_output) -> Int32) throws(DocumentImagingError) -> DocumentImage {
        var output = try DocumentImage(width: width, height: height, channels: 1, dpi: dpi)
        let status = try withC { (source: ck_doc_image) throws(DocumentImagingError) -> Int32 in
            output.pixels.withUnsafeMutableBufferPointer { buffer in
                body(source, ck_doc_output(pixels: buffer.baseAddress, width: Int32(width), height: Int32(height), channels: 1, stride: width))
            }
        }
        try DocumentImagingError.check(status, "converting the page")
        return output
    }
}

/// A rectangle of an image, in pixels.
public struct PixelRectangle: Sendable, Equatable, Codable {
    /// Left edge.
    public var x: Int
    /// Top edge.
    public var y: Int
    /// Width.
    public var width: Int
    /// Height.
    public var height: Int

    /// Creates a rectangle.
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// Where the page lies in a scan.
public enum ScanBounds {
    /// The page's rectangle on the bed once the scan is turned by `degrees` (as `Deskew.rotate` turns it), in the
    /// turned image's pixels, inside the page's edge by `PageEdge.inset` (so that no strip of the edge or the bed is
    /// kept); nil when the page fills the bed or cannot be told from it (see `ck_doc_scan_bounds`).
    public static func page(in image: DocumentImage, turnedBy degrees: Double = 0) throws(DocumentImagingError) -> PixelRectangle? {
        var rectangle = [Int32](repeating: 0, count: 4)
        let status = try image.withC { source in ck_doc_scan_bounds(source, degrees, &rectangle) }
        try DocumentImagingError.check(status, "finding the page on the bed")
        guard status == Int32(CK_DOC_OK) else { return nil }
        let width = Int(rectangle[2]), height = Int(rectangle[3])
        let inset = PageEdge.inset(width: width, height: height)
        guard width > 4 * inset, height > 4 * inset else { return PixelRectangle(x: Int(rectangle[0]), y: Int(rectangle[1]), width: width, height: height) }
        return PixelRectangle(x: Int(rectangle[0]) + inset, y: Int(rectangle[1]) + inset, width: width - 2 * inset, height: height - 2 * inset)
    }
}

/// A found page's edge: where the paper meets the desk or the bed, a line a pixel or two wide that belongs to neither.
/// Crops are taken this far inside it, so that a black-and-white page shows no dotted frame along its sides.
public enum PageEdge {
    /// Pixels to keep clear of the edge on each side of a page `width` x `height` pixels: 0.3 % of its longer side,
    /// at least 2 (a millimetre at 300 dpi on A4).
    public static func inset(width: Int, height: Int) -> Int { max(2, Int((0.003 * Double(max(width, height))).rounded())) }
}

extension DocumentImage {
    /// The part of the image inside `rectangle` (clipped to the image).
    public func cropped(to rectangle: PixelRectangle) throws(DocumentImagingError) -> DocumentImage {
        let x0 = max(0, rectangle.x), y0 = max(0, rectangle.y)
        let x1 = min(width, rectangle.x + rectangle.width), y1 = min(height, rectangle.y + rectangle.height)
        guard x1 > x0, y1 > y0 else { throw DocumentImagingError(.invalidValue, "the rectangle \(rectangle) is outside the image") }
        var out = [UInt8]()
        out.reserveCapacity((x1 - x0) * (y1 - y0) * channels)
        for y in y0..<y1 { out.append(contentsOf: pixels[((y * width + x0) * channels)..<((y * width + x1) * channels)]) }
        var cropped = try DocumentImage(width: x1 - x0, height: y1 - y0, channels: channels, pixels: out, dpi: dpi)
        cropped.isBilevel = isBilevel
        return cropped
    }
}
