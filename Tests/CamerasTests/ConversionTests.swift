import Attachments
import CounterKitTestSupport
import Testing

@testable import Cameras

/// Converts a frame given as bytes and returns its rows.
func convert(
    _ code: String, width: Int, height: Int, bytesPerLine: Int, _ frame: [UInt8],
    matrix: YCbCrMatrix = .bt601Limited
) -> [[UInt8]] {
    let converter = FrameConverter(
        layout: PixelLayout.of(FourCC(code)!)!, width: width, height: height,
        bytesPerLine: bytesPerLine, matrix: matrix)
    #expect(frame.count >= converter.frameSize)
    let row = RowBuffer(count: converter.image.bytesPerRow)
    return frame.withUnsafeBytes { bytes in
        (0..<height).map { y in
            converter.convertRow(y, of: bytes, into: row.bytes)
            return Array(row.bytes)
        }
    }
}

@Suite struct ConversionTests {
    /// ITU-R BT.601 Y'CbCr of the 75% colour bars (8-bit, limited range), as published for test signals.
    let barsYCbCr: [(Int, Int, Int)] = [
        (180, 128, 128), (162, 44, 142), (131, 156, 44), (112, 72, 58), (84, 184, 198), (65, 100, 212), (35, 212, 114), (16, 128, 128),
    ]

    @Test func yuyvGivesTheColourBars() {
        // One 2-pixel group per bar: Y0 U Y1 V.
        let frame = barsYCbCr.flatMap { [UInt8($0.0), UInt8($0.1), UInt8($0.0), UInt8($0.2)] }
        let row = convert("YUYV", width: 16, height: 1, bytesPerLine: 32, frame)[0]
        for (bar, expected) in colourBars75.enumerated() {
            for x in [bar * 2, bar * 2 + 1] {
                #expect(close(row[x * 3..<x * 3 + 3], expected, tolerance: 2), "bar \(bar) pixel \(x): \(Array(row[x * 3..<x * 3 + 3]))")
            }
        }
    }

