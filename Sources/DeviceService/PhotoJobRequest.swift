import Cameras

/// The body of `POST /v1/photos`: the CLI's photo options as JSON.
struct PhotoJobRequest: StrictlyDecodable, Encodable, Sendable {
    var device: String?
    /// `WIDTHxHEIGHT`.
    var size: String?
    /// A V4L2 FourCC such as `MJPG` or `YUYV`.
    var pixelFormat: String?
    var skip: Double?
    /// Milliseconds.
    var settle: Double?
    var controls: [String: OptionValueText]?
    var format: String?
    var quality: Double?
    /// Seconds to wait for a frame.
    var timeout: Double?
    /// The document stages for the photo.
    var document: DocumentJSON?

    static let fields: Set<String> = [
        "device", "size", "pixelFormat", "skip", "settle", "controls", "format", "quality", "timeout",
        "document",
    ]
    static let nestedFields: [String: Set<String>] = ["document": DocumentJSON.fields]

    /// The body for a library request (what the CLI and `ServiceClient` send).
    init(_ request: PhotoRequest) {
        device = request.device
        size = request.size?.description
        pixelFormat = request.pixelFormat?.name
        skip = request.skipFrames.map(Double.init)
        settle = request.settleMilliseconds.map(Double.init)
        controls = request.controls.isEmpty ? nil : request.controls.mapValues { OptionValueText(text: $0) }
        format = request.format.rawValue
        quality = request.quality.map(Double.init)
        timeout = request.timeoutSeconds
    }

    /// The device-independent request, with every value checked that can be checked without the camera.
    func photoRequest() throws(APIError) -> PhotoRequest {
        if let device, device.isEmpty { throw APIError(.invalidValue, "'device' must not be empty") }
        var request = PhotoRequest(
            device: device, skipFrames: try StrictJSON.integer(skip, "skip"),
            settleMilliseconds: try StrictJSON.integer(settle, "settle"),
            controls: controls?.mapValues(\.text) ?? [:],
            format: try StrictJSON.choice(format, "format", PhotoFormat.self) ?? .jpeg,
            quality: try StrictJSON.integer(quality, "quality"), timeoutSeconds: timeout)
        if let size {
            guard let parsed = FrameSize(parsing: size) else {
                throw APIError(.invalidValue, "'size' must be WIDTHxHEIGHT, e.g. 1920x1080; got '\(size)'")
            }
            request.size = parsed
        }
        if let pixelFormat {
            guard let code = FourCC(pixelFormat) else {
                throw APIError(.invalidValue, "'pixelFormat' must be a V4L2 code such as MJPG or YUYV; got '\(pixelFormat)'")
            }
            request.pixelFormat = code
        }
        try request.validate()
        return request
    }
}

/// The body of `POST /v1/devices/{id}/frame-rate`.
struct FrameRateRequest: StrictlyDecodable, Sendable {
    /// How long to count frames, 0.5…30 s (default 3).
    var seconds: Double?

    static let fields: Set<String> = ["seconds"]

    /// The counting time, checked.
    func duration() throws(APIError) -> Duration {
        let seconds = self.seconds ?? 3
        guard seconds >= 0.5, seconds <= 30 else { throw APIError(.invalidValue, "'seconds' must be 0.5…30, got \(seconds)") }
        return .milliseconds(Int(seconds * 1000))
    }
}
