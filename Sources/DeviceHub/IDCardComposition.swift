import Attachments
import CounterKitCore
import DocumentImaging
import Foundation

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
                let manifest: AttachmentManifest, path: String, sealedOnly: Bool
                do throws(AttachmentError) {
                    manifest = try store.manifest(id: id)
                    path = try store.fileURL(id: id).path
                    sealedOnly = try store.isSealedOnly(id: id)
                } catch {
                    throw DocumentImagingError(error.code, "the \(side): \(error.message)")
                }
                guard [.jpeg, .png, .pnm].contains(manifest.format) else {
                    throw DocumentImagingError(
                        .unsupportedFormat, "the \(side) (\(id)) is \(manifest.format.rawValue); an ID card side must be a JPEG, PNG or PNM image")
                }
                // A spool that writes no plaintext holds its newest images in memory a while; else the file is read.
                if let bytes = store.recentImage(id: id) { return try DocumentImage.decode(bytes, name: "the \(side) (\(id))") }
                if sealedOnly {
                    throw DocumentImagingError(
                        .sealedOnly,
                        "the \(side) (\(id)) is sealed for the back office and its plaintext is no longer kept "
                            + (store.writesPlaintext
                                ? "([seal] plaintext-retention); take the card again" : "(held in memory only ten minutes after capture); take the card again"))
                }
                return try DocumentImage.read(path: path)
            }
            let sheet = try IDCardSheet.compose(front: try image(front, "front"), back: try image(back, "back"), dpi: dpi)
            let (bytes, outcome) = try SizeTarget.encode([sheet], format: format, quality: quality, maxBytes: maxBytes, title: "ID card copy")
            var settings = [
                "document.idcard.front": front, "document.idcard.back": back, "document.scale": String(format: "%.3f", outcome.scale),
                "document.passes": String(outcome.passes),
            ]
            if let quality = outcome.quality { settings["quality"] = String(quality) }
            if let maxBytes { settings["document.maxBytes"] = String(maxBytes) }
            return try DocumentFinishing.store(
                bytes, in: store,
                metadata: AttachmentMetadata(
                    kind: .document, format: format.attachmentFormat, pixelWidth: Int((Double(sheet.width) * outcome.scale).rounded()),
                    pixelHeight: Int((Double(sheet.height) * outcome.scale).rounded()), dpi: dpi * outcome.scale, pages: 1,
                    settings: settings))
        }
        return try result.get()
    }
}
