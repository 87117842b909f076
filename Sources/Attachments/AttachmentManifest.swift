import Foundation

/// What produced an attachment.
public enum AttachmentKind: String, Sendable, Codable, CaseIterable {
    /// A scanned page or document.
    case scan
    /// A camera photo.
    case photo
    /// A signature image, vector or biometric record.
    case signature
    /// A page composed from other attachments (the ID card copy).
    case document
    /// A document the counter software gave the service to be signed (`POST /v1/attachments`, a PDF).
    case upload
    /// A document with a citizen's handwritten signature placed on it and sealed (PAdES).
    case signedDocument = "signed-document"
}

/// The file formats CounterKit writes.
public enum AttachmentFormat: String, Sendable, Codable, CaseIterable {
    /// The file formats an attachment can have.
    case jpeg, png, pnm, pdf, svg, json
    /// ISO/IEC 19794-7 signature time series.
    case iso19794 = "iso19794-7"

    /// The media type served for this format.
    public var mediaType: String {
        switch self {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .pnm: "image/x-portable-anymap"
        case .pdf: "application/pdf"
        case .svg: "image/svg+xml"
        case .json: "application/json"
        case .iso19794: "application/octet-stream"
        }
    }

    /// The file-name extension.
    public var fileExtension: String {
        switch self {
        case .jpeg: "jpg"
        case .iso19794: "bin"
        default: rawValue
        }
    }
}

/// What the producer knows about an attachment before it is stored.
public struct AttachmentMetadata: Sendable, Equatable {
    /// What produced it.
    public var kind: AttachmentKind
    /// Its file format.
    public var format: AttachmentFormat
    /// Pixel width, for images.
    public var pixelWidth: Int?
    /// Pixel height, for images.
    public var pixelHeight: Int?
    /// Resolution in dots per inch, for images.
    public var dpi: Double?
    /// Pages, for documents.
    public var pages: Int?
    /// The source device's id.
    public var device: String?
    /// When it was captured.
    public var capturedAt: Date
    /// The settings actually used (after normalization), as strings.
    public var settings: [String: String]

    /// Creates metadata; capture time defaults to now.
    public init(
        kind: AttachmentKind, format: AttachmentFormat, pixelWidth: Int? = nil, pixelHeight: Int? = nil,
        dpi: Double? = nil, pages: Int? = nil, device: String? = nil, capturedAt: Date = Date(),
        settings: [String: String] = [:]
    ) {
        self.kind = kind
        self.format = format
        self.pixelWidth = pixelWidth
        self.pixelHeight = pixelHeight
        self.dpi = dpi
        self.pages = pages
        self.device = device
        self.capturedAt = capturedAt
        self.settings = settings
    }
}

/// The JSON record stored beside every attachment.
public struct AttachmentManifest: Sendable, Equatable, Codable {
    /// The attachment's id (a lowercase UUID).
    public var id: String
    /// What produced it.
    public var kind: AttachmentKind
    /// Its file format.
    public var format: AttachmentFormat
    /// Its media type, e.g. `image/jpeg`.
    public var mediaType: String
    /// The stored file's name in the spool.
    public var fileName: String
    /// Size of the file in bytes.
    public var byteCount: Int
    /// SHA-256 of the file, lowercase hex.
    public var sha256: String
    /// SM3 (GB/T 32905) of the file, lowercase hex: in a spool sealed with an SM2 key, beside ``sha256``.
    public var sm3: String? = nil
    /// Pixel width, for images.
    public var pixelWidth: Int?
    /// Pixel height, for images.
    public var pixelHeight: Int?
    /// Resolution in dots per inch, for images.
    public var dpi: Double?
    /// Pages, for documents.
    public var pages: Int?
    /// The source device's id.
    public var device: String?
    /// When it was captured.
    public var capturedAt: Date
    /// When the store committed it.
    public var storedAt: Date
    /// The settings actually used.
    public var settings: [String: String]
    /// The id of the counter key that signed this manifest (its signature is `<id>.signature.json`); nil when the
    /// spool was not sealed when it was committed.
    public var keyId: String? = nil
    /// The envelope made of the data for the back office, when the spool seals one-way (`[seal] recipient`).
    public var sealed: SealedCopy? = nil

    /// The JSON encoding used on disk and on the wire: sorted keys, ISO 8601
    /// dates with milliseconds.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(dateStyle))
        }
        return encoder
    }

    /// The matching decoder (also accepts dates without fractional seconds). A decoded date lands on its
    /// millisecond as `storedDate` does, so decoding and encoding again never moves it (parsing ".560" can give a
    /// double just below it, which formatting, truncating, used to print as ".559").
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            let parsed = try (try? dateStyle.parse(text)) ?? Date.ISO8601FormatStyle().parse(text)
            return date(milliseconds: Int64((parsed.timeIntervalSince1970 * 1000).rounded()))
        }
        return decoder
    }

    /// Dates as the manifest stores them: whole milliseconds.
    public static func storedDate(_ date: Date) -> Date {
        self.date(milliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// A date at a whole millisecond, nudged a fifth of a millisecond up so that
    /// formatting (which truncates) always prints that millisecond.
    static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: (Double(milliseconds) + 0.2) / 1000)
    }

    private static let dateStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}
