import Attachments
import Foundation
import Testing

/// `RowDownscaler` against a plain box average computed here in doubles: every output pixel is the rounded mean of
/// the source pixels it covers, for RGB and gray, for 16-bit sources, for runs of source columns that differ in length
/// or not at all, and for views so narrow that an output row covers more source rows than 16-bit sums hold.
@Suite struct RowDownscalerTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var format: PixelFormat
        var sourceWidth: Int
        var sourceHeight: Int
        var width: Int
        var testDescription: String { "\(format) \(sourceWidth)x\(sourceHeight) to \(width)" }
    }

    static let cases = [
        Case(format: .rgb8, sourceWidth: 2480, sourceHeight: 90, width: 600),
        Case(format: .rgb8, sourceWidth: 2362, sourceHeight: 70, width: 600),
        Case(format: .rgb8, sourceWidth: 2400, sourceHeight: 40, width: 600),
        Case(format: .gray8, sourceWidth: 300, sourceHeight: 20, width: 300),
        Case(format: .gray8, sourceWidth: 3000, sourceHeight: 200, width: 200),
        Case(format: .gray8, sourceWidth: 1001, sourceHeight: 37, width: 333),
        Case(format: .rgb16, sourceWidth: 640, sourceHeight: 40, width: 100),
        Case(format: .rgb8, sourceWidth: 6000, sourceHeight: 800, width: 16),
        Case(format: .gray8, sourceWidth: 9000, sourceHeight: 600, width: 20),
    ]

    /// A sample of the test pattern: varied, not periodic with the box sizes.
    static func sample(_ x: Int, _ y: Int, _ channel: Int) -> Int { (x * 7 + y * 13 + channel * 101 + (x * y) % 89) % 256 }

    @Test(arguments: cases) func eachOutputPixelIsTheRoundedMeanOfItsSourcePixels(_ c: Case) throws {
        let channels = c.format.channels
        let downscaler = RowDownscaler(sourceFormat: c.format, sourceWidth: c.sourceWidth, width: c.width)
        #expect(downscaler.width == c.width)
        var output: [[UInt8]] = []
        var row = [UInt8](repeating: 0, count: c.format.bytesPerRow(width: c.sourceWidth))
        for y in 0..<c.sourceHeight {
            for x in 0..<c.sourceWidth {
                for channel in 0..<channels {
                    let value = Self.sample(x, y, channel)
                    if c.format == .rgb16 {
                        // 16-bit host order; the downscaler keeps the high byte.
                        let wide = UInt16(value) << 8 | UInt16(value)
                        withUnsafeBytes(of: wide) {
                            row[(x * channels + channel) * 2] = $0[0]; row[(x * channels + channel) * 2 + 1] = $0[1]
                        }
                    } else {
                        row[x * channels + channel] = UInt8(value)
                    }
                }
            }
            row.withUnsafeBytes { downscaler.add($0) { output.append(Array($0)) } }
        }
        downscaler.finish { output.append(Array($0)) }

        let expectedRows = (c.sourceHeight - 1) * c.width / c.sourceWidth + 1
        #expect(output.count == expectedRows)
        var worst = 0
        let columnGroups = Dictionary(grouping: 0..<c.sourceWidth) { $0 * c.width / c.sourceWidth }
        for (outY, line) in output.enumerated() {
            #expect(line.count == c.width * channels)
            let rows = (0..<c.sourceHeight).filter { $0 * c.width / c.sourceWidth == outY }
            for outX in 0..<c.width {
                let columns = columnGroups[outX] ?? []
                for channel in 0..<channels {
                    var total = 0
                    for y in rows { for x in columns { total += Self.sample(x, y, channel) } }
                    let mean = (Double(total) / Double(rows.count * columns.count)).rounded()
                    worst = max(worst, abs(Int(line[outX * channels + channel]) - Int(mean)))
                }
            }
        }
        #expect(worst <= 1, "largest difference from the exact mean: \(worst)")
    }
}
