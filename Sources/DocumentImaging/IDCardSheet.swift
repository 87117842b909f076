import Attachments
import Foundation

/// The "ID card copy" every counter makes: the front and back of an ID-1 card, each found and flattened, laid out at
/// true size (85.60 x 53.98 mm) on one white A4 sheet, front above back.
public enum IDCardSheet {
    /// Where a card's top-left corner lies on the sheet, in millimetres from the sheet's top-left.
    public static let frontOrigin = (x: (210 - 85.60) / 2, y: 40.0)
    /// The back's place: the same column, 25 mm under the front.
    public static let backOrigin = (x: (210 - 85.60) / 2, y: 40.0 + 53.98 + 25)

    /// The sheet at `dpi` (RGB), with `front` and `back` (photos or scans of the card's two sides) found, flattened,
    /// turned to landscape and scaled to true size. `no_document` names the side where no card was found.
    public static func compose(front: DocumentImage, back: DocumentImage, dpi: Double = 300) throws(DocumentImagingError) -> DocumentImage {
        guard dpi >= 100, dpi <= 600 else { throw DocumentImagingError(.invalidValue, "the sheet's dpi must be 100…600, got \(dpi)") }
        let pixels = { (millimetres: Double) in millimetres / 25.4 * dpi }
        var sheet = try DocumentImage(width: Int(pixels(210).rounded()), height: Int(pixels(297).rounded()), channels: 3, fill: 255, dpi: dpi)
        for (name, side, origin) in [("front", front, frontOrigin), ("back", back, backOrigin)] {
            let card: PageCorners
            do { card = try PageFinder.find(in: side) } catch where error.code == .noDocument {
                throw DocumentImagingError(.noDocument, "no card found on the \(name) image")
            }
            var flat = try PageFlattener.flatten(side, page: card).image
            if flat.height > flat.width { flat = try flat.turnedClockwise() }
            let left = pixels(origin.x), top = pixels(origin.y), right = left + pixels(85.60), bottom = top + pixels(53.98)
            sheet = try PagePlacement.place(try flat.rgb(), at: [
                ImagePoint(x: left, y: top), ImagePoint(x: right, y: top), ImagePoint(x: right, y: bottom), ImagePoint(x: left, y: bottom),
            ], on: sheet)
        }
        return sheet
    }
}

extension DocumentImage {
    /// The image turned a quarter clockwise.
    public func turnedClockwise() throws(DocumentImagingError) -> DocumentImage {
        var turned = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<height {
            for x in 0..<width {
                let from = (y * width + x) * channels, to = (x * height + (height - 1 - y)) * channels
                for c in 0..<channels { turned[to + c] = pixels[from + c] }
            }
        }
        return try DocumentImage(width: height, height: width, channels: channels, pixels: turned, dpi: dpi)
    }

    /// The image as RGB (gray copied to three channels).
    public func rgb() throws(DocumentImagingError) -> DocumentImage {
        if channels == 3 { return self }
        return try DocumentImage(width: width, height: height, channels: 3, pixels: pixels.flatMap { [$0, $0, $0] }, dpi: dpi)
    }
}
