import Attachments
import Foundation
import HTTPTypes
import Hummingbird

/// The loopback bridge's settings: which web pages may use the API over TCP (`--listen 127.0.0.1:PORT`), and whether
/// the device console is served at `/ui/`.
///
/// Every TCP request must name the listener in `Host` (403 `forbidden_host` otherwise: DNS rebinding), come from an
/// allowed origin when it has an `Origin` (403 `forbidden_origin`, with no CORS headers), and carry
/// `Authorization: Bearer TOKEN` with a token paired for that origin (401 `unauthorized`). Only `GET /v1/client.js`,
/// `/v1/openapi.json` and the console's own files are served without a token.
public struct BridgeConfiguration: Sendable, Equatable {
    /// Web origins (`https://counter.example.gov.cn`) allowed besides the paired ones (`--allow-origin`).
    public var allowedOrigins: [String]
    /// Serve the device console at `/ui/` (`--ui`); its own origin (the listener's) is then allowed.
    public var console: Bool

    /// Creates a configuration.
    public init(allowedOrigins: [String] = [], console: Bool = false) {
        self.allowedOrigins = allowedOrigins
        self.console = console
    }
}

/// Applies the bridge's rules to one TCP request.
struct LoopbackBridge: Sendable {
    let configuration: BridgeConfiguration
    let pairings: PairingStore

    /// What the access check (`AccessCheck`) does with a request.
    enum Decision {
        /// Refused; `origin` is set when the error may carry CORS headers (the origin is allowed).
        case refuse(APIError, origin: String?)
        /// A CORS preflight, answered here.
        case preflight(Response)
        /// Served; responses get CORS headers for `origin` when it is set.
        case serve(origin: String?)
    }

    /// Methods and request headers a page may use.
    static let allowedMethods = "GET, HEAD, POST, DELETE"
    static let allowedHeaders = "Authorization, Content-Type, Range, Last-Event-ID"
    static let exposedHeaders = "Location, Content-Disposition, Content-Range, Content-Length, Retry-After, CounterKit-Audit-Head"

    /// Paths served without a token: the client library, the API's description, and the console's files when it is on.
    func isPublic(_ path: String) -> Bool {
        ["/v1/client.js", "/v1/client.d.ts", "/v1/openapi.json"].contains(path) || (configuration.console && (path == "/ui" || path.hasPrefix("/ui/")))
    }

    /// The listener's own origins, allowed when the console is on (its page calls the API from there).
    func ownOrigins(port: Int) -> [String] {
        ["http://127.0.0.1:\(port)", "http://localhost:\(port)", "http://[::1]:\(port)"]
    }

    func isAllowed(_ origin: String, port: Int) -> Bool {
        configuration.allowedOrigins.contains(origin) || pairings.isPaired(origin)
            || (configuration.console && ownOrigins(port: port).contains(origin))
    }

    func decide(_ request: Request, port: Int) -> Decision {
        let host = (request.head.authority ?? "").lowercased()
        guard ["127.0.0.1:\(port)", "localhost:\(port)", "[::1]:\(port)"].contains(host) else {
            return .refuse(APIError(.forbiddenHost, "Host '\(host)' is not this service; use http://127.0.0.1:\(port)"), origin: nil)
        }
        var origin: String?
        if let sent = request.headers[.origin] {
            guard let normalized = PairingStore.normalizedOrigin(sent), isAllowed(normalized, port: port) else {
                return .refuse(
                    APIError(.forbiddenOrigin, "origin '\(sent)' is not allowed; a technician allows it with `counterkit pair ORIGIN`"),
                    origin: nil)
            }
            origin = normalized
        }
        if request.method == .options {
            guard let origin else {
                return .refuse(APIError(.forbiddenOrigin, "a CORS preflight needs an allowed Origin"), origin: nil)
            }
            return .preflight(preflightResponse(request, origin: origin))
        }
        let path = request.uri.path
        if isPublic(path) && (request.method == .get || request.method == .head) { return .serve(origin: origin) }
        if path == "/v1/pairings" || path.hasPrefix("/v1/pairings/") {
            return .refuse(APIError(.forbidden, "pairing is done over the Unix socket only (`counterkit pair`)"), origin: origin)
        }
        let authorization = request.headers[.authorization] ?? ""
        guard authorization.lowercased().hasPrefix("bearer ") else {
            return .refuse(
                APIError(.unauthorized, "send Authorization: Bearer TOKEN; a technician issues the token with `counterkit pair ORIGIN`"),
                origin: origin)
        }
        let token = authorization.dropFirst(7).trimmingCharacters(in: .whitespaces)
        guard let paired = pairings.origin(ofToken: token) else {
            return .refuse(APIError(.unauthorized, "the token is not valid (never issued, or revoked)"), origin: origin)
        }
        if let origin, paired != origin {
            return .refuse(APIError(.unauthorized, "the token was issued for another origin"), origin: origin)
        }
        return .serve(origin: origin)
    }

    private func preflightResponse(_ request: Request, origin: String) -> Response {
        var response = Response(status: .noContent)
        Self.addCORS(to: &response, origin: origin)
        response.headers[.accessControlAllowMethods] = Self.allowedMethods
        response.headers[.accessControlAllowHeaders] = Self.allowedHeaders
        response.headers[.accessControlMaxAge] = "600"
        // Chrome's Private Network Access asks whether a public page may reach this loopback service.
        if request.headers[HTTPField.Name("Access-Control-Request-Private-Network")!]?.lowercased() == "true" {
            response.headers[HTTPField.Name("Access-Control-Allow-Private-Network")!] = "true"
        }
        return response
    }

    /// CORS headers for an allowed origin: exactly that origin, never `*`.
    static func addCORS(to response: inout Response, origin: String) {
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = exposedHeaders
        let vary = response.headers[.vary]
        response.headers[.vary] = vary.map { "\($0), Origin" } ?? "Origin"
    }
}
