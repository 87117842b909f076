import Attachments

/// Y'CbCr to R'G'B' coefficients in 8.8 fixed point, per the V4L2 colorimetry of the format.
public struct YCbCrMatrix: Sendable, Equatable {
    let yScale: Int, yOffset: Int, rFromV: Int, gFromU: Int, gFromV: Int, bFromU: Int

    /// ITU-R BT.601, Y in 16…235 and chroma in 16…240 (the V4L2 default for YUV at SD and webcam sizes).
    public static let bt601Limited = YCbCrMatrix(yScale: 298, yOffset: 16, rFromV: 409, gFromU: 100, gFromV: 208, bFromU: 516)
    /// ITU-R BT.601 over the full 0…255 range (JPEG's convention).
    public static let bt601Full = YCbCrMatrix(yScale: 256, yOffset: 0, rFromV: 359, gFromU: 88, gFromV: 183, bFromU: 454)
    /// ITU-R BT.709, limited range.
    public static let bt709Limited = YCbCrMatrix(yScale: 298, yOffset: 16, rFromV: 459, gFromU: 55, gFromV: 136, bFromU: 541)
    /// ITU-R BT.709, full range.
    public static let bt709Full = YCbCrMatrix(yScale: 256, yOffset: 0, rFromV: 403, gFromU: 48, gFromV: 120, bFromU: 475)

    /// The matrix for a negotiated format's `ycbcr_enc` and `quantization` fields (V4L2 enum values).
    static func forFormat(encoding: UInt32, quantization: UInt32) -> YCbCrMatrix {
        let full = quantization == 1  // V4L2_QUANTIZATION_FULL_RANGE
        let rec709 = encoding == 2 || encoding == 4  // V4L2_YCBCR_ENC_709, _XV709
        switch (rec709, full) {
        case (false, false): return .bt601Limited
        case (false, true): return .bt601Full
        case (true, false): return .bt709Limited
        case (true, true): return .bt709Full
        }
    }

    /// Converts one Y'CbCr sample to 8-bit R'G'B', clamped.
    @inline(__always)
    func rgb(y: Int, u: Int, v: Int) -> (UInt8, UInt8, UInt8) {
        let c = (y - yOffset) * yScale + 128
        let d = u - 128, e = v - 128
        return (clamp((c + rFromV * e) >> 8), clamp((c - gFromU * d - gFromV * e) >> 8), clamp((c + bFromU * d) >> 8))
    }
}

@inline(__always)
private func clamp(_ value: Int) -> UInt8 { UInt8(truncatingIfNeeded: value < 0 ? 0 : value > 255 ? 255 : value) }

/// Lookup tables from a frame's Y'CbCr samples to JPEG's full range, held as raw buffers so the per-pixel loop reads
/// them without bounds checks or reference counting.
final class YCbCrTables {
    let luma: UnsafeMutablePointer<UInt8>
    let chroma: UnsafeMutablePointer<UInt8>

    init(luma: [UInt8], chroma: [UInt8]) {
        self.luma = .allocate(capacity: 256)
        self.chroma = .allocate(capacity: 256)
        self.luma.initialize(from: luma, count: 256)
        self.chroma.initialize(from: chroma, count: 256)
    }

    deinit {
        luma.deallocate()
        chroma.deallocate()
    }
}

/// Turns one raw frame into packed 8-bit RGB (or gray) rows for the Attachments encoders,
/// one row at a time, straight from the driver's buffer.
struct FrameConverter {
    let layout: PixelLayout
    let width: Int
    let height: Int
    let bytesPerLine: Int
    let matrix: YCbCrMatrix
    /// Hue range of HSV formats: 180 (0…179) or 256.
    let hueRange: Int

    /// The rows it produces.
    var image: ImageDescription { ImageDescription(format: layout.isGray ? .gray8 : .rgb8, width: width, height: height) }

    /// Bytes a complete frame must have.
    var frameSize: Int { layout.frameSize(width: width, height: height, bytesPerLine: bytesPerLine) }

