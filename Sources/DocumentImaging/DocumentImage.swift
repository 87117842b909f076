import Attachments
import CDocumentImaging
import CPNG
import CTurboJPEG
import Foundation

/// The DocumentImaging family's errors: a `CounterKitError` raised in this module (its `family` is `.documentImaging`;
/// codes such as `no_document`, `invalid_image`, `invalid_value`).
public typealias DocumentImagingError = CounterKitError

/// An 8-bit image in memory, gray (1 channel) or RGB (3), rows tightly packed: what the imaging steps read and write.
public struct DocumentImage: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// 1 (gray) or 3 (RGB).
    public let channels: Int
    /// The pixels, `width * channels` bytes a row.
    public var pixels: [UInt8]
    /// Resolution in dots per inch, when known (0 otherwise).
    public var dpi: Double
    /// A black-and-white page: one channel holding only 0 and 255, written as 1-bit PNG or PDF (JPEG keeps it gray).
    public var isBilevel = false

    /// Wraps pixels; the count must be `width * height * channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8], dpi: Double = 0) throws(DocumentImagingError) {
        guard width > 0, height > 0, channels == 1 || channels == 3, pixels.count == width * height * channels else {
            throw DocumentImagingError(.invalidImage, "\(width)x\(height)x\(channels) needs \(max(width * height * channels, 0)) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
        self.dpi = dpi
    }

    /// A blank image of one gray level.
    public init(width: Int, height: Int, channels: Int, fill: UInt8 = 255, dpi: Double = 0) throws(DocumentImagingError) {
        try self.init(
            width: width, height: height, channels: channels,
            pixels: [UInt8](repeating: fill, count: max(width, 0) * max(height, 0) * channels), dpi: dpi)
    }

    /// The pixel format of the rows, for the encoders.
    public var pixelFormat: PixelFormat { channels == 1 ? .gray8 : .rgb8 }

    /// Reads a JPEG or PNG file (by its content, not its name), as RGB or gray.
    public static func read(path: String) throws(DocumentImagingError) -> DocumentImage {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DocumentImagingError(.notFound, "cannot read \(path)")
        }
        return try decode([UInt8](data), name: path)
    }

    /// Decodes a JPEG, PNG or PNM image held in memory (by its content), as RGB or gray; `name` names it in errors.
    public static func decode(_ bytes: [UInt8], name: String = "the image") throws(DocumentImagingError) -> DocumentImage {
        if bytes.starts(with: [0xFF, 0xD8]) { return try decodeJPEG(bytes, name: name) }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            var copy = bytes
            return try copy.withUnsafeMutableBytes { buffer in
                Result { () throws(DocumentImagingError) -> DocumentImage in
                    guard let file = fmemopen(buffer.baseAddress, buffer.count, "rb") else { throw DocumentImagingError(.noMemory, "cannot read \(name)") }
                    defer { fclose(file) }
                    return try decodePNG(file: file, name: name)
                }
            }.get()
        }
        if bytes.count > 2, bytes[0] == UInt8(ascii: "P"), [UInt8(ascii: "4"), UInt8(ascii: "5"), UInt8(ascii: "6")].contains(bytes[1]) {
            return try decodePNM(bytes, name: name)
        }
        throw DocumentImagingError(.unsupportedFormat, "\(name) is not a JPEG, PNG or PNM image")
    }

    /// Decodes JPEG bytes (gray or RGB), with the density of its JFIF header.
    public static func decodeJPEG(_ bytes: [UInt8], name: String = "the image") throws(DocumentImagingError) -> DocumentImage {
        guard let handle = tjInitDecompress() else { throw DocumentImagingError(.noMemory, "TurboJPEG could not start") }
        defer { tjDestroy(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        var source = bytes
        guard tjDecompressHeader3(handle, &source, UInt(bytes.count), &width, &height, &subsampling, &colorspace) == 0 else {
            throw DocumentImagingError(.invalidImage, "\(name) is not a readable JPEG: \(String(cString: tjGetErrorStr2(handle)))")
        }
        let channels = colorspace == TJCS_GRAY.rawValue ? 1 : 3
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
        guard
            tjDecompress2(
                handle, &source, UInt(bytes.count), &pixels, width, 0, height,
                (channels == 1 ? TJPF_GRAY : TJPF_RGB).rawValue, TJFLAG_STOPONWARNING) == 0
        else {
            throw DocumentImagingError(.invalidImage, "\(name) does not decode: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return try DocumentImage(width: Int(width), height: Int(height), channels: channels, pixels: pixels, dpi: jfifDensity(bytes))
    }

    /// Decodes binary Netpbm: P6 (RGB), P5 (gray), 8-bit, or P4 (black and white, read as a bilevel gray image).
    public static func decodePNM(_ bytes: [UInt8], name: String = "the image") throws(DocumentImagingError) -> DocumentImage {
        // The header: magic, width, height and (except P4) maxval, separated by whitespace, with # comments.
        var index = 2
        func number() -> Int? {
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "#") {
                    while index < bytes.count, bytes[index] != 0x0A { index += 1 }
                } else if [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) {
                    index += 1
                } else {
                    break
                }
            }
            var value = 0, digits = 0
            while index < bytes.count, (0x30...0x39).contains(bytes[index]), digits < 9 {
                value = value * 10 + Int(bytes[index] - 0x30)
                index += 1
                digits += 1
            }
            return digits > 0 ? value : nil
        }
        let kind = bytes[1]
        guard let width = number(), let height = number(), width > 0, height > 0, width * height <= 400_000_000 else {
            throw DocumentImagingError(.invalidImage, "\(name) has no valid PNM size")
        }
        let maxval = kind == UInt8(ascii: "4") ? 1 : number()
        guard maxval == 255 || (kind == UInt8(ascii: "4") && maxval == 1), index < bytes.count else {
            throw DocumentImagingError(.invalidImage, "\(name): only 8-bit PNM is read")
        }
        index += 1  // the single whitespace before the raster
        let channels = kind == UInt8(ascii: "6") ? 3 : 1
        let rowBytes = kind == UInt8(ascii: "4") ? (width + 7) / 8 : width * channels
        guard bytes.count - index >= rowBytes * height else {
            throw DocumentImagingError(.invalidImage, "\(name) is cut short: \(bytes.count - index) of \(rowBytes * height) raster bytes")
        }
        guard kind == UInt8(ascii: "4") else {
            return try DocumentImage(width: width, height: height, channels: channels, pixels: Array(bytes[index..<(index + rowBytes * height)]))
        }
        return try bilevel(bytes[index..<(index + rowBytes * height)], width: width, height: height)
    }

    /// An image from packed rows as scanners deliver them (`image.bytesPerRow` bytes a row): 8-bit gray or RGB as they
    /// are, black and white (1 bit, 1 = black) as a bilevel gray image; 16-bit and alpha are `invalid_image`.
    public init(rows: [UInt8], of image: ImageDescription) throws(DocumentImagingError) {
        switch image.format {
        case .gray8, .rgb8:
            try self.init(width: image.width, height: image.height, channels: image.format.channels, pixels: rows, dpi: image.dpi)
        case .blackAndWhite:
            guard rows.count >= image.bytesPerRow * image.height else {
                throw DocumentImagingError(.invalidImage, "\(rows.count) bytes hold no \(image.width)x\(image.height) black-and-white page")
            }
            self = try Self.bilevel(rows[...], width: image.width, height: image.height)
            dpi = image.dpi
        default:
            throw DocumentImagingError(.invalidImage, "the document stages read 8-bit gray or colour pages, not \(image.format.rawValue)")
        }
    }

    /// Packed 1-bit rows (1 = black, each row whole bytes) as a bilevel gray image (0 and 255).
    private static func bilevel(_ packed: ArraySlice<UInt8>, width: Int, height: Int) throws(DocumentImagingError) -> DocumentImage {
        let rowBytes = (width + 7) / 8, start = packed.startIndex
        var pixels = [UInt8](repeating: 255, count: width * height)
        for y in 0..<height {
            for x in 0..<width where packed[start + y * rowBytes + x / 8] & (0x80 >> UInt8(x % 8)) != 0 { pixels[y * width + x] = 0 }
        }
        var image = try DocumentImage(width: width, height: height, channels: 1, pixels: pixels)
        image.isBilevel = true
        return image
    }

    /// Decodes a PNG file to 8-bit RGB (palette, gray, 16-bit and alpha are converted), with its pHYs density.
    public static func decodePNG(path: String) throws(DocumentImagingError) -> DocumentImage {
        guard let file = fopen(path, "rb") else { throw DocumentImagingError(.notFound, "cannot open \(path)") }
        defer { fclose(file) }
        return try decodePNG(file: file, name: path)
    }

    /// Decodes a PNG from an open stream; `name` names it in errors.
    private static func decodePNG(file: UnsafeMutablePointer<FILE>, name path: String) throws(DocumentImagingError) -> DocumentImage {
        var error = ck_png_error()
        guard let png = ck_png_create_read(&error), let info = png_create_info_struct(png) else {
            throw DocumentImagingError(.noMemory, "libpng could not start")
        }
        defer { ck_png_destroy_read(png, info) }
        var width: png_uint_32 = 0, height: png_uint_32 = 0, ppu: png_uint_32 = 0
        var depth: Int32 = 0, colorType: Int32 = 0, unit: Int32 = 0
        guard ck_png_read_header(png, info, file, &width, &height, &depth, &colorType, &ppu, &unit) == 0 else {
            throw DocumentImagingError(.invalidImage, "\(path) is not a readable PNG")
        }
        guard width > 0, height > 0, UInt64(width) * UInt64(height) <= 400_000_000 else {
            throw DocumentImagingError(.invalidImage, "\(path) is \(width)x\(height): too large to process")
        }
        let passes = ck_png_read_as_rgb8(png, info)
        guard passes > 0, ck_png_rowbytes(png, info) == Int(width) * 3 else {
            throw DocumentImagingError(.invalidImage, "\(path) cannot be read as RGB")
        }
        let rowBytes = Int(width) * 3
        var pixels = [UInt8](repeating: 0, count: rowBytes * Int(height))
        for _ in 0..<passes {
            for row in 0..<Int(height) {
                let status = pixels.withUnsafeMutableBufferPointer { ck_png_read_row(png, $0.baseAddress! + row * rowBytes) }
                guard status == 0 else { throw DocumentImagingError(.invalidImage, "\(path) is damaged at row \(row)") }
            }
        }
        let dpi = unit == PNG_RESOLUTION_METER ? (Double(ppu) * 0.0254).rounded() : 0
        return try DocumentImage(width: Int(width), height: Int(height), channels: 3, pixels: pixels, dpi: dpi)
    }

    /// The JFIF density in dots per inch, 0 when absent or not in inches or centimetres.
    static func jfifDensity(_ bytes: [UInt8]) -> Double {
        guard bytes.count > 18, bytes[2] == 0xFF, bytes[3] == 0xE0, Array(bytes[6..<11]) == Array("JFIF\0".utf8) else { return 0 }
        let x = Double(Int(bytes[14]) << 8 | Int(bytes[15]))
        switch bytes[13] {
        case 1: return x
        case 2: return (x * 2.54).rounded()
        default: return 0
        }
    }

    /// Calls `body` with the image as the C library reads it.
    func withC<T>(_ body: (ck_doc_image) throws(DocumentImagingError) -> T) throws(DocumentImagingError) -> T {
        let result: Result<T, DocumentImagingError> = pixels.withUnsafeBufferPointer { buffer in
            do throws(DocumentImagingError) {
                return .success(
                    try body(
                        ck_doc_image(
                            pixels: buffer.baseAddress, width: Int32(width), height: Int32(height),
                            channels: Int32(channels), stride: width * channels)))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Makes an image of `width`x`height` with this one's channels, filled by `body` through the C library.
    func making(width: Int, height: Int, _ body: (ck_doc_image, ck_doc_output) -> Int32) throws(DocumentImagingError) -> DocumentImage {
        var output = try DocumentImage(width: width, height: height, channels: channels, dpi: dpi)
        let status = try withC { (source: ck_doc_image) throws(DocumentImagingError) -> Int32 in
            output.pixels.withUnsafeMutableBufferPointer { buffer in
                body(
                    source,
                    ck_doc_output(
                        pixels: buffer.baseAddress, width: Int32(width), height: Int32(height),
                        channels: Int32(channels), stride: width * channels))
            }
        }
        try DocumentImagingError.check(status, "the image operation")
        return output
    }
}

extension DocumentImagingError {
    /// Turns a C status into an error (none for CK_DOC_OK and CK_DOC_NOT_FOUND, which callers handle).
    static func check(_ status: Int32, _ what: String) throws(DocumentImagingError) {
        switch status {
        case Int32(CK_DOC_BAD_INPUT): throw DocumentImagingError(.invalidImage, "\(what): the image or its parameters are not valid")
        case Int32(CK_DOC_FAILED): throw DocumentImagingError(.internal, "\(what) failed inside OpenCV")
        default: return
        }
    }
}
