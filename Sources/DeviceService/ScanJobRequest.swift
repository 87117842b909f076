import Scanning

/// The body of `POST /v1/scans`: the CLI's scan options as JSON.
struct ScanJobRequest: StrictlyDecodable, Encodable, Sendable {
    struct Area: Codable, Sendable {
        var x: Double
        var y: Double
        var width: Double
        var height: Double
    }

    struct Live: Codable, Sendable {
        var width: Double
    }

    var device: String?
    var source: String?
    var mode: String?
    var resolution: Double?
    var paper: String?
    var area: Area?
    var format: String?
    /// Numbers that must be whole; decoded as numbers so that 85.5 is reported as a type error, not bad JSON.
    var quality: Double?
    var maxPages: Double?
    var options: [String: OptionValueText]?
    /// Seconds of backend silence before the scan is abandoned (`timeout`); default: the service's `--scan-timeout`.
    var timeout: Double?
    /// A live view of the rows as they are scanned: `rows` events on the job's event stream.
    var live: Live?
    /// The document stages for the pages.
    var document: DocumentJSON?

    static let fields: Set<String> = [
        "device", "source", "mode", "resolution", "paper", "area", "format", "quality",
        "maxPages", "options", "timeout", "live", "document",
    ]
    static let nestedFields: [String: Set<String>] = [
        "area": ["x", "y", "width", "height"], "live": ["width"],
        "document": DocumentJSON.fields,
    ]

    /// The body for a library request (what the CLI and `ServiceClient` send).
    init(_ request: ScanRequest) {
        device = request.device
        source = request.source?.rawValue
        mode = request.mode?.rawValue
        resolution = request.resolution
        paper = request.paper?.rawValue
        area = request.area.map { Area(x: $0.x, y: $0.y, width: $0.width, height: $0.height) }
        format = request.format.rawValue
        quality = request.quality.map(Double.init)
        maxPages = request.maxPages.map(Double.init)
        options = request.options.isEmpty ? nil : request.options.mapValues { OptionValueText(text: $0) }
        timeout = request.idleTimeout
        live = request.live.map { Live(width: Double($0.width)) }
    }

    /// The device-independent request, with every value checked that can be checked without the device.
    func scanRequest() throws(APIError) -> ScanRequest {
        var request = ScanRequest(device: device)
        request.source = try StrictJSON.choice(source, "source", ScanSource.self)
        request.mode = try StrictJSON.choice(mode, "mode", ScanMode.self)
        request.format = try StrictJSON.choice(format, "format", ScanOutputFormat.self) ?? .jpeg
        request.resolution = resolution
        if let paper {
            guard let preset = PaperSize(name: paper) else {
                throw APIError(.invalidValue, "'paper' must be one of A4, A5, Letter, ID1; got '\(paper)'")
            }
            request.paper = preset
        }
        if let area { request.area = ScanArea(x: area.x, y: area.y, width: area.width, height: area.height) }
        request.quality = try StrictJSON.integer(quality, "quality")
        request.maxPages = try StrictJSON.integer(maxPages, "maxPages")
        request.options = options?.mapValues(\.text) ?? [:]
        request.idleTimeout = timeout
        if let live { request.live = LiveRowsRequest(width: try StrictJSON.integer(live.width, "live.width") ?? 0) }
        if let device, device.isEmpty { throw APIError(.invalidValue, "'device' must not be empty") }
        try request.validate()
        return request
    }
}
