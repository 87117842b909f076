import Attachments
import Foundation

/// Stores a signature as its four attachments: PNG (transparent ink), SVG, ISO/IEC 19794-7 and the
/// JSON stroke document, each with its manifest and SHA-256; all or none (a failure removes what was stored).
public struct SignatureOutputs: Sendable {
    /// Where the attachments go.
    public let store: AttachmentStore
    /// How the PNG and SVG are drawn.
    public let renderer: SignatureRenderer

    /// Outputs into `store`, drawn in `style`.
    public init(store: AttachmentStore, style: SignatureStyle = SignatureStyle()) {
        self.store = store
        self.renderer = SignatureRenderer(style: style)
    }

    /// The manifests in the order PNG, SVG, ISO 19794-7, JSON.
    public func save(_ signature: Signature) throws(SignaturePadError) -> [AttachmentManifest] {
        var saved: [AttachmentManifest] = []
        let settings = [
            "model": signature.model, "samples": String(signature.samples.count), "strokes": String(signature.strokes.count),
            "lostReports": String(signature.lostReports), "durationMilliseconds": String(Int(signature.duration)),
        ]
        func metadata(_ format: AttachmentFormat, width: Int? = nil, height: Int? = nil, dpi: Double? = nil) -> AttachmentMetadata {
            AttachmentMetadata(
                kind: .signature, format: format, pixelWidth: width, pixelHeight: height, dpi: dpi,
                device: signature.device, capturedAt: signature.capturedAt, settings: settings)
        }
        do {
            let pending = try store.begin()
            do {
                let size = try renderer.writePNG(signature, to: pending.file)
                saved.append(try store.commit(pending, metadata: metadata(.png, width: size.width, height: size.height)))
            } catch {
                store.discard(pending)
                throw error
            }
            saved.append(try write(Array(try renderer.svg(signature).utf8), metadata(.svg)))
            saved.append(try write(try ISO19794Signature.encode(signature), metadata(.iso19794)))
            saved.append(try write(Array(try SignatureJSON.encode(signature)), metadata(.json)))
            return saved
        } catch {
            for manifest in saved { try? store.delete(id: manifest.id) }
            if let error = error as? CounterKitError {
                throw error.family == .attachments ? SignaturePadError(error.whileStoring().code, "storing the signature: \(error)") : error
            }
            throw SignaturePadError(.attachmentFailed, "storing the signature: \(error)")
        }
    }

    private func write(_ bytes: [UInt8], _ metadata: AttachmentMetadata) throws -> AttachmentManifest {
        let pending = try store.begin()
        do {
            try pending.file.write(bytes)
            return try store.commit(pending, metadata: metadata)
        } catch {
            store.discard(pending)
            throw error
        }
    }
}
