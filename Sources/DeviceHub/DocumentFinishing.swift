import Attachments
import CounterKitCore
import DocumentImaging
import Foundation

/// The document stages for captures: a scan's or photo's pages, taken into memory, run through the `DocumentPipeline`
/// and written under the size limit straight into the store, once. Each attachment's settings record every stage.
struct DocumentFinishing: Sendable {
    var options: DocumentOptions
    var source: PageSource
    /// The file the caller asked for.
    var format: DocumentFileFormat
    var quality: Int

    /// Runs one captured page through the stages (find, flatten, clean, colour, blank check).
    func process(_ image: DocumentImage) throws(JobError) -> ProcessedPage {
        try DocumentPipeline(options: options).process(image, source: source)
    }

    /// Stores pages the stages made (blank ones dropped when asked), with `kind` and `settings`: one attachment a page,
    /// or one PDF of them all.
    func store(
        _ processed: [ProcessedPage], kind: AttachmentKind, settings: [String: String], capturedAt: Date, device: String?,
        in store: AttachmentStore
    ) throws(JobError) -> [AttachmentManifest] {
        guard !processed.isEmpty else { return [] }
        let pipeline = DocumentPipeline(options: options)
        let pages = processed.enumerated().map { (number: $0.offset + 1, page: $0.element) }
        let kept = pipeline.keptIndices(pages.map(\.page)).map { pages[$0] }
        let dropped = pages.map(\.number).filter { number in !kept.contains { $0.number == number } }
        var common = settings
        if !dropped.isEmpty { common["document.dropped"] = dropped.map(String.init).joined(separator: ",") }
        if let maxBytes = options.maxBytes { common["document.maxBytes"] = String(maxBytes) }
        let groups = format == .pdf ? [kept] : kept.map { [$0] }
        var stored: [AttachmentManifest] = []
        for group in groups {
            stored.append(try write(group, kind: kind, settings: common, capturedAt: capturedAt, device: device, store: store))
        }
        return stored
    }

    /// Writes one attachment (one image, or the PDF of every page) under the size limit and stores it.
    private func write(
        _ group: [(number: Int, page: ProcessedPage)], kind: AttachmentKind, settings: [String: String],
        capturedAt: Date, device: String?, store: AttachmentStore
    ) throws(DocumentImagingError) -> AttachmentManifest {
        // Candidates under the size limit are made in memory; only the one kept is written, through the store (so a
        // spool that keeps no plaintext gets it only in its envelope).
        let (bytes, outcome) = try SizeTarget.encode(
            group.map(\.page.image), format: format, quality: quality, maxBytes: options.maxBytes, title: kind == .scan ? "Scan" : "Photo")
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
            bytes, in: store,
            metadata: AttachmentMetadata(
                kind: kind, format: format.attachmentFormat, pixelWidth: width, pixelHeight: height, dpi: image.dpi > 0 ? image.dpi * outcome.scale : nil,
                pages: group.count, device: device, capturedAt: capturedAt, settings: all))
    }
}

extension DocumentFinishing {
    /// Stores a file made in memory, its failure as document imaging reports one.
    static func store(_ bytes: [UInt8], in store: AttachmentStore, metadata: AttachmentMetadata) throws(DocumentImagingError) -> AttachmentManifest {
        do throws(AttachmentError) { return try store.store(bytes, metadata: metadata) } catch {
            throw DocumentImagingError(error.code, error.message)
        }
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
