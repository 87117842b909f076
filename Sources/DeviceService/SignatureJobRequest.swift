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

    static let fields: Set<String> = ["device", "prompt", "timeout", "size", "dpi"]

    /// The hub's request (checked by the hub before a pad is opened; 120 s when no timeout is given).
    func signatureRequest() throws(DeviceHubError) -> SignatureRequest {
        SignatureRequest(device: device, prompt: prompt, timeout: timeout ?? 120, style: try SignatureRequest.style(size: size, dpi: dpi))
    }
}
