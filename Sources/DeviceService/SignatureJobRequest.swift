import DeviceHub
import SignaturePads

/// The body of `POST /v1/signatures`.
struct SignatureJobRequest: StrictlyDecodable, Sendable {
    /// A pad id from `GET /v1/devices`; nil takes the first pad that opens.
    var device: String?
    /// Text for pads with a screen.
    var prompt: String?
    /// Seconds after which the session finishes by itself (default 120).
    var timeout: Double?
    /// The PNG's size, `WIDTHxHEIGHT` (default: the ink at `dpi`).
    var size: String?
    /// The PNG's resolution when no size is given (default 300).
    var dpi: Double?
    /// A stored PDF the citizen signs: the ink is placed on it and it is sealed when the session finishes.
    var document: DocumentField?

    static let fields: Set<String> = ["device", "prompt", "timeout", "size", "dpi", "document"]
    static let nestedFields: [String: Set<String>] = ["document": ["attachment", "page", "rect", "reason", "name", "color"]]

    /// `"document": {"attachment": ID, "page": N, "rect": [x, y, w, h], "reason": …, "name": …, "color": "#rrggbb"}`.
    struct DocumentField: Decodable, Sendable {
        var attachment: String
        var page: Int
        var rect: [Double]
        var reason: String?
        var name: String?
        var color: String?
    }

    /// The hub's request (checked by the hub before a pad is opened; 120 s when no timeout is given).
    func signatureRequest() throws(DeviceHubError) -> SignatureRequest {
        SignatureRequest(
            device: device, prompt: prompt, timeout: timeout ?? 120, style: try SignatureRequest.style(size: size, dpi: dpi),
            document: document.map {
                SignatureDocument(
                    attachment: $0.attachment, placement: SignaturePlacement(page: $0.page, rect: $0.rect, reason: $0.reason, name: $0.name, color: $0.color))
            })
    }
}
