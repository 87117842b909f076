import Attachments
import Foundation

extension DocumentImage {
    /// Writes the image to `path` in `format`, whole or not at all: rows stream into the encoder under a temp name
    /// beside `path` (`.NAME.PID.part`), which is fsynced and renamed into place; on any failure it is removed.
    public func write(to path: String, format: ImageFileFormat) throws(DocumentImagingError) {
        let target = URL(fileURLWithPath: path)
        let temp = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(getpid()).part").path
        unlink(temp)
        do throws(AttachmentError) {
            let output = try OutputFile(creating: temp)
            let encoder = try format.makeEncoder(image: ImageDescription(format: pixelFormat, width: width, height: height, dpi: dpi),
                                                 output: output)
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
            try encoder.finish()
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
