import Attachments
import Foundation
import SignaturePads

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Reads back a signature's four outputs and says what is wrong with them, as a test would see it: the PNG decodes
/// at its size with transparent ink, the SVG is well-formed XML with paths, the ISO/IEC 19794-7 record holds every
/// sample, and the JSON parses as the stroke document with every touching sample. Empty when all is right.
public struct SignatureFilesCheck {
    /// Samples in the signature (the ISO record's points).
    public var samples: Int
    /// Samples with the pen down (the JSON document's stroke points).
    public var touchingSamples: Int
    /// The PNG's expected pixel size, when the test chose one.
    public var pngSize: (width: Int, height: Int)?

    /// Expectations for a signature of `samples` samples, `touchingSamples` of them with the pen down.
    public init(samples: Int, touchingSamples: Int, pngSize: (width: Int, height: Int)? = nil) {
        self.samples = samples
        self.touchingSamples = touchingSamples
        self.pngSize = pngSize
    }

    /// Problems with files named by format; each manifest, when given, must state the file's size and SHA-256.
    public func problems(_ files: [AttachmentFormat: [UInt8]], manifests: [AttachmentManifest] = []) -> [String] {
        var problems: [String] = []
        for format in [AttachmentFormat.png, .svg, .iso19794, .json] where files[format] == nil { problems.append("no \(format) output") }
        for manifest in manifests {
            guard let bytes = files[manifest.format] else { continue }
            if bytes.count != manifest.byteCount { problems.append("\(manifest.format): \(bytes.count) bytes, manifest says \(manifest.byteCount)") }
            if (try? withTemporaryFile(bytes) { try AttachmentStore.hashFile(atPath: $0).sha256 }) != manifest.sha256 {
                problems.append("\(manifest.format): SHA-256 differs from the manifest")
            }
        }
        if let png = files[.png] {
            do {
                let image = try withTemporaryFile(png) { try DecodedImage.png(atPath: $0) }
                if image.channels != 2 { problems.append("PNG has \(image.channels) channels, not gray + alpha") }
                if let pngSize, (image.width, image.height) != pngSize { problems.append("PNG is \(image.width)x\(image.height), not \(pngSize)") }
                if !stride(from: 1, to: image.pixels.count, by: 2).contains(where: { image.pixels[$0] > 0 }) { problems.append("PNG has no ink") }
            } catch { problems.append("PNG does not decode: \(error)") }
        }
        if let svg = files[.svg] {
            let parser = XMLParser(data: Data(svg))
            let text = String(decoding: svg, as: UTF8.self)
            if !parser.parse() { problems.append("SVG is not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")") }
            if !text.contains("<svg") || !text.contains("<path") { problems.append("SVG has no <svg> with <path>") }
        }
        if let iso = files[.iso19794] {
            do {
                let record = try ISO19794Signature.decode(iso)
                if record.points.count != samples { problems.append("ISO 19794-7 has \(record.points.count) points, not \(samples)") }
            } catch { problems.append("ISO 19794-7 does not decode: \(error)") }
        }
        if let json = files[.json] {
            do {
                let strokes = try SignatureJSON.decodeStrokes(Data(json))
                let count = strokes.reduce(0) { $0 + $1.count }
                if count != touchingSamples { problems.append("JSON stroke document has \(count) samples, not \(touchingSamples)") }
            } catch { problems.append("JSON is not the stroke document (\(json.count) bytes): \(error)") }
        }
        return problems
    }

    /// Problems with the attachments `manifests` as stored in `store`.
    public func problems(in store: AttachmentStore, _ manifests: [AttachmentManifest]) -> [String] {
        var files: [AttachmentFormat: [UInt8]] = [:]
        for manifest in manifests {
            files[manifest.format] = (try? store.fileURL(id: manifest.id)).flatMap { FileManager.default.contents(atPath: $0.path) }.map { [UInt8]($0) }
        }
        return problems(files, manifests: manifests)
    }

    private func withTemporaryFile<T>(_ bytes: [UInt8], _ body: (String) throws -> T) throws -> T {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ck-sigcheck-\(UUID().uuidString).png").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        return try body(path)
    }
}
