import DocumentImaging

/// The `"document"` object of `POST /v1/scans` and `POST /v1/photos`: the document stages for the capture.
struct DocumentJSON: Codable, Sendable {
    var crop: String?
    var clean: Bool?
    var color: String?
    var blank: String?
    var maxBytes: Double?

    static let fields: Set<String> = ["crop", "clean", "color", "blank", "maxBytes"]

    /// The JSON for library options (what `ServiceClient` sends).
    init(_ options: DocumentOptions) {
        crop = options.crop.rawValue
        clean = options.clean
        color = options.color?.rawValue
        blank = options.blank?.rawValue
        maxBytes = options.maxBytes.map(Double.init)
    }

    /// The options, every value checked.
    func options() throws(APIError) -> DocumentOptions {
        let options = DocumentOptions(
            crop: try StrictJSON.choice(crop, "document.crop", DocumentOptions.Crop.self) ?? .auto,
            clean: clean ?? false,
            color: try StrictJSON.choice(color, "document.color", DocumentOptions.Color.self),
            blank: try StrictJSON.choice(blank, "document.blank", DocumentOptions.Blank.self),
            maxBytes: try StrictJSON.integer(maxBytes, "document.maxBytes"))
        try options.validate()
        return options
    }
}

/// The body of `POST /v1/documents/idcard`: two stored attachments (the card's front and back, photos or scans) to lay
/// out on one A4 page.
struct IDCardJobRequest: StrictlyDecodable, Sendable {
    var front: String
    var back: String
    var format: String?
    var dpi: Double?
    var quality: Double?
    var maxBytes: Double?

    static let fields: Set<String> = ["front", "back", "format", "dpi", "quality", "maxBytes"]
}
