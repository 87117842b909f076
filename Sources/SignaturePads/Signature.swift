import Foundation

/// A captured signature: every pen sample in order (hovering ones too), on a digitizer area of
/// known size, with what was lost on the way.
public struct Signature: Sendable, Equatable, Codable {
    /// The pad's id and model.
    public var device: String
    /// The pad's model name.
    public var model: String
    /// The digitizer's active area in millimetres.
    public var areaWidth: Double
    /// Height of the sensing area in millimetres.
    public var areaHeight: Double
    /// When the capture started.
    public var capturedAt: Date
    /// Samples in arrival order; `time` is milliseconds from the first.
    public var samples: [PenSample]
    /// Reports the pad numbered but never delivered (pads with sequence numbers), or 0.
    public var lostReports: Int

    /// Creates a signature.
    public init(
        device: String, model: String, areaWidth: Double, areaHeight: Double, capturedAt: Date,
        samples: [PenSample], lostReports: Int = 0
    ) {
        self.device = device
        self.model = model
        self.areaWidth = areaWidth
        self.areaHeight = areaHeight
        self.capturedAt = capturedAt
        self.samples = samples
        self.lostReports = lostReports
    }

    /// Runs of touching samples: the ink.
    public var strokes: [[PenSample]] {
        var strokes: [[PenSample]] = []
        var current: [PenSample] = []
        for sample in samples {
            if sample.touching {
                current.append(sample)
            } else if !current.isEmpty {
                strokes.append(current)
                current = []
            }
        }
        if !current.isEmpty { strokes.append(current) }
        return strokes
    }

    /// The rectangle the ink covers in millimetres, nil without ink.
    public var inkBounds: (minX: Double, minY: Double, maxX: Double, maxY: Double)? {
        let ink = samples.filter(\.touching)
        guard let first = ink.first else { return nil }
        return ink.reduce((first.x, first.y, first.x, first.y)) { box, sample in
            (min(box.0, sample.x), min(box.1, sample.y), max(box.2, sample.x), max(box.3, sample.y))
        }
    }

    /// Duration from the first to the last sample in milliseconds.
    public var duration: Double { (samples.last?.time ?? 0) - (samples.first?.time ?? 0) }
}

/// The JSON stroke document: the signature's facts and its strokes as arrays of samples whose columns it names
/// (`"columns": ["t_ms", "x_mm", "y_mm", "pressure"]`: milliseconds from the first sample, millimetres from the pad's
/// top-left, pressure 0…1), so that any reader can use it; compact enough to keep beside the images. Version 2 added
/// `columns`; version 1 documents had the same order without saying so.
public enum SignatureJSON: Sendable {
    /// The samples' columns, in order.
    public static let columns = ["t_ms", "x_mm", "y_mm", "pressure"]

    struct Document: Codable {
        var format = "counterkit-signature"
        var version = 2
        var columns: [String]? = SignatureJSON.columns
        var device: String
        var model: String
        var capturedAt: Date
        var areaMillimetres: [Double]
        var durationMilliseconds: Double
        var lostReports: Int
        var strokes: [[[Double]]]
    }

    /// The document's bytes (UTF-8 JSON, keys sorted).
    public static func encode(_ signature: Signature) throws -> Data {
        let document = Document(
            device: signature.device, model: signature.model, capturedAt: signature.capturedAt,
            areaMillimetres: [signature.areaWidth, signature.areaHeight], durationMilliseconds: signature.duration,
            lostReports: signature.lostReports,
            strokes: signature.strokes.map { $0.map { [$0.time, rounded($0.x), rounded($0.y), rounded($0.pressure)] } })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(document)
    }

    /// Reads a document back into the strokes' samples (all touching).
    public static func decodeStrokes(_ data: Data) throws -> [[PenSample]] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let document = try decoder.decode(Document.self, from: data)
        if let columns = document.columns, columns != Self.columns {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unknown sample columns \(columns)"))
        }
        return document.strokes.map { stroke in
            stroke.map { PenSample(time: $0[0], x: $0[1], y: $0[2], pressure: $0[3], inRange: true, touching: true) }
        }
    }

    /// Micrometre precision is ample for ink and keeps the document small.
    private static func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}