    init(layout: PixelLayout, width: Int, height: Int, bytesPerLine: Int, matrix: YCbCrMatrix = .bt601Limited, hueRange: Int = 180) {
        self.layout = layout
        self.width = width
        self.height = height
        self.bytesPerLine = max(bytesPerLine, layout.minimumBytesPerLine(width: width))
        self.matrix = matrix
        self.hueRange = hueRange
    }

    /// Whether `convertRowToYCbCr` can give this format's rows: Y'CbCr layouts in BT.601, which JPEG stores as they are.
    var convertsToYCbCr: Bool {
        guard matrix == .bt601Limited || matrix == .bt601Full else { return false }
        switch layout {
        case .yuv422, .planar, .semiPlanar: return true
        default: return false
        }
    }

    /// Full-range values for the frame's luma and chroma samples (an identity for full-range frames).
    private var rangeTables: (luma: [UInt8], chroma: [UInt8]) {
        guard matrix == .bt601Limited else { return (Array(0...255), Array(0...255)) }
        let luma = (0...255).map { clamp((($0 - 16) * 255 + 109) / 219) }
        let chroma = (0...255).map { clamp((($0 - 128) * 255 + (($0 - 128) >= 0 ? 112 : -112)) / 224 + 128) }
        return (luma, chroma)
    }

    /// Writes row `y` of `frame` as packed Y'CbCr triples in JPEG's full-range BT.601 (only when `convertsToYCbCr`), for
    /// an encoder that takes Y'CbCr: no RGB round trip. `tables` is `ycbcrTables`.
    func convertRowToYCbCr(
        _ y: Int, of frame: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
        tables: YCbCrTables
    ) {
        guard let base = frame.baseAddress?.assumingMemoryBound(to: UInt8.self),
            let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { return }
        let luma = tables.luma, chroma = tables.chroma
        let row = base + y * bytesPerLine
        switch layout {
        case .yuv422(let y0, let u, let y1, let v):
            var x = 0
            while x < width {
                let group = row + (x >> 1) * 4
                let cb = chroma[Int(group[u])], cr = chroma[Int(group[v])]
                out[x * 3] = luma[Int(group[y0])]; out[x * 3 + 1] = cb; out[x * 3 + 2] = cr
                if x + 1 < width { out[x * 3 + 3] = luma[Int(group[y1])]; out[x * 3 + 4] = cb; out[x * 3 + 5] = cr }
                x += 2
            }
        case .planar(let sx, let sy, let vFirst):
            let (uRow, vRow) = planarChroma(base, y: y, shiftX: sx, shiftY: sy, vFirst: vFirst)
            for x in 0..<width {
                out[x * 3] = luma[Int(row[x])]; out[x * 3 + 1] = chroma[Int(uRow[x >> sx])]; out[x * 3 + 2] = chroma[Int(vRow[x >> sx])]
            }
        case .semiPlanar(let sx, let sy, let vFirst):
            let (pairs, uOffset, vOffset) = semiPlanarChroma(base, y: y, shiftX: sx, shiftY: sy, vFirst: vFirst)
            for x in 0..<width {
                let pair = pairs + (x >> sx) * 2
                out[x * 3] = luma[Int(row[x])]; out[x * 3 + 1] = chroma[Int(pair[uOffset])]; out[x * 3 + 2] = chroma[Int(pair[vOffset])]
            }
        default:
            break
        }
    }

    /// Where row `y`'s chroma samples start in a planar frame (the U and the V plane).
    private func planarChroma(
        _ base: UnsafePointer<UInt8>, y: Int, shiftX: Int, shiftY: Int,
        vFirst: Bool
    ) -> (u: UnsafePointer<UInt8>, v: UnsafePointer<UInt8>) {
        let chromaStride = bytesPerLine >> shiftX
        let chromaPlane = chromaStride * ((height + (1 << shiftY) - 1) >> shiftY)
        let first = base + bytesPerLine * height + (y >> shiftY) * chromaStride
        return vFirst ? (first + chromaPlane, first) : (first, first + chromaPlane)
    }

