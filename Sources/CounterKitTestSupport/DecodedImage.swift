import Attachments
import CPNG
import CTurboJPEG
import Foundation

/// An image read back through the real decoders, for checking what the encoders wrote.
public struct DecodedImage: Sendable, Equatable {
    /// Pixels per row.
    public var width: Int
    /// Rows.
    public var height: Int
    /// Samples per pixel.
    public var channels: Int
    /// Bits per sample as stored (1, 8 or 16).
    public var bitDepth: Int
    /// Packed rows as stored in the file (16-bit big-endian; PNG 1-bit with 0 = black).
    public var pixels: [UInt8]
    /// Resolution the file declares, in dots per inch (0 when absent).
    public var dpi: Double

    /// An image from its parts.
    public init(width: Int, height: Int, channels: Int, bitDepth: Int, pixels: [UInt8], dpi: Double) {
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.pixels = pixels
        self.dpi = dpi
    }

    /// The pixels with the padding bits of 1-bit rows cleared: only image data, for comparing images
    /// whose writers left different bits after the last pixel of a row.
    public var imageBits: [UInt8] {
        guard bitDepth == 1, width % 8 != 0, height > 0 else { return pixels }
        let rowBytes = pixels.count / height
        let mask = UInt8(0xFF << (8 - width % 8) & 0xFF)
        var masked = pixels
        for row in 0..<height { masked[row * rowBytes + (width * channels + 7) / 8 - 1] &= mask }
        return masked
    }

    /// Decodes a PNG with libpng.
    public static func png(atPath path: String) throws -> DecodedImage {
        guard let file = fopen(path, "rb") else { throw DecodeError("cannot open \(path)") }
        defer { fclose(file) }
        var error = ck_png_error()
        guard let png = ck_png_create_read(&error), let info = png_create_info_struct(png) else {
            throw DecodeError("libpng allocation failed")
        }
        defer { ck_png_destroy_read(png, info) }
        var width: png_uint_32 = 0, height: png_uint_32 = 0, ppu: png_uint_32 = 0
        var depth: Int32 = 0, colorType: Int32 = 0, unit: Int32 = 0
        guard ck_png_read_header(png, info, file, &width, &height, &depth, &colorType, &ppu, &unit) == 0 else {
            throw DecodeError("libpng could not read the header of \(path)")
        }
        let rowBytes = ck_png_rowbytes(png, info)
        var pixels = [UInt8](repeating: 0, count: rowBytes * Int(height))
        for row in 0..<Int(height) {
            let status = pixels.withUnsafeMutableBufferPointer { ck_png_read_row(png, $0.baseAddress! + row * rowBytes) }
            guard status == 0 else { throw DecodeError("libpng failed at row \(row)") }
        }
        let channels = colorType == PNG_COLOR_TYPE_RGB ? 3 : colorType == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1
        let dpi = unit == PNG_RESOLUTION_METER ? Double(ppu) * 0.0254 : 0
        return DecodedImage(width: Int(width), height: Int(height), channels: channels, bitDepth: Int(depth), pixels: pixels, dpi: dpi)
    }

    /// Decodes a JPEG with TurboJPEG to 8-bit gray or RGB; `dpi` from the JFIF header.
    public static func jpeg(_ bytes: [UInt8]) throws -> DecodedImage {
        guard let handle = tjInitDecompress() else { throw DecodeError("tjInitDecompress failed") }
        defer { tjDestroy(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        var source = bytes
        guard tjDecompressHeader3(handle, &source, UInt(bytes.count), &width, &height, &subsampling, &colorspace) == 0 else {
            throw DecodeError("not a JPEG: \(String(cString: tjGetErrorStr2(handle)))")
        }
        let gray = colorspace == TJCS_GRAY.rawValue
        let channels = gray ? 1 : 3
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
        let format = gray ? TJPF_GRAY.rawValue : TJPF_RGB.rawValue
        guard tjDecompress2(handle, &source, UInt(bytes.count), &pixels, width, 0, height, format, 0) == 0 else {
            throw DecodeError("JPEG decode failed: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return DecodedImage(
            width: Int(width), height: Int(height), channels: channels, bitDepth: 8, pixels: pixels,
            dpi: jfifDensity(bytes))
    }

    /// Parses a binary PNM (P4, P5, P6) as scanimage and our writer produce it.
    /// With `stripPadding`, a payload longer than the header says is read as
    /// padded lines (scanimage writes `bytes_per_line` bytes a line as they came).
    public static func pnm(_ bytes: [UInt8], stripPadding: Bool = false, headerOnly: Bool = false) throws -> DecodedImage {
        var index = 0
        func token() throws -> String {
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "#") {
                    while index < bytes.count && bytes[index] != 10 { index += 1 }
                } else if [9, 10, 13, 32].contains(bytes[index]) {
                    index += 1
                } else {
                    break
                }
            }
            let start = index
            while index < bytes.count && ![9, 10, 13, 32].contains(bytes[index]) { index += 1 }
            guard index > start else { throw DecodeError("truncated PNM header") }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        let magic = try token()
        guard let width = Int(try token()), let height = Int(try token()) else { throw DecodeError("bad PNM size") }
        var maxval = 1
        if magic != "P4" { guard let value = Int(try token()) else { throw DecodeError("bad maxval") }; maxval = value }
        index += 1
        let channels = magic == "P6" ? 3 : 1
        if headerOnly {
            return DecodedImage(width: width, height: height, channels: channels, bitDepth: magic == "P4" ? 1 : (maxval > 255 ? 16 : 8), pixels: [], dpi: 0)
        }
        let depth = magic == "P4" ? 1 : (maxval > 255 ? 16 : 8)
        var pixels = Array(bytes[index...])
        let rowBytes = (width * channels * depth + 7) / 8
        let expected = height * rowBytes
        if stripPadding && pixels.count > expected && pixels.count % height == 0 {
            let stride = pixels.count / height
            pixels = (0..<height).flatMap { pixels[($0 * stride)..<($0 * stride + rowBytes)] }
        }
        guard pixels.count >= expected else { throw DecodeError("PNM has \(pixels.count) of \(expected) bytes") }
        return DecodedImage(
            width: width, height: height, channels: channels, bitDepth: depth,
            pixels: Array(pixels.prefix(expected)), dpi: 0)
    }

    /// The X density of a JFIF APP0 segment, in dots per inch (0 when absent).
    public static func jfifDensity(_ bytes: [UInt8]) -> Double {
        guard bytes.count > 20, bytes[2] == 0xFF, bytes[3] == 0xE0,
            Array(bytes[6..<11]) == Array("JFIF\0".utf8)
        else { return 0 }
        let unit = bytes[13]
        let density = Double(Int(bytes[14]) << 8 | Int(bytes[15]))
        switch unit {
        case 1: return density
        case 2: return density * 2.54
        default: return 0
        }
    }

    /// Peak signal-to-noise ratio against 8-bit reference samples, in dB.
    public func psnr(against reference: [UInt8]) -> Double {
        precondition(reference.count == pixels.count)
        var sum = 0.0
        for index in 0..<pixels.count {
            let difference = Double(pixels[index]) - Double(reference[index])
            sum += difference * difference
        }
        let mse = sum / Double(pixels.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }
}

/// A decode failure in a test helper.
public struct DecodeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
