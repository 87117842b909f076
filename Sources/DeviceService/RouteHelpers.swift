import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A JSON response.
func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    Response(
        status: status, headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder.api.encode(value))))
}

/// Who made a request, for the audit log: the socket peer's uid and pid, or the bridge and the page's origin.
func requester(_ request: Request, _ context: ServiceRequestContext) -> [String: String] {
    if let peer = context.peer { return ["uid": String(peer.uid), "pid": String(peer.pid)] }
    var who = ["via": "bridge"]
    if let origin = request.headers[.origin] { who["origin"] = origin }
    return who
}

/// A boolean query flag: `?name`, `?name=true` or `?name=1` is on; `false`, `0` or absent is off; anything else is 400.
func flag(_ request: Request, _ name: String) throws(APIError) -> Bool {
    guard let value = request.uri.queryParameters[name[...]] else { return false }
    switch value.lowercased() {
    case "", "true", "1", "yes": return true
    case "false", "0", "no": return false
    default: throw APIError(.invalidValue, "?\(name) must be true or false, got '\(value)'")
    }
}

/// A request's body, which must be JSON when there is one: anything else (a form or `text/plain` post, which a foreign
/// web page can send without asking) is refused with 415 `unsupported_media_type` before it is read as a request.
func jsonBody(_ request: Request, _ context: ServiceRequestContext) async throws -> ByteBuffer {
    let body = try await request.body.collect(upTo: context.maxUploadSize)
    guard body.readableBytes > 0 else { return body }
    let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
    guard type == "application/json" else {
        throw APIError(
            .unsupportedMediaType,
            "request bodies must be JSON with Content-Type: application/json"
                + (type.map { "; got \($0)" } ?? "; the header is missing") + " (curl: --json '{…}')")
    }
    return body
}

/// A path parameter, percent-decoded (device ids such as `hpaio:/usb/…` arrive encoded).
func parameter(_ context: ServiceRequestContext, _ name: String) throws(APIError) -> String {
    guard let raw = context.parameters.get(name), let value = raw.removingPercentEncoding, !value.isEmpty else {
        throw APIError(.invalidValue, "missing or malformed {\(name)}")
    }
    return value
}
