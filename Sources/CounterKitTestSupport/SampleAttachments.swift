import Attachments
import Foundation
import SignaturePads

/// Stores one attachment of `format` with real content, made by the encoder that produces that format in
/// production (JPEG, PNG, PNM and PDF from pixel rows; SVG, ISO 19794-7 and JSON from a signature), and returns its
/// manifest with the exact bytes written. `seed` varies the image size and pixels, and the signature's samples.
public func storeSampleAttachment(_ format: AttachmentFormat, seed: UInt64, in store: AttachmentStore) throws -> (manifest: AttachmentManifest, bytes: [UInt8])
{
    var random = SeededRandom(seed: seed)
    let width = Int.random(in: 3...97, using: &random), height = Int.random(in: 2...41, using: &random)
    let rows = (0..<height).map { _ in (0..<width * 3).map { _ in UInt8.random(in: 0...255, using: &random) } }
    let image = ImageDescription(format: .rgb8, width: width, height: height, dpi: 150)
    let signature = seededSignature(seed: seed)
    let pending = try store.begin()
    do {
        func writeRows(_ encoder: RowEncoder) throws {
            for row in rows { try row.withUnsafeBytes { try encoder.write(row: $0) } }
            try encoder.finish()
        }
        switch format {
        case .jpeg: try writeRows(try ImageFileFormat.jpeg(JPEGOptions(quality: 80)).makeEncoder(image: image, output: pending.file))
        case .png: try writeRows(try ImageFileFormat.png(.default).makeEncoder(image: image, output: pending.file))
        case .pnm: try writeRows(try ImageFileFormat.pnm.makeEncoder(image: image, output: pending.file))
        case .pdf:
            let pdf = try PDFWriter(output: pending.file, title: "sample \(seed)")
            try writeRows(try pdf.beginPage(image: image, compression: .flate(level: 6)))
            try pdf.finish()
        case .svg: try pending.file.write(try SignatureRenderer(style: SignatureStyle()).svg(signature))
        case .iso19794: try pending.file.write(try ISO19794Signature.encode(signature))
        case .json: try pending.file.write(Array(try SignatureJSON.encode(signature)))
        }
        let isImage = [.jpeg, .png, .pnm, .pdf].contains(format)
        let manifest = try store.commit(
            pending,
            metadata: AttachmentMetadata(
                kind: isImage ? .scan : .signature, format: format, pixelWidth: isImage ? width : nil, pixelHeight: isImage ? height : nil,
                dpi: isImage ? 150 : nil, pages: format == .pdf ? 1 : nil, device: "test:0", settings: ["seed": String(seed)]))
        let bytes = [UInt8](try Data(contentsOf: store.fileURL(id: manifest.id)))
        return (manifest, bytes)
    } catch {
        store.discard(pending)
        throw error
    }
}

/// A short signature whose samples depend on `seed`: one stroke of 20 to 220 samples.
public func seededSignature(seed: UInt64) -> Signature {
    var random = SeededRandom(seed: seed ^ 0x5151)
    let count = Int.random(in: 20...220, using: &random)
    let samples = (0..<count).map { index in
        PenSample(
            time: Double(index) * 5, x: Double.random(in: 0...100, using: &random), y: Double.random(in: 0...60, using: &random),
            pressure: Double.random(in: 0.1...1, using: &random), inRange: true, touching: true)
    }
    return Signature(
        device: "usb:1-1:0", model: "STU-530", areaWidth: 108, areaHeight: 64.8,
        capturedAt: Date(timeIntervalSince1970: 1_790_000_000 + Double(seed)), samples: samples, lostReports: 0)
}

/// SplitMix64: a small deterministic generator, so a failing seed can be replayed.
public struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    /// A generator that always gives the same sequence for `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
