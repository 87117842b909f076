import Attachments
import CounterKitCore
import DocumentImaging
import Foundation

/// The document stages for captures: a scan's or photo's pages, as captured, run through the `DocumentPipeline` and
/// written under the size limit; what comes out is stored as the job's attachments in place of what came in (the
/// captured files, which no client saw, are deleted either way). Each attachment's settings record every stage.
struct DocumentFinishing: Sendable {
    var options: DocumentOptions
    var source: PageSource
    /// The file the caller asked for.
    var format: DocumentFileFormat
    var quality: Int

    /// Finishes `captured` (images the store can read: PNM, JPEG or PNG), stored with `kind` and `settings`.
    func finish(
        _ captured: [AttachmentManifest], kind: AttachmentKind, settings: [String: String],
        store: AttachmentStore
    ) throws(JobError) -> [AttachmentManifest] {
        defer { for manifest in captured { try? store.delete(id: manifest.id) } }
        guard let first = captured.first else { return [] }
        let pipeline = DocumentPipeline(options: options)
        var pages: [(number: Int, page: ProcessedPage)] = []
        for (index, manifest) in captured.enumerated() {
            var image = try DocumentImage.read(path: try Self.path(of: manifest, in: store))
            if image.dpi <= 0, let dpi = manifest.dpi { image.dpi = dpi }
            pages.append((index + 1, try pipeline.process(image, source: source)))
        }
        let kept = pipeline.keptIndices(pages.map(\.page)).map { pages[$0] }
        let dropped = pages.map(\.number).filter { number in !kept.contains { $0.number == number } }
        var common = settings
        if !dropped.isEmpty { common["document.dropped"] = dropped.map(String.init).joined(separator: ",") }
        if let maxBytes = options.maxBytes { common["document.maxBytes"] = String(maxBytes) }
        let groups = format == .pdf ? [kept] : kept.map { [$0] }
        var stored: [AttachmentManifest] = []
        for group in groups {
            stored.append(try write(group, kind: kind, settings: common, capturedAt: first.capturedAt, device: first.device, store: store))
        }
        return stored
    }

    /// Writes one attachment (one image, or the PDF of every page) under the size limit and stores it.
    private func write(
        _ group: [(number: Int, page: ProcessedPage)], kind: AttachmentKind, settings: [String: String],
        capturedAt: Date, device: String?, store: AttachmentStore
    ) throws(DocumentImagingError) -> AttachmentManifest {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-document-\(UUID().uuidString).\(format.rawValue)").path
        defer { unlink(scratch) }
        let outcome = try SizeTarget.write(
            group.map(\.page.image), to: scratch, format: format, quality: quality,
            maxBytes: options.maxBytes, title: kind == .scan ? "Scan" : "Photo", mode: 0o600)
        var all = settings
        for (number, page) in group {
            for (key, value) in page.stages {
                all[group.count > 1 ? key.replacingOccurrences(of: "document.", with: "document.page\(number).") : key] = value
            }
        }
        if group.count == 1 { all["page"] = String(group[0].number) }
        if let quality = outcome.quality { all["quality"] = String(quality); all["document.quality"] = String(quality) }
        all["document.scale"] = String(format: "%.3f", outcome.scale)
        all["document.passes"] = String(outcome.passes)
        let image = group[0].page.image
        let width = Int((Double(image.width) * outcome.scale).rounded()), height = Int((Double(image.height) * outcome.scale).rounded())
        return try Self.store(
            scratch,
            metadata: AttachmentMetadata(
                kind: kind, format: format.attachmentFormat, pixelWidth: width, pixelHeight: height, dpi: image.dpi > 0 ? image.dpi * outcome.scale : nil,
                pages: group.count, device: device, capturedAt: capturedAt, settings: all), in: store)
    }

    /// Stores the file at `path` (written by the document stages) as a new attachment.
    static func store(
        _ path: String, metadata: AttachmentMetadata,
        in store: AttachmentStore
    ) throws(DocumentImagingError) -> AttachmentManifest {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw DocumentImagingError(.ioError, "cannot read back \(path)")
        }
        let pending = try store.begin()
        do throws(AttachmentError) {
            try pending.file.write([UInt8](bytes))
            return try store.commit(pending, metadata: metadata)
        } catch {
            store.discard(pending)
            throw error
        }
    }

    private static func path(of manifest: AttachmentManifest, in store: AttachmentStore) throws(DocumentImagingError) -> String {
        try store.fileURL(id: manifest.id).path
    }
}

extension LocalDeviceHub {
    /// The ID card copy from two stored attachments (photos or scans of the card's front and back, JPEG, PNG or PNM):
    /// both sides found, flattened and laid out at true size on one A4 page at `dpi`, stored as a new `document`
    /// attachment in `format`, under `maxBytes` when given.
    public func composeIDCard(
        front: String, back: String, format: DocumentFileFormat = .pdf, dpi: Double = 300,
        quality: Int = 90, maxBytes: Int? = nil
    ) async throws(DeviceHubError) -> AttachmentManifest {
        let store = self.store
        let result = await BlockingCalls.shared.run { () throws(DocumentImagingError) -> AttachmentManifest in
            func image(_ id: String, _ side: String) throws(DocumentImagingError) -> DocumentImage {
                let manifest: AttachmentManifest, path: String
                do throws(AttachmentError) {
                    manifest = try store.manifest(id: id)
                    path = try store.fileURL(id: id).path
                } catch {
                    throw DocumentImagingError(error.code, "the \(side): \(error.message)")
                }
                guard [.jpeg, .png, .pnm].contains(manifest.format) else {
                    throw DocumentImagingError(
                        .unsupportedFormat, "the \(side) (\(id)) is \(manifest.format.rawValue); an ID card side must be a JPEG, PNG or PNM image")
                }
                return try DocumentImage.read(path: path)
            }
            let sheet = try IDCardSheet.compose(front: try image(front, "front"), back: try image(back, "back"), dpi: dpi)
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-idcard-\(UUID().uuidString)").path
            defer { unlink(scratch) }
            let outcome = try SizeTarget.write([sheet], to: scratch, format: format, quality: quality, maxBytes: maxBytes, title: "ID card copy", mode: 0o600)
            var settings = [
                "document.idcard.front": front, "document.idcard.back": back, "document.scale": String(format: "%.3f", outcome.scale),
                "document.passes": String(outcome.passes),
            ]
            if let quality = outcome.quality { settings["quality"] = String(quality) }
            if let maxBytes { settings["document.maxBytes"] = String(maxBytes) }
            return try DocumentFinishing.store(
                scratch,
                metadata: AttachmentMetadata(
                    kind: .document, format: format.attachmentFormat, pixelWidth: Int((Double(sheet.width) * outcome.scale).rounded()),
                    pixelHeight: Int((Double(sheet.height) * outcome.scale).rounded()), dpi: dpi * outcome.scale, pages: 1,
                    settings: settings), in: store)
        }
        return try result.get()
    }
}

extension DocumentFileFormat {
    /// The attachment format a file of this kind is stored as.
    var attachmentFormat: AttachmentFormat {
        switch self {
        case .jpeg: .jpeg
        case .png: .png
        case .pdf: .pdf
        }
    }
}
