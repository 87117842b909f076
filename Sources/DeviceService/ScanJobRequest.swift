import Scanning

/// The body of `POST /v1/scans`: the CLI's scan options as JSON.
struct ScanJobRequest: StrictlyDecodable, Sendable {
    struct Area: Decodable, Sendable {
        var x: Double
        var y: Double
        var width: Double
        var height: Double
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

    static let fields: Set<String> = ["device", "source", "mode", "resolution", "paper", "area", "format", "quality",
                                      "maxPages", "options"]
    static let nestedFields: [String: Set<String>] = ["area": ["x", "y", "width", "height"]]

    /// The device-independent request, with every value checked that can be checked without the device.
    func scanRequest() throws(APIError) -> ScanRequest {
        var request = ScanRequest(device: device)
        request.source = try Self.choice(source, "source", ScanSource.self)
        request.mode = try Self.choice(mode, "mode", ScanMode.self)
        request.format = try Self.choice(format, "format", ScanOutputFormat.self) ?? .jpeg
        request.resolution = resolution
        if let paper {
            guard let preset = PaperSize(name: paper) else {
                throw APIError.badRequest("invalid_value", "'paper' must be one of A4, A5, Letter, ID1; got '\(paper)'")
            }
            request.paper = preset
        }
        if let area { request.area = ScanArea(x: area.x, y: area.y, width: area.width, height: area.height) }
        request.quality = try Self.integer(quality, "quality")
        request.maxPages = try Self.integer(maxPages, "maxPages")
        request.options = options?.mapValues(\.text) ?? [:]
        if let device, device.isEmpty { throw APIError.badRequest("invalid_value", "'device' must not be empty") }
        do throws(ScanError) {
            try request.validate()
        } catch {
            throw APIError.badRequest(error.code.rawValue, error.message)
        }
        return request
    }

    private static func integer(_ value: Double?, _ name: String) throws(APIError) -> Int? {
        guard let value else { return nil }
        guard value.rounded() == value, abs(value) < 1e9 else {
            throw APIError.badRequest("invalid_type", "'\(name)' must be an integer")
        }
        return Int(value)
    }

    private static func choice<T: RawRepresentable & CaseIterable>(_ value: String?, _ name: String, _: T.Type) throws(APIError) -> T?
    where T.RawValue == String {
        guard let value else { return nil }
        guard let match = T(rawValue: value.lowercased()) else {
            throw APIError.badRequest("invalid_value",
                                      "'\(name)' must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")); got '\(value)'")
        }
        return match
    }
}
