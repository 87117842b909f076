/// The body of `POST /v1/signatures`.
struct SignatureJobRequest: StrictlyDecodable, Sendable {
    /// A pad id from `GET /v1/devices`; nil takes the first pad that opens.
    var device: String?
    /// Text for pads with a screen.
    var prompt: String?
    /// Seconds after which the session finishes by itself (default 120).
    var timeout: Double?

    static let fields: Set<String> = ["device", "prompt", "timeout"]

    /// The request with its values checked.
    func validated() throws(APIError) -> SignatureJobRequest {
        if let device, device.isEmpty { throw APIError(.invalidValue, "'device' must not be empty") }
        if let prompt, prompt.count > 200 { throw APIError(.invalidValue, "'prompt' must be at most 200 characters") }
        if let timeout, !(timeout > 0 && timeout <= 3600) { throw APIError(.invalidValue, "'timeout' must be above 0 and at most 3600 s") }
        var checked = self
        checked.timeout = timeout ?? 120
        return checked
    }
}
