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

    static let fields: Set<String> = ["device", "prompt", "timeout", "size", "dpi"]

    /// The request with its values checked.
    func validated() throws(APIError) -> SignatureJobRequest {
        if let device, device.isEmpty { throw APIError(.invalidValue, "'device' must not be empty") }
        if let prompt, prompt.count > 200 { throw APIError(.invalidValue, "'prompt' must be at most 200 characters") }
        if let timeout, !(timeout > 0 && timeout <= 3600) { throw APIError(.invalidValue, "'timeout' must be above 0 and at most 3600 s") }
        if let dpi, !(dpi >= 10 && dpi <= 2400) { throw APIError(.invalidValue, "'dpi' must be 10…2400") }
        _ = try style()
        var checked = self
        checked.timeout = timeout ?? 120
        return checked
    }

    /// How the session's PNG and SVG are drawn.
    func style() throws(APIError) -> SignatureStyle {
        var style = SignatureStyle(dotsPerInch: dpi ?? 300)
        if let size {
            guard let parsed = SignatureStyle.size(parsing: size) else {
                throw APIError(.invalidValue, "'size' must be WIDTHxHEIGHT with each 1…10000, got '\(size)'")
            }
            style.size = parsed
        }
        return style
    }
}
