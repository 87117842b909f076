import Attachments

/// A realistic scanned page, generated row by row and deterministic: paper
/// grain noise, lines of dark text-like strokes, a colour photo block, and a
/// red round seal. Used by tests and by the benchmark.
public struct SyntheticPage: Sendable {
    /// The page's geometry (RGB 8-bit).
    public let image: ImageDescription

    /// An A4 page at `dpi` (2480x3508 at 300 dpi).
    public static func a4(dpi: Int) -> SyntheticPage {
        SyntheticPage(width: 210 * dpi * 100 / 2540, height: 297 * dpi * 100 / 2540, dpi: Double(dpi))
    }

    /// A page of any size.
    public init(width: Int, height: Int, dpi: Double) {
        image = ImageDescription(format: .rgb8, width: width, height: height, dpi: dpi)
    }

    /// Fills `row` (width x 3 bytes) with row `y`.
    public func render(row y: Int, into row: UnsafeMutableRawBufferPointer) {
        let width = image.width, height = image.height
        let unit = max(1, Int(image.dpi / 75))
        var noise = UInt32(truncatingIfNeeded: y &* 2_654_435_761 &+ 12345)
        let margin = width / 10
        let lineHeight = 24 * unit
        let photo = (x0: width / 2, y0: height / 8, x1: width - margin, y1: height / 3)
        let seal = (cx: width * 3 / 4, cy: height * 4 / 5, r: width / 10)
        let lineIndex = y / lineHeight, inLine = y % lineHeight
        let textRow = y > height / 3 + lineHeight && y < height * 9 / 10 && inLine >= 6 * unit && inLine < 16 * unit
        for x in 0..<width {
            noise = noise &* 1_664_525 &+ 1_013_904_223
            let grain = Int(noise >> 28) - 8
            var r = 242 + grain, g = 238 + grain, b = 228 + grain
            if textRow && x >= margin && x < width - margin {
                let glyph = (x / (9 * unit) &+ lineIndex &* 7) % 11
                let stroke = (x % (9 * unit)) < 2 * unit || (inLine - 6 * unit) % (5 * unit) < unit
                if glyph != 0 && stroke { r = 35 + grain; g = 35 + grain; b = 45 + grain }
            }
            if y >= photo.y0 && y < photo.y1 && x >= photo.x0 && x < photo.x1 {
                let u = (x - photo.x0) * 255 / (photo.x1 - photo.x0)
                let v = (y - photo.y0) * 255 / (photo.y1 - photo.y0)
                r = (u + grain * 2) & 255; g = (v + (u >> 2)) & 255; b = (255 - ((u + v) >> 1) + grain) & 255
            }
            let dx = x - seal.cx, dy = y - seal.cy
            let distance2 = dx * dx + dy * dy
            let ring = distance2 <= seal.r * seal.r && distance2 >= (seal.r - 6 * unit) * (seal.r - 6 * unit)
            let star = distance2 < (seal.r / 3) * (seal.r / 3)
            if ring || star { r = 200 + grain; g = 30 + grain; b = 40 + grain }
            row[x * 3] = UInt8(clamping: r)
            row[x * 3 + 1] = UInt8(clamping: g)
            row[x * 3 + 2] = UInt8(clamping: b)
        }
    }

    /// Every row in order, for small test images.
    public func pixels() -> [UInt8] {
        let rowBytes = image.bytesPerRow
        var pixels = [UInt8](repeating: 0, count: rowBytes * image.height)
        pixels.withUnsafeMutableBytes { all in
            for y in 0..<image.height {
                render(row: y, into: UnsafeMutableRawBufferPointer(rebasing: all[(y * rowBytes)..<((y + 1) * rowBytes)]))
            }
        }
        return pixels
    }
}