    /// Where row `y`'s interleaved chroma pairs start in a semi-planar frame, and which of a pair is U and which V.
    private func semiPlanarChroma(
        _ base: UnsafePointer<UInt8>, y: Int, shiftX: Int, shiftY: Int,
        vFirst: Bool
    ) -> (pairs: UnsafePointer<UInt8>, u: Int, v: Int) {
        let pairs = base + bytesPerLine * height + (y >> shiftY) * (bytesPerLine * 2 >> shiftX)
        return vFirst ? (pairs, 1, 0) : (pairs, 0, 1)
    }

    /// The range tables `convertRowToYCbCr` uses, made once per stream.
    var ycbcrTables: YCbCrTables {
        let (luma, chroma) = rangeTables
        return YCbCrTables(luma: luma, chroma: chroma)
    }

    /// Writes row `y` of `frame` (at least `frameSize` bytes) into `output` (`image.bytesPerRow` bytes).
    func convertRow(_ y: Int, of frame: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        guard let base = frame.baseAddress?.assumingMemoryBound(to: UInt8.self),
            let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { return }
        let row = base + y * bytesPerLine
        switch layout {
        case .yuv422(let y0, let u, let y1, let v):
            var x = 0
            while x < width {
                let group = row + (x >> 1) * 4
                let cb = Int(group[u]), cr = Int(group[v])
                let (r0, g0, b0) = matrix.rgb(y: Int(group[y0]), u: cb, v: cr)
                out[x * 3] = r0; out[x * 3 + 1] = g0; out[x * 3 + 2] = b0
                if x + 1 < width {
                    let (r1, g1, b1) = matrix.rgb(y: Int(group[y1]), u: cb, v: cr)
                    out[x * 3 + 3] = r1; out[x * 3 + 4] = g1; out[x * 3 + 5] = b1
                }
                x += 2
            }
        case .planar(let sx, let sy, let vFirst):
            let (uRow, vRow) = planarChroma(base, y: y, shiftX: sx, shiftY: sy, vFirst: vFirst)
            for x in 0..<width {
                let (r, g, b) = matrix.rgb(y: Int(row[x]), u: Int(uRow[x >> sx]), v: Int(vRow[x >> sx]))
                out[x * 3] = r; out[x * 3 + 1] = g; out[x * 3 + 2] = b
            }
        case .semiPlanar(let sx, let sy, let vFirst):
            let (chroma, uOffset, vOffset) = semiPlanarChroma(base, y: y, shiftX: sx, shiftY: sy, vFirst: vFirst)
            for x in 0..<width {
                let pair = chroma + (x >> sx) * 2
                let (r, g, b) = matrix.rgb(y: Int(row[x]), u: Int(pair[uOffset]), v: Int(pair[vOffset]))
                out[x * 3] = r; out[x * 3 + 1] = g; out[x * 3 + 2] = b
            }
        case .gray(let bytes, let bits, let bigEndian):
            if bytes == 1 {
                out.update(from: row, count: width)
            } else {
                for x in 0..<width {
                    let pixel = row + x * 2
                    let value = bigEndian ? Int(pixel[0]) << 8 | Int(pixel[1]) : Int(pixel[1]) << 8 | Int(pixel[0])
                    out[x] = UInt8(truncatingIfNeeded: (value >> (bits - 8)) & 0xFF)
                }
            }
        case .packed(let bytes, let bigEndian, let model, let fields):
            convertPacked(row: row, out: out, bytes: bytes, bigEndian: bigEndian, model: model, fields: fields)
        case .bayer(let pattern, let bytes, let bits):
            convertBayer(base: base, y: y, out: out, pattern: pattern, bytes: bytes, bits: bits)
        }
    }

