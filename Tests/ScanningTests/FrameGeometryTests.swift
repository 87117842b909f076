import Attachments
import Scanning
import Testing

/// A backend's frame parameters are checked before anything is sized from them, and the frames of one page must
/// fit together: each mistake is an `io_error`, never a trap or a read past a buffer (found by fuzzing).
@Suite struct FrameGeometryTests {
    final class DiscardingEncoder: RowEncoder {
        let image: ImageDescription
        private(set) var rowsWritten = 0
        init(image: ImageDescription) { self.image = image }
        func write(row: UnsafeRawBufferPointer) throws(AttachmentError) { rowsWritten += 1 }
        func finish() throws(AttachmentError) {}
    }

    final class DiscardingSink: PageSink {
        func beginPage(_ image: ImageDescription) throws(ScanError) -> RowEncoder { DiscardingEncoder(image: image) }
        func endPage(_ image: ImageDescription) throws(ScanError) {}
    }

    static func frame(_ format: FrameParameters.Format, width: Int, lines: Int = 2, depth: Int = 8, bytesPerLine: Int? = nil) -> FrameParameters {
        FrameParameters(
            format: format, lastFrame: format == .blue || format == .rgb || format == .gray,
            bytesPerLine: bytesPerLine ?? width * (format == .rgb ? 3 : 1) * depth / 8, pixelsPerLine: width, lines: lines, depth: depth)
    }

    @Test(arguments: [
        [frame(.red, width: 4), frame(.green, width: 8)],  // planes of different widths
        [frame(.red, width: 4), frame(.green, width: 4, depth: 16)],  // planes of different depths
        [frame(.red, width: 4), frame(.red, width: 4)],  // the same plane twice
        [frame(.red, width: 4), frame(.gray, width: 4)],  // a one-pass frame inside a three-pass page
        [frame(.gray, width: 4, lines: -1), frame(.rgb, width: 8)],  // a new page before the last one ended
        [frame(.gray, width: Int.max, bytesPerLine: 16)],  // sizes that would overflow
        [frame(.gray, width: 4, depth: Int.max, bytesPerLine: 16)],
        [frame(.gray, width: 4, lines: Int.max)],
    ])
    func framesThatDoNotFitAreRefused(_ frames: [FrameParameters]) throws {
        let assembler = FrameAssembler(sink: DiscardingSink(), dpi: 300)
        let error = #expect(throws: ScanError.self) {
            for frame in frames {
                try assembler.beginFrame(frame)
                let data = [UInt8](repeating: 0x80, count: frame.bytesPerLine)
                try data.withUnsafeBytes { try assembler.consume($0) }
                try assembler.endFrame()
            }
        }
        #expect(error?.code == .ioError)
    }
}
