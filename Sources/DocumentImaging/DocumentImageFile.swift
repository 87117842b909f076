import Attachments
import Foundation
import SystemPackage

extension DocumentImage {
    /// Writes the image to `path` in `format`, whole or not at all (see `writeWhole`). A bilevel image is written as
    /// 1-bit PNG or PBM; JPEG keeps it 8-bit gray. The file is created with `mode` less the umask (a user's file,
    /// 0666: 0644 with the usual umask; pass 0600 for a scratch file nobody else may read).
    public func write(to path: String, format: ImageFileFormat, mode: mode_t = 0o666) throws(DocumentImagingError) {
        let packed: Bool
        if case .jpeg = format { packed = false } else { packed = isBilevel }
        try writeWhole(to: path, mode: mode) { output throws(AttachmentError) in
            let encoder = try format.makeEncoder(image: description(packed: packed), output: output)
            try streamRows(into: encoder, packed: packed)
            try encoder.finish()
        }
    }

    /// The image encoded in memory as `format` (as ``write(to:format:mode:)`` writes it); nothing touches the disk.
    public func encoded(as format: ImageFileFormat) throws(DocumentImagingError) -> [UInt8] {
        let packed: Bool
        if case .jpeg = format { packed = false } else { packed = isBilevel }
        return try Self.inMemory { output throws(AttachmentError) in
            let encoder = try format.makeEncoder(image: description(packed: packed), output: output)
            try streamRows(into: encoder, packed: packed)
            try encoder.finish()
        }
    }

    /// `pages` encoded in memory as one PDF (as ``writePDF(_:to:quality:title:mode:)`` writes it).
    public static func encodedPDF(_ pages: [DocumentImage], quality: Int = 90, title: String? = nil) throws(DocumentImagingError) -> [UInt8] {
        guard !pages.isEmpty else { throw DocumentImagingError(.invalidValue, "a PDF needs at least one page") }
        return try inMemory { output throws(AttachmentError) in try writePDFPages(pages, into: output, quality: quality, title: title) }
    }

    /// What `body` writes into a file kept in memory.
    private static func inMemory(_ body: (OutputFile) throws(AttachmentError) -> Void) throws(DocumentImagingError) -> [UInt8] {
        do throws(AttachmentError) {
            let output = try OutputFile(inMemory: "the encoded image")
            try body(output)
            try output.close()
            guard let bytes = output.contents else { throw AttachmentError(.internal, "the encoded image was not kept") }
            return bytes
        } catch {
            throw DocumentImagingError(error.code, error.message)
        }
    }

    /// Writes the image as a one-page PDF (see `writePDF(_:to:quality:title:mode:)`).
    public func writePDF(to path: String, quality: Int = 90, title: String? = nil, mode: mode_t = 0o666) throws(DocumentImagingError) {
        try Self.writePDF([self], to: path, quality: quality, title: title, mode: mode)
    }

    /// Writes `pages` as one PDF, whole or not at all: each page's size from its dpi (a page without one is sized to
    /// A4's long side), JPEG-compressed at `quality`, or 1-bit and lossless when bilevel; created with `mode` less the umask.
    public static func writePDF(
        _ pages: [DocumentImage], to path: String, quality: Int = 90, title: String? = nil,
        mode: mode_t = 0o666
    ) throws(DocumentImagingError) {
        guard !pages.isEmpty else { throw DocumentImagingError(.invalidValue, "a PDF needs at least one page") }
        try pages[0].writeWhole(to: path, mode: mode) { output throws(AttachmentError) in
            try writePDFPages(pages, into: output, quality: quality, title: title)
        }
    }

    /// Writes `pages` as one PDF into `output`.
    private static func writePDFPages(_ pages: [DocumentImage], into output: OutputFile, quality: Int, title: String?) throws(AttachmentError) {
        let pdf = try PDFWriter(output: output, title: title)
        for var page in pages {
            if page.dpi <= 0 { page.dpi = Double(max(page.width, page.height)) / (297 / 25.4) }
            let encoder = try pdf.beginPage(
                image: page.description(packed: page.isBilevel),
                compression: page.isBilevel ? .flate(level: 6) : .jpeg(JPEGOptions(quality: quality)))
            try page.streamRows(into: encoder, packed: page.isBilevel)
            try encoder.finish()
        }
        try pdf.finish()
    }

    private func description(packed: Bool) -> ImageDescription {
        ImageDescription(format: packed ? .blackAndWhite : pixelFormat, width: width, height: height, dpi: dpi)
    }

    /// Hands every row to `encoder`, top to bottom; `packed`: as 1-bit rows (1 = black) of a bilevel image.
    private func streamRows(into encoder: RowEncoder, packed: Bool) throws(AttachmentError) {
        let rowBytes = width * channels
        var bits = [UInt8](repeating: 0, count: (width + 7) / 8)
        for row in 0..<height {
            let failure = pixels.withUnsafeBytes { all -> AttachmentError? in
                let samples = UnsafeRawBufferPointer(rebasing: all[row * rowBytes..<(row + 1) * rowBytes])
                do throws(AttachmentError) {
                    if packed {
                        for index in bits.indices { bits[index] = 0 }
                        for x in 0..<width where samples[x] < 128 { bits[x / 8] |= 0x80 >> UInt8(x % 8) }
                        let failed = bits.withUnsafeBytes { packedRow -> AttachmentError? in
                            do throws(AttachmentError) { try encoder.write(row: packedRow) } catch { return error }
                            return nil
                        }
                        if let failed { throw failed }
                    } else {
                        try encoder.write(row: samples)
                    }
                } catch {
                    return error
                }
                return nil
            }
            if let failure { throw failure }
        }
    }

    /// Runs `body` on a file created under a temp name beside `path` (`.NAME.PID.part`), then fsyncs it and renames it
    /// into place; on any failure the temp file is removed and `path` is left as it was. Errors name `path`, never the
    /// temp name.
    func writeWhole(to path: String, mode: mode_t, _ body: (OutputFile) throws(AttachmentError) -> Void) throws(DocumentImagingError) {
        let target = URL(fileURLWithPath: path)
        let temp = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(getpid()).part").path
        unlink(temp)
        let output: OutputFile
        do throws(AttachmentError) {
            output = try OutputFile(creating: temp, mode: mode)
        } catch {
            throw DocumentImagingError(.ioError, error.message.replacingOccurrences(of: "cannot create \(temp)", with: "cannot write \(path)"))
        }
        do throws(AttachmentError) {
            try body(output)
            try output.sync()
            try output.close()
        } catch {
            unlink(temp)
            throw DocumentImagingError(error.code, "cannot write \(path): \(error.message)")
        }
        do throws(Errno) { try renameFile(temp, to: path) } catch {
            unlink(temp)
            throw DocumentImagingError(.ioError, "cannot write \(path)", error)
        }
    }
}