    private func convertPacked(
        row: UnsafePointer<UInt8>, out: UnsafeMutablePointer<UInt8>, bytes: Int, bigEndian: Bool,
        model: PixelLayout.Model, fields: [PixelLayout.Field]
    ) {
        let (f0, f1, f2) = (fields[0], fields[1], fields[2])
        let m0 = (1 << f0.bits) - 1, m1 = (1 << f1.bits) - 1, m2 = (1 << f2.bits) - 1
        @inline(__always) func scale(_ value: Int, _ mask: Int) -> Int { mask == 255 ? value : (value * 255 + mask / 2) / mask }
        for x in 0..<width {
            let pixel = row + x * bytes
            var word = 0
            if bigEndian {
                for index in 0..<bytes { word = word << 8 | Int(pixel[index]) }
            } else {
                for index in (0..<bytes).reversed() { word = word << 8 | Int(pixel[index]) }
            }
            let a = scale((word >> f0.shift) & m0, m0)
            let b = scale((word >> f1.shift) & m1, m1)
            let c = scale((word >> f2.shift) & m2, m2)
            let rgb: (UInt8, UInt8, UInt8)
            switch model {
            case .rgb: rgb = (UInt8(a), UInt8(b), UInt8(c))
            case .yuv: rgb = matrix.rgb(y: a, u: b, v: c)
            case .hsv: rgb = Self.hsvToRGB(hue: a, saturation: b, value: c, hueRange: hueRange)
            }
            out[x * 3] = rgb.0; out[x * 3 + 1] = rgb.1; out[x * 3 + 2] = rgb.2
        }
    }

    /// Each pixel takes red, blue and the mean of the two greens of the 2x2 filter cell it lies in.
    private func convertBayer(
        base: UnsafePointer<UInt8>, y: Int, out: UnsafeMutablePointer<UInt8>,
        pattern: [PixelLayout.Filter], bytes: Int, bits: Int
    ) {
        let top = y & ~1
        let bottom = min(top + 1, height - 1)
        let rows = [base + top * bytesPerLine, base + bottom * bytesPerLine]
        @inline(__always) func sample(_ row: UnsafePointer<UInt8>, _ x: Int) -> Int {
            bytes == 1 ? Int(row[x]) : (Int(row[x * 2 + 1]) << 8 | Int(row[x * 2])) >> (bits - 8)
        }
        var x = 0
        while x < width {
            let left = x, right = min(x + 1, width - 1)
            var red = 0, green = 0, blue = 0
            for (index, filter) in pattern.enumerated() {
                let value = sample(rows[index >> 1], index & 1 == 0 ? left : right)
                switch filter {
                case .red: red = value
                case .green: green += value
                case .blue: blue = value
                }
            }
            for pixel in x..<min(x + 2, width) {
                out[pixel * 3] = clamp(red); out[pixel * 3 + 1] = clamp((green + 1) / 2); out[pixel * 3 + 2] = clamp(blue)
            }
            x += 2
        }
    }

    /// HSV (each 0…255, hue 0…`hueRange`-1) to RGB.
    static func hsvToRGB(hue: Int, saturation: Int, value: Int, hueRange: Int) -> (UInt8, UInt8, UInt8) {
        guard saturation > 0 else { let v = UInt8(value); return (v, v, v) }
        let sector = hue * 6 * 256 / hueRange  // 0 ..< 6*256
        let region = min(sector >> 8, 5), remainder = sector & 0xFF
        let p = value * (255 - saturation) / 255
        let q = value * (255 - saturation * remainder / 256) / 255
        let t = value * (255 - saturation * (256 - remainder) / 256) / 255
        let (r, g, b): (Int, Int, Int) =
            switch region {
            case 0: (value, t, p)
            case 1: (q, value, p)
            case 2: (p, value, t)
            case 3: (p, q, value)
            case 4: (t, p, value)
            default: (value, p, q)
            }
        return (clamp(r), clamp(g), clamp(b))
    }
}