    /// The preview's fast path: Y'CbCr straight into libjpeg (range-scaled, no RGB round trip) decodes to the colours
    /// the RGB path gives, for packed (YUYV), planar (YU12) and semi-planar (NV12) frames.
    @Test(arguments: ["YUYV", "YU12", "NV12"])
    func yCbCrIntoTheJPEGEncoderGivesTheColourBars(_ code: String) throws {
        let width = 128, height = 16
        // Eight bars of 16 pixels, in the format's layout.
        func sample(_ x: Int) -> (Int, Int, Int) { barsYCbCr[x / 16] }
        var frame: [UInt8]
        switch code {
        case "YUYV":
            frame = (0..<height).flatMap { _ in
                stride(from: 0, to: width, by: 2).flatMap { x in
                    [UInt8(sample(x).0), UInt8(sample(x).1), UInt8(sample(x).0), UInt8(sample(x).2)]
                }
            }
        case "YU12":
            let luma = (0..<height).flatMap { _ in (0..<width).map { UInt8(sample($0).0) } }
            let u = (0..<height / 2).flatMap { _ in stride(from: 0, to: width, by: 2).map { UInt8(sample($0).1) } }
            let v = (0..<height / 2).flatMap { _ in stride(from: 0, to: width, by: 2).map { UInt8(sample($0).2) } }
            frame = luma + u + v
        default:
            let luma = (0..<height).flatMap { _ in (0..<width).map { UInt8(sample($0).0) } }
            let pairs = (0..<height / 2).flatMap { _ in stride(from: 0, to: width, by: 2).flatMap { [UInt8(sample($0).1), UInt8(sample($0).2)] } }
            frame = luma + pairs
        }
        let converter = FrameConverter(
            layout: PixelLayout.of(FourCC(code)!)!, width: width, height: height,
            bytesPerLine: code == "YUYV" ? width * 2 : width)
        #expect(converter.convertsToYCbCr)
        let tables = converter.ycbcrTables
        var picture = [UInt8](repeating: 0, count: width * height * 3)
        frame.withUnsafeBytes { bytes in
            picture.withUnsafeMutableBytes { out in
                for y in 0..<height {
                    converter.convertRowToYCbCr(y, of: bytes, into: UnsafeMutableRawBufferPointer(rebasing: out[(y * width * 3)...]), tables: tables)
                }
            }
        }
        let jpeg = try picture.withUnsafeBytes { try JPEGMemoryEncoder(quality: 95).encode($0, format: .rgb8, width: width, height: height, ycbcr: true) }
        let decoded = try DecodedImage.jpeg(Array(jpeg))
        for (bar, expected) in colourBars75.enumerated() {
            let offset = ((height / 2) * width + bar * 16 + 8) * 3
            #expect(close(decoded.pixels[offset..<offset + 3], expected, tolerance: 6), "\(code) bar \(bar): \(Array(decoded.pixels[offset..<offset + 3]))")
        }
        // A Rec. 709 frame is not passed as it is (JPEG's Y'CbCr is BT.601): it takes the RGB path.
        #expect(
            !FrameConverter(
                layout: PixelLayout.of(FourCC(code)!)!, width: width, height: height, bytesPerLine: width,
                matrix: .bt709Limited
            ).convertsToYCbCr)
    }

    @Test func uyvyAndYvyuReadTheirOwnByteOrder() {
        let (y, u, v) = barsYCbCr[5]  // red
        let uyvy = convert("UYVY", width: 2, height: 1, bytesPerLine: 4, [UInt8(u), UInt8(y), UInt8(v), UInt8(y)])[0]
        let yvyu = convert("YVYU", width: 2, height: 1, bytesPerLine: 4, [UInt8(y), UInt8(v), UInt8(y), UInt8(u)])[0]
        #expect(close(uyvy[0..<3], colourBars75[5], tolerance: 2))
        #expect(close(yvyu[3..<6], colourBars75[5], tolerance: 2))
    }

    @Test func nv12SharesChromaOverTwoByTwoBlocks() {
        // 4x2 pixels: left block yellow, right block blue; Y plane then interleaved U,V at half resolution.
        let (yellow, blue) = (barsYCbCr[1], barsYCbCr[6])
        let luma: [UInt8] = [yellow.0, yellow.0, blue.0, blue.0, yellow.0, yellow.0, blue.0, blue.0].map(UInt8.init)
        let chroma: [UInt8] = [UInt8(yellow.1), UInt8(yellow.2), UInt8(blue.1), UInt8(blue.2)]
        let rows = convert("NV12", width: 4, height: 2, bytesPerLine: 4, luma + chroma)
        for row in rows {
            #expect(close(row[0..<3], colourBars75[1], tolerance: 2) && close(row[3..<6], colourBars75[1], tolerance: 2))
            #expect(close(row[6..<9], colourBars75[6], tolerance: 2) && close(row[9..<12], colourBars75[6], tolerance: 2))
        }
        // NV21 swaps the chroma pair.
        let swapped = convert("NV21", width: 4, height: 2, bytesPerLine: 4, luma + [chroma[1], chroma[0], chroma[3], chroma[2]])
        #expect(swapped == rows)
    }

    @Test func fullRangeAndRec709Matrices() {
        #expect(YCbCrMatrix.bt601Full.rgb(y: 255, u: 128, v: 128) == (255, 255, 255))
        #expect(YCbCrMatrix.bt601Limited.rgb(y: 235, u: 128, v: 128) == (255, 255, 255))
        #expect(YCbCrMatrix.bt601Limited.rgb(y: 16, u: 128, v: 128) == (0, 0, 0))
        // BT.709 limited red: Y'=63, Cb=102, Cr=240.
        let red = YCbCrMatrix.bt709Limited.rgb(y: 63, u: 102, v: 240)
        #expect(red.0 >= 253 && red.1 <= 2 && red.2 <= 2)
        #expect(YCbCrMatrix.forFormat(encoding: 2, quantization: 1) == .bt709Full)
        #expect(YCbCrMatrix.forFormat(encoding: 0, quantization: 0) == .bt601Limited)
    }

    @Test func packedRGBFormats() {
        // RGB565 little-endian red, BGR24, and a 32-bit BGRA pixel.
        #expect(convert("RGBP", width: 1, height: 1, bytesPerLine: 2, [0x00, 0xF8])[0] == [255, 0, 0])
        #expect(convert("RGBR", width: 1, height: 1, bytesPerLine: 2, [0x07, 0xE0])[0] == [0, 255, 0])
        #expect(convert("BGR3", width: 1, height: 1, bytesPerLine: 3, [1, 2, 3])[0] == [3, 2, 1])
        #expect(convert("AR24", width: 1, height: 1, bytesPerLine: 4, [10, 20, 30, 255])[0] == [30, 20, 10])
        #expect(convert("RGB1", width: 1, height: 1, bytesPerLine: 1, [0b111_000_11])[0] == [255, 0, 255])
        #expect(convert("XR12", width: 1, height: 1, bytesPerLine: 2, [0x0F, 0x0F])[0] == [255, 0, 255])
    }

    @Test func grayAndSixteenBitGray() {
        #expect(convert("GREY", width: 3, height: 1, bytesPerLine: 4, [0, 128, 255, 9])[0] == [0, 128, 255])
        #expect(convert("Y10", width: 1, height: 1, bytesPerLine: 2, [0xFF, 0x03])[0] == [255])
        #expect(convert("Y16-BE", width: 1, height: 1, bytesPerLine: 2, [0x80, 0x00])[0] == [128])
    }

    @Test func bayerCellsGiveTheirColour() {
        // RGGB 2x2 cell of a saturated yellow: R=200, G=200, B=0.
        let rows = convert("RGGB", width: 2, height: 2, bytesPerLine: 2, [200, 200, 200, 0])
        #expect(rows == [[200, 200, 0, 200, 200, 0], [200, 200, 0, 200, 200, 0]])
    }

    @Test func hsvToRGB() {
        #expect(FrameConverter.hsvToRGB(hue: 0, saturation: 255, value: 255, hueRange: 180) == (255, 0, 0))
        let green = FrameConverter.hsvToRGB(hue: 60, saturation: 255, value: 200, hueRange: 180)
        #expect(green.0 <= 2 && green.1 == 200 && green.2 <= 2)
        #expect(FrameConverter.hsvToRGB(hue: 10, saturation: 0, value: 77, hueRange: 256) == (77, 77, 77))
    }

    @Test func paddedRowsAndPlaneSizes() {
        let layout = PixelLayout.of(FourCC("YU12")!)!
        #expect(layout.frameSize(width: 4, height: 2, bytesPerLine: 4) == 8 + 2 + 2)
        #expect(PixelLayout.of(FourCC("YUYV")!)!.frameSize(width: 4, height: 2, bytesPerLine: 16) == 16 + 8)
        #expect(PixelLayout.of(FourCC("MJPG")!) == nil)
    }

    @Test func everyVividRawFormatHasALayout() {
        let vivid = """
            YUYV UYVY YVYU VYUY 422P YU12 YV12 NV12 NV21 NV16 NV61 NV24 NV42 YUVO YUVP Y444 YUV4 AYUV XYUV VUYA VUYX YUVA YUVX
            GREY Y10 Y12 Y16 Y16-BE RGB1 RGBP RGBR R444 XR12 AR12 RX12 RA12 XB12 AB12 BX12 GA12 RGBO XR15 AR15 RX15 RA15 XB15
            AB15 BX15 BA15 RGBQ XR15-BE AR15-BE RGB3 BGR3 BGRH RGB4 BGR4 BX24 XR24 BA24 AR24 XB24 RX24 AB24 RA24 BA81 GBRG GRBG
            RGGB BG10 GB10 BA10 RG10 BG12 GB12 BA12 RG12 BYR2 GB16 GR16 RG16 HSV3 HSV4
            """.split(whereSeparator: \.isWhitespace)
        #expect(vivid.count == 83)
        for name in vivid { #expect(PixelLayout.of(FourCC(String(name))!) != nil, "\(name)") }
    }

    @Test func fourCCNames() {
        #expect(FourCC("YUYV")!.rawValue == 0x5659_5559)
        #expect(FourCC("Y16-BE")!.name == "Y16-BE")
        #expect(FourCC("Y16-BE")!.rawValue == FourCC("Y16")!.rawValue | 1 << 31)
        #expect(FourCC("TOOLONG") == nil)
    }
}

@Test func hsvColourBarsAtHalfDegreeHue() {
    // vivid's 75% bars in HSV3 with hue 0-179: yellow 30, cyan 90 (read with v4l2-ctl in the test VM).
    #expect(convert("HSV3", width: 2, height: 1, bytesPerLine: 6, [30, 255, 191, 90, 255, 191])[0] == [191, 191, 0, 0, 191, 191])
}
