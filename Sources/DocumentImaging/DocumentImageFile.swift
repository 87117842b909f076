import Attachments
import Foundation

extension DocumentImage {
    /// Writes the image to `path` in `format`, whole or not at all (see `writeWhole`).
    public func write(to path: String, format: ImageFileFormat) throws(DocumentImagingError) {
        try writeWhole(to: path) { output throws(AttachmentError) in
            let encoder = try format.makeEncoder(image: ImageDescription(format: pixelFormat, width: width, height: height, dpi: dpi),
                                                 output: output)
            try streamRows(into: encoder)
            try encoder.finish()
        }
    }

    /// Writes the image as a one-page PDF (the page's size from the image's dpi, the image JPEG-compressed at
    /// `quality`), whole or not at all.
    public func writePDF(to path: String, quality: Int = 90, title: String? = nil) throws(DocumentImagingError) {
        guard dpi > 0 else { throw DocumentImagingError(.invalidValue, "a PDF page needs the image's dpi") }
        try writeWhole(to: path) { output throws(AttachmentError) in
            let pdf = try PDFWriter(output: output, title: title)
            let page = try pdf.beginPage(image: ImageDescription(format: pixelFormat, width: width, height: height, dpi: dpi),
                                         compression: .jpeg(JPEGOptions(quality: quality)))
            try streamRows(into: page)
            try page.finish()
            try pdf.finish()
        }
    }

    /// Hands every row to `encoder`, top to bottom.
    private func streamRows(into encoder: RowEncoder) throws(AttachmentError) {
        let rowBytes = width * channels
        for row in 0..<height {
            let failure = pixels.withUnsafeBytes { all -> AttachmentError? in
                do throws(AttachmentError) { try encoder.write(row: UnsafeRawBufferPointer(rebasing: all[row * rowBytes..<(row + 1) * rowBytes])) } catch {
                    return error
                }
                return nil
            }
            if let failure { throw failure }
        }
    }

    /// Runs `body` on a file created under a temp name beside `path` (`.NAME.PID.part`), then fsyncs it and renames it
    /// into place; on any failure the temp file is removed and `path` is left as it was.
    private func writeWhole(to path: String, _ body: (OutputFile) throws(AttachmentError) -> Void) throws(DocumentImagingError) {
        let target = URL(fileURLWithPath: path)
        let temp = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(getpid()).part").path
        unlink(temp)
        do throws(AttachmentError) {
            let output = try OutputFile(creating: temp)
            try body(output)
            try output.sync()
            try output.close()
        } catch {
            unlink(temp)
            throw DocumentImagingError(error.code, "cannot write \(path): \(error.message)")
        }
        guard rename(temp, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temp)
            throw DocumentImagingError(.ioError, "cannot write \(path): \(message)")
        }
    }
}
