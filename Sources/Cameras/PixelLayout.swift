/// How the pixels of a raw V4L2 format are laid out in memory, described as
/// data so one converter handles every format vivid (and common UVC cameras) offer.
/// Layouts follow the kernel's pixel-format documentation (Documentation/userspace-api/media/v4l).
enum PixelLayout: Sendable, Equatable {
    /// What the three components of a packed pixel mean.
    enum Model: Sendable, Equatable { case rgb, yuv, hsv }
    /// One component inside a packed pixel word: `bits` wide, `shift` from the least significant bit.
    struct Field: Sendable, Equatable {
        var shift: Int
        var bits: Int
    }
    /// A colour-filter position in a Bayer pattern.
    enum Filter: Sendable, Equatable { case red, green, blue }

    /// One pixel in `bytes` bytes read as an integer (little- or big-endian), three fields.
    case packed(bytes: Int, bigEndian: Bool, model: Model, fields: [Field])
    /// YUV 4:2:2 in 4-byte groups of two pixels; byte offsets of Y0, U, Y1, V.
    case yuv422(y0: Int, u: Int, y1: Int, v: Int)
    /// Three planes Y, then U and V (or V and U), chroma subsampled by 2^shiftX, 2^shiftY.
    case planar(shiftX: Int, shiftY: Int, vFirst: Bool)
    /// A Y plane, then one plane of interleaved U/V (or V/U) pairs, subsampled by 2^shiftX, 2^shiftY.
    case semiPlanar(shiftX: Int, shiftY: Int, vFirst: Bool)
    /// Gray samples of `bytes` bytes holding `bits` significant bits.
    case gray(bytes: Int, bits: Int, bigEndian: Bool)
    /// A 2x2 colour-filter pattern (first row, then second row), samples of `bytes` bytes with `bits` bits.
    case bayer(pattern: [Filter], bytes: Int, bits: Int)

    /// Whether frames convert to gray rather than RGB rows.
    var isGray: Bool { if case .gray = self { true } else { false } }

    /// Bytes the frame needs for `height` rows at `bytesPerLine` (plane 0's stride).
    func frameSize(width: Int, height: Int, bytesPerLine: Int) -> Int {
        switch self {
        case .planar(let sx, let sy, _):
            let chromaRows = (height + (1 << sy) - 1) >> sy
            return bytesPerLine * height + 2 * (bytesPerLine >> sx) * chromaRows
        case .semiPlanar(let sx, let sy, _):
            let chromaRows = (height + (1 << sy) - 1) >> sy
            return bytesPerLine * height + (bytesPerLine * 2 >> sx) * chromaRows
        default:
            return bytesPerLine * (height - 1) + minimumBytesPerLine(width: width)
        }
    }

    /// The fewest bytes one row of plane 0 can have.
    func minimumBytesPerLine(width: Int) -> Int {
        switch self {
        case .packed(let bytes, _, _, _): width * bytes
        case .yuv422: (width + 1) / 2 * 4
        case .planar, .semiPlanar: width
        case .gray(let bytes, _, _): width * bytes
        case .bayer(_, let bytes, _): width * bytes
        }
    }

    /// The layout of a V4L2 format code, nil for compressed or unknown formats.
    static func of(_ code: FourCC) -> PixelLayout? { table[code.rawValue] }

    /// Every raw format this converter reads.
    static var supportedFormats: [FourCC] { table.keys.map(FourCC.init(rawValue:)).sorted { $0.name < $1.name } }

