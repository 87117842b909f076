import Attachments

/// Targets for camera frames.
enum ImageFuzzing {
    /// Frames larger than this are checked and rewritten but not decoded (a camera's frames always match the
    /// size it negotiated, so a decoder is never asked for an image larger than the camera's).
    static let maxDecodedPixels = 1 << 20

    /// Walks a Motion-JPEG frame's markers, writes it as a file (with standard tables inserted when it has none),
    /// and decodes it when it is small enough.
    static func jpegFrame(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            guard let frame = try? JPEGFrame(raw) else { return false }
            let file = frame.fileBytes()
            precondition(file.count >= frame.length, "the file holds at least the frame")
            precondition(JPEGHeader(file) != nil, "the rewritten file still parses")
            let header = frame.header
            guard header.width > 0, header.height > 0, header.width * header.height <= maxDecodedPixels else { return true }
            let image = ImageDescription(format: header.components == 1 ? .gray8 : .rgb8, width: header.width, height: header.height)
            let sink = CheckingRowEncoder(image: image)
            guard (try? frame.decode(into: sink)) != nil else { return false }
            precondition(sink.rowsWritten == image.height, "a decoded frame delivers all its rows")
            return true
        }
    }
}

/// An encoder that stores nothing and checks that every row has the promised length and count.
final class CheckingRowEncoder: RowEncoder {
    let image: ImageDescription
    private(set) var rowsWritten = 0

    init(image: ImageDescription) { self.image = image }

    func write(row: UnsafeRawBufferPointer) throws(AttachmentError) {
        precondition(row.count == image.bytesPerRow, "a row of \(row.count) bytes where \(image.bytesPerRow) are due")
        precondition(rowsWritten < image.height, "a row beyond the image's height")
        rowsWritten += 1
    }

    func finish() throws(AttachmentError) {
        precondition(rowsWritten == image.height, "finished after \(rowsWritten) of \(image.height) rows")
    }
}
