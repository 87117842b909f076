import Attachments
import Foundation

/// Plans where scanned pages go in the store: one attachment per page for
/// image formats, or one PDF for all pages. Pages of image formats are
/// committed as they complete; the PDF only when the whole feed is done.
final class ScanOutput: PageSink {
    private let request: ScanRequest
    private let store: AttachmentStore
    private let device: String
    private let settings: [String: String]
    private let capturedAt = Date()
    private var pending: PendingAttachment?
    private var pdf: PDFWriter?
    private var pageImages: [ImageDescription] = []
    /// Attachments committed so far.
    private(set) var committed: [AttachmentManifest] = []

    init(request: ScanRequest, store: AttachmentStore, device: String, settings: [String: String]) {
        self.request = request
        self.store = store
        self.device = device
        self.settings = settings
    }

    private var jpegOptions: JPEGOptions { JPEGOptions(quality: request.quality ?? 85) }

    func beginPage(_ image: ImageDescription) throws(ScanError) -> RowEncoder {
        do {
            if request.format == .pdf {
                if pdf == nil {
                    let file = try store.begin()
                    pending = file
                    pdf = try PDFWriter(output: file.file, title: "Scan from \(device)")
                }
                // Lineart stays lossless in a PDF; everything else is JPEG unless asked otherwise.
                let lossless = image.format == .blackAndWhite || request.quality == 100
                return try pdf!.beginPage(image: image, compression: lossless ? .flate(level: 6) : .jpeg(jpegOptions))
            }
            let file = try store.begin()
            pending = file
            let format: ImageFileFormat =
                switch request.format {
                case .png: .png(.default)
                case .pnm: .pnm
                default: .jpeg(jpegOptions)
                }
            if request.format == .png, request.grayAsRGB == true, image.format == .gray8 {
                var rgb = image
                rgb.format = .rgb8
                return GrayAsRGBEncoder(gray: image, into: try format.makeEncoder(image: rgb, output: file.file))
            }
            return try format.makeEncoder(image: image, output: file.file)
        } catch {
            throw error.whileStoring()
        }
    }

    func endPage(_ image: ImageDescription) throws(ScanError) {
        pageImages.append(image)
        guard request.format != .pdf, let file = pending else { return }
        pending = nil
        let format: AttachmentFormat =
            switch request.format {
            case .png: .png
            case .pnm: .pnm
            default: .jpeg
            }
        var pageSettings = settings
        pageSettings["page"] = String(pageImages.count)
        if request.format == .jpeg { pageSettings["quality"] = String(jpegOptions.quality) }
        if request.format == .png, request.grayAsRGB == true, image.format == .gray8 { pageSettings["grayAsRGB"] = "true" }
        do {
            committed.append(
                try store.commit(
                    file,
                    metadata: AttachmentMetadata(
                        kind: .scan, format: format, pixelWidth: image.width, pixelHeight: image.height, dpi: image.dpi,
                        pages: 1, device: device, capturedAt: capturedAt, settings: pageSettings)))
        } catch {
            throw error.whileStoring()
        }
    }

    /// Completes the output after the last page.
    func finish() throws(ScanError) -> [AttachmentManifest] {
        guard request.format == .pdf else { return committed }
        guard let pdf, let file = pending, let first = pageImages.first else {
            throw ScanError(.ioError, "the scan produced no pages")
        }
        do {
            try pdf.finish()
            pending = nil
            var pdfSettings = settings
            pdfSettings["quality"] = String(jpegOptions.quality)
            committed.append(
                try store.commit(
                    file,
                    metadata: AttachmentMetadata(
                        kind: .scan, format: .pdf, pixelWidth: first.width, pixelHeight: first.height, dpi: first.dpi,
                        pages: pageImages.count, device: device, capturedAt: capturedAt, settings: pdfSettings)))
            return committed
        } catch {
            throw error.whileStoring()
        }
    }

    /// Drops whatever is unfinished (a page in progress, an unfinished PDF).
    func abandon() {
        if let pending { store.discard(pending) }
        pending = nil
    }

    /// Deletes the pages already committed (a cancelled scan stores nothing).
    func discardCommitted() {
        for manifest in committed { try? store.delete(id: manifest.id) }
        committed = []
    }
}

/// Gray rows written into an RGB encoder, each sample three times: a gray page for readers that take no gray PNG.
final class GrayAsRGBEncoder: RowEncoder {
    let image: ImageDescription
    private let rgb: RowEncoder
    private let wide: UnsafeMutableBufferPointer<UInt8>

    init(gray: ImageDescription, into rgb: RowEncoder) {
        image = gray
        self.rgb = rgb
        wide = .allocate(capacity: gray.width * 3)
    }

    deinit { wide.deallocate() }

    var rowsWritten: Int { rgb.rowsWritten }

    func write(row: UnsafeRawBufferPointer) throws(AttachmentError) {
        guard row.count == image.bytesPerRow else {
            throw AttachmentError(.invalidImage, "a gray row of \(row.count) bytes where \(image.bytesPerRow) were expected")
        }
        for index in 0..<image.width {
            let sample = row[index]
            wide[3 * index] = sample
            wide[3 * index + 1] = sample
            wide[3 * index + 2] = sample
        }
        try rgb.write(row: UnsafeRawBufferPointer(wide))
    }

    func finish() throws(AttachmentError) { try rgb.finish() }
}