    private static let table: [UInt32: PixelLayout] = {
        var table: [UInt32: PixelLayout] = [:]
        func add(_ code: String, _ layout: PixelLayout) { table[FourCC(code)!.rawValue] = layout }
        func f(_ shift: Int, _ bits: Int) -> Field { Field(shift: shift, bits: bits) }
        // YUV 4:2:2 packed.
        add("YUYV", .yuv422(y0: 0, u: 1, y1: 2, v: 3))
        add("YVYU", .yuv422(y0: 0, u: 3, y1: 2, v: 1))
        add("UYVY", .yuv422(y0: 1, u: 0, y1: 3, v: 2))
        add("VYUY", .yuv422(y0: 1, u: 2, y1: 3, v: 0))
        // Planar and semi-planar YUV.
        add("422P", .planar(shiftX: 1, shiftY: 0, vFirst: false))
        add("YU12", .planar(shiftX: 1, shiftY: 1, vFirst: false))
        add("YV12", .planar(shiftX: 1, shiftY: 1, vFirst: true))
        add("NV12", .semiPlanar(shiftX: 1, shiftY: 1, vFirst: false))
        add("NV21", .semiPlanar(shiftX: 1, shiftY: 1, vFirst: true))
        add("NV16", .semiPlanar(shiftX: 1, shiftY: 0, vFirst: false))
        add("NV61", .semiPlanar(shiftX: 1, shiftY: 0, vFirst: true))
        add("NV24", .semiPlanar(shiftX: 0, shiftY: 0, vFirst: false))
        add("NV42", .semiPlanar(shiftX: 0, shiftY: 0, vFirst: true))
        // Packed YUV in 16-bit little-endian words (fields Y, U, V).
        add("YUVO", .packed(bytes: 2, bigEndian: false, model: .yuv, fields: [f(10, 5), f(5, 5), f(0, 5)]))
        add("YUVP", .packed(bytes: 2, bigEndian: false, model: .yuv, fields: [f(11, 5), f(5, 6), f(0, 5)]))
        add("Y444", .packed(bytes: 2, bigEndian: false, model: .yuv, fields: [f(8, 4), f(4, 4), f(0, 4)]))
        // Packed YUV, one byte per component; the word is read big-endian so byte 0 is the top byte.
        for (code, order) in [
            ("YUV4", "AYUV"), ("AYUV", "AYUV"), ("XYUV", "AYUV"), ("VUYA", "VUYA"), ("VUYX", "VUYA"),
            ("YUVA", "YUVA"), ("YUVX", "YUVA"),
        ] {
            add(code, .packed(bytes: 4, bigEndian: true, model: .yuv, fields: byteFields(order, components: "YUV")))
        }
        // Gray.
        add("GREY", .gray(bytes: 1, bits: 8, bigEndian: false))
        add("Y10 ", .gray(bytes: 2, bits: 10, bigEndian: false))
        add("Y12 ", .gray(bytes: 2, bits: 12, bigEndian: false))
        add("Y16 ", .gray(bytes: 2, bits: 16, bigEndian: false))
        add("Y16 -BE", .gray(bytes: 2, bits: 16, bigEndian: true))
        // RGB in 8 and 16 bits (fields R, G, B; bit positions from the most significant bit down).
        add("RGB1", .packed(bytes: 1, bigEndian: false, model: .rgb, fields: [f(5, 3), f(2, 3), f(0, 2)]))
        add("RGBP", .packed(bytes: 2, bigEndian: false, model: .rgb, fields: [f(11, 5), f(5, 6), f(0, 5)]))
        add("RGBR", .packed(bytes: 2, bigEndian: true, model: .rgb, fields: [f(11, 5), f(5, 6), f(0, 5)]))
        for code in ["R444", "XR12", "AR12"] { add(code, .packed(bytes: 2, bigEndian: false, model: .rgb, fields: [f(8, 4), f(4, 4), f(0, 4)])) }
        for code in ["RX12", "RA12"] { add(code, .packed(bytes: 2, bigEndian: false, model: .rgb, fields: [f(12, 4), f(8, 4), f(4, 4)])) }
        for code in ["XB12", "AB12"] { add(code, .packed(bytes: 2, bigEndian: false, model: .rgb, fields: [f(0, 4), f(4, 4), f(8, 4)])) }
        for code in ["BX12", "GA12"] { add(code, .packed(bytes: 2, bigEndian: false, model: .rgb, fields: [f(4, 4), f(8, 4), f(12, 4)])) }
        for code in ["RGBO", "XR15", "AR15"] { add(code, .packed(bytes: 2, bigEndian: false, model: .rgb, fields: [f(10, 5), f(5, 5), f(0, 5)])) }
        for code in ["RX15", "RA15"] { add(code, .packed(bytes: 2, bigEndian: false, model: .rgb, fields: [f(11, 5), f(6, 5), f(1, 5)])) }
        for code in ["XB15", "AB15"] { add(code, .packed(bytes: 2, bigEndian: false, model: .rgb, fields: [f(0, 5), f(5, 5), f(10, 5)])) }
        for code in ["BX15", "BA15"] { add(code, .packed(bytes: 2, bigEndian: false, model: .rgb, fields: [f(1, 5), f(6, 5), f(11, 5)])) }
        for code in ["RGBQ", "XR15-BE", "AR15-BE"] { add(code, .packed(bytes: 2, bigEndian: true, model: .rgb, fields: [f(10, 5), f(5, 5), f(0, 5)])) }
        // RGB with whole bytes per component, in the byte order of memory.
        add("RGB3", .packed(bytes: 3, bigEndian: true, model: .rgb, fields: [f(16, 8), f(8, 8), f(0, 8)]))
        add("BGR3", .packed(bytes: 3, bigEndian: true, model: .rgb, fields: [f(0, 8), f(8, 8), f(16, 8)]))
        add("BGRH", .packed(bytes: 4, bigEndian: true, model: .rgb, fields: [f(14, 6), f(20, 6), f(26, 6)]))
        for (code, order) in [
            ("RGB4", "ARGB"), ("BX24", "ARGB"), ("BA24", "ARGB"), ("BGR4", "BGRA"), ("XR24", "BGRA"), ("AR24", "BGRA"),
            ("XB24", "RGBA"), ("AB24", "RGBA"), ("RX24", "ABGR"), ("RA24", "ABGR"),
        ] {
            add(code, .packed(bytes: 4, bigEndian: true, model: .rgb, fields: byteFields(order, components: "RGB")))
        }
        // HSV, hue first.
        add("HSV3", .packed(bytes: 3, bigEndian: true, model: .hsv, fields: [f(16, 8), f(8, 8), f(0, 8)]))
        add("HSV4", .packed(bytes: 4, bigEndian: true, model: .hsv, fields: [f(16, 8), f(8, 8), f(0, 8)]))
        // Bayer: 8-bit, then 10/12/16-bit samples in little-endian 16-bit words.
        let patterns: [(String, [Filter])] = [
            ("BGGR", [.blue, .green, .green, .red]), ("GBRG", [.green, .blue, .red, .green]),
            ("GRBG", [.green, .red, .blue, .green]), ("RGGB", [.red, .green, .green, .blue]),
        ]
        let codes: [String: [String]] = [
            "BGGR": ["BA81", "BG10", "BG12", "BYR2"], "GBRG": ["GBRG", "GB10", "GB12", "GB16"],
            "GRBG": ["GRBG", "BA10", "BA12", "GR16"], "RGGB": ["RGGB", "RG10", "RG12", "RG16"],
        ]
        for (name, pattern) in patterns {
            for (code, (bytes, bits)) in zip(codes[name]!, [(1, 8), (2, 10), (2, 12), (2, 16)]) {
                add(code, .bayer(pattern: pattern, bytes: bytes, bits: bits))
            }
        }
        return table
    }()

    /// Fields for a 4-byte pixel whose byte order is spelled by `order` (e.g. "BGRA"), for the three `components`.
    private static func byteFields(_ order: String, components: String) -> [Field] {
        let letters = Array(order)
        return components.map { component in
            let index = letters.firstIndex(of: component)!
            return Field(shift: (3 - index) * 8, bits: 8)
        }
    }
}
