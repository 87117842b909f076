import CFreeType

/// The screen a pad shows while it waits for a signature: the prompt text at the top (FreeType, a sans
/// font fontconfig picks, wrapped to the width) and a signing line with a cross near the bottom,
/// black on white, as 8-bit gray.
public struct PadPrompt: Sendable {
    /// The text shown.
    public var text: String
    /// Screen width in pixels.
    public var width: Int
    /// Screen height in pixels.
    public var height: Int

    /// A prompt for a screen of `width` x `height` pixels.
    public init(text: String, width: Int, height: Int) {
        self.text = text
        self.width = width
        self.height = height
    }

    /// Where the signing line is drawn (a row), so a driver can set the inking area around it.
    public var signingLineRow: Int { height * 4 / 5 }

    /// Renders the screen; `invalid_value` for an empty screen, `io_error` when no font can be loaded.
    public func render() throws(SignaturePadError) -> [UInt8] {
        guard width > 0, height > 0, width <= 4096, height <= 4096 else {
            throw SignaturePadError(.invalidValue, "screen size \(width)x\(height)")
        }
        var pixels = [UInt8](repeating: 255, count: width * height)
        let margin = max(width / 40, 4)
        if !text.isEmpty { try drawText(into: &pixels, margin: margin) }
        // The signing line, 2 px thick, and a cross at its left end.
        let line = signingLineRow
        for y in line..<min(line + max(height / 240, 2), height) {
            for x in margin..<(width - margin) { pixels[y * width + x] = 0 }
        }
        let cross = max(height / 24, 6)
        for step in 0..<cross {
            for (x, y) in [(margin + step, line - cross - 4 + step), (margin + cross - 1 - step, line - cross - 4 + step)]
            where x >= 0 && x < width && y >= 0 && y < height {
                pixels[y * width + x] = 0
                if x + 1 < width { pixels[y * width + x + 1] = 0 }
            }
        }
        return pixels
    }

    private func drawText(into pixels: inout [UInt8], margin: Int) throws(SignaturePadError) {
        var library: FT_Library?
        guard FT_Init_FreeType(&library) == 0, let library else { throw SignaturePadError(.ioError, "FreeType did not start") }
        defer { FT_Done_FreeType(library) }
        var path = [CChar](repeating: 0, count: 1024)
        guard ck_font_file("sans", &path, Int32(path.count)) == 0 else {
            throw SignaturePadError(.ioError, "fontconfig found no sans font (apt-get install fonts-dejavu-core)")
        }
        var face: FT_Face?
        guard FT_New_Face(library, path, 0, &face) == 0, let face else {
            throw SignaturePadError(
                .ioError, "FreeType could not load \(String(decoding: path.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        defer { FT_Done_Face(face) }
        let size = max(height / 12, 10)
        FT_Set_Pixel_Sizes(face, 0, FT_UInt(size))
        let lineHeight = Int(face.pointee.size.pointee.metrics.height >> 6)
        let ascender = Int(face.pointee.size.pointee.metrics.ascender >> 6)

        // Greedy word wrap on the glyphs' advances.
        func advance(_ scalar: Unicode.Scalar) -> Int {
            FT_Load_Char(face, FT_ULong(scalar.value), FT_Int32(FT_LOAD_DEFAULT)) == 0 ? Int(face.pointee.glyph.pointee.advance.x >> 6) : 0
        }
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            let candidate = current.isEmpty ? String(word) : current + " " + word
            if current.isEmpty || candidate.unicodeScalars.reduce(0, { $0 + advance($1) }) <= width - 2 * margin {
                current = candidate
            } else {
                lines.append(current)
                current = String(word)
            }
        }
        if !current.isEmpty { lines.append(current) }

        var baseline = margin + ascender
        for line in lines where baseline < signingLineRow - lineHeight / 2 {
            var penX = margin
            for scalar in line.unicodeScalars {
                guard FT_Load_Char(face, FT_ULong(scalar.value), FT_Int32(FT_LOAD_RENDER)) == 0 else { continue }
                let glyph = face.pointee.glyph.pointee
                let bitmap = glyph.bitmap
                let left = penX + Int(glyph.bitmap_left), top = baseline - Int(glyph.bitmap_top)
                for row in 0..<Int(bitmap.rows) {
                    for column in 0..<Int(bitmap.width) {
                        let x = left + column, y = top + row
                        guard x >= 0, x < width, y >= 0, y < height, let buffer = bitmap.buffer else { continue }
                        let coverage = Int(buffer[row * Int(bitmap.pitch) + column])
                        let index = y * width + x
                        pixels[index] = UInt8(min(Int(pixels[index]), 255 - coverage))
                    }
                }
                penX += Int(glyph.advance.x >> 6)
            }
            baseline += lineHeight
        }
    }
}
