import Attachments
import Foundation

/// The "ID card copy" every counter makes: the front and back of an ID-1 card, each found and flattened, laid out at
/// true size (85.60 x 53.98 mm) on one white A4 sheet, front above back.
public enum IDCardSheet {
    /// Where a card's top-left corner lies on the sheet, in millimetres from the sheet's top-left.
    public static let frontOrigin = (x: (210 - 85.60) / 2, y: 40.0)
    /// The back's place: the same column, 25 mm under the front.
    public static let backOrigin = (x: (210 - 85.60) / 2, y: 40.0 + 53.98 + 25)

    /// How far a found document's proportion may be from a card's (85.60 : 53.98, 1.586) and still be taken for one.
    public static let aspectTolerance = 0.08
    /// The least share of the image a card must cover to be taken for one (a card scanned on an A4 bed covers 7 %).
    public static let smallestShareOfImage = 0.02

    /// The sheet at `dpi` (RGB), with `front` and `back` (photos or scans of the card's two sides) found, flattened,
    /// turned to landscape and scaled to true size. `no_document` names the side where no card was found, or where what
    /// was found is not card-shaped (its proportion off a card's by more than `aspectTolerance`, or covering less than
    /// `smallestShareOfImage` of the image), unless `force` places it anyway.
    public static func compose(
        front: DocumentImage, back: DocumentImage, dpi: Double = 300,
        force: Bool = false
    ) throws(DocumentImagingError) -> DocumentImage {
        guard dpi >= 100, dpi <= 600 else { throw DocumentImagingError(.invalidValue, "the sheet's dpi must be 100…600, got \(dpi)") }
        let pixels = { (millimetres: Double) in millimetres / 25.4 * dpi }
        var sheet = try DocumentImage(width: Int(pixels(210).rounded()), height: Int(pixels(297).rounded()), channels: 3, fill: 255, dpi: dpi)
        for (name, side, origin) in [("front", front, frontOrigin), ("back", back, backOrigin)] {
            let card: PageCorners
            do { card = try PageFinder.find(in: side) } catch  where error.code == .noDocument {
                throw DocumentImagingError(.noDocument, "no card found on the \(name) image")
            }
            var flat = try PageFlattener.flatten(side, page: card).image
            if !force { try requireCardShape(flat, corners: card, in: side, side: name) }
            if flat.height > flat.width { flat = try flat.turnedClockwise() }
            let left = pixels(origin.x), top = pixels(origin.y), right = left + pixels(85.60), bottom = top + pixels(53.98)
            sheet = try PagePlacement.place(
                try flat.rgb(),
                at: [
                    ImagePoint(x: left, y: top), ImagePoint(x: right, y: top), ImagePoint(x: right, y: bottom), ImagePoint(x: left, y: bottom),
                ], on: sheet)
        }
        return sheet
    }

    /// Throws `no_document` naming `side` unless the flattened document is card-shaped and not a speck of the image.
    static func requireCardShape(_ flat: DocumentImage, corners: PageCorners, in image: DocumentImage, side: String) throws(DocumentImagingError) {
        let card = 85.60 / 53.98
        let aspect = Double(max(flat.width, flat.height)) / Double(max(1, min(flat.width, flat.height)))
        if abs(aspect - card) / card > aspectTolerance {
            throw DocumentImagingError(
                .noDocument,
                String(
                    format: "the document on the %@ image is not card-shaped: %.2f:1, where an ID card is %.2f:1",
                    side, aspect, card))
        }
        // The quadrilateral's area (shoelace) against the image's.
        let points = corners.corners
        var twice = 0.0
        for index in points.indices {
            let next = points[(index + 1) % points.count]
            twice += points[index].x * next.y - next.x * points[index].y
        }
        let share = abs(twice) / 2 / Double(image.width * image.height)
        if share < smallestShareOfImage {
            throw DocumentImagingError(
                .noDocument, String(format: "the card found on the %@ image covers %.1f %% of it: too small to be the card", side, share * 100))
        }
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
