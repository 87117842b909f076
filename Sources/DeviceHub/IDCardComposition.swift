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
            let file = store.temporaryPath(extension: format.rawValue)
            defer { unlink(file) }
            let outcome = try SizeTarget.write([sheet], to: file, format: format, quality: quality, maxBytes: maxBytes, title: "ID card copy", mode: 0o640)
            var settings = [
                "document.idcard.front": front, "document.idcard.back": back, "document.scale": String(format: "%.3f", outcome.scale),
                "document.passes": String(outcome.passes),
            ]
            if let quality = outcome.quality { settings["quality"] = String(quality) }
            if let maxBytes { settings["document.maxBytes"] = String(maxBytes) }
            return try store.adopt(
                file,
                metadata: AttachmentMetadata(
                    kind: .document, format: format.attachmentFormat, pixelWidth: Int((Double(sheet.width) * outcome.scale).rounded()),
                    pixelHeight: Int((Double(sheet.height) * outcome.scale).rounded()), dpi: dpi * outcome.scale, pages: 1,
                    settings: settings))
        }
        return try result.get()
    }
}
