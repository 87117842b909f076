import Attachments
import Cameras
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Scanning

/// An API failure: a stable code, a message for people, and the HTTP status it travels with.
/// The body is always `{"error": {"code": "...", "message": "..."}}`.
public struct APIError: Error, Sendable, Equatable, HTTPResponseError {
    /// The stable code (documented in the OpenAPI document).
    public var code: String
    /// A message for people.
    public var message: String
    /// The HTTP status.
    public var status: HTTPResponse.Status

    /// Creates an error.
    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// Renders the JSON error body.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = Response(status: status, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(bytes: Self.body(code: code, message: message))))
        if status == .methodNotAllowed { response.headers[.allow] = "GET, POST, DELETE" }
        return response
    }

    /// The JSON bytes of an error body.
    static func body(code: String, message: String) -> Data {
        (try? JSONEncoder.api.encode(ErrorEnvelope(error: .init(code: code, message: message)))) ?? Data()
    }

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }
    static func notFound(_ code: String, _ message: String) -> APIError { APIError(.notFound, code, message) }
}

/// The error body's shape.
struct ErrorEnvelope: Codable, Sendable {
    struct Detail: Codable, Sendable {
        var code: String
        var message: String
    }
    var error: Detail
}

extension APIError {
    /// Maps a scanning error to its HTTP status, keeping the code.
    init(_ error: ScanError) {
        let status: HTTPResponse.Status = switch error.code {
        case .deviceBusy: .conflict
        case .deviceNotFound: .notFound
        case .invalidValue, .unsupportedOption: .badRequest
        case .accessDenied: .forbidden
        case .cancelled: .conflict
        case .timeout: .gatewayTimeout
        default: .badGateway
        }
        self.init(status, error.code.rawValue, error.message)
    }

    /// Maps a camera error to its HTTP status, keeping the code.
    init(_ error: CameraError) {
        let status: HTTPResponse.Status = switch error.code {
        case .deviceBusy, .cancelled: .conflict
        case .deviceNotFound, .deviceDisconnected: .notFound
        case .invalidValue, .invalidControl, .unsupportedFormat: .badRequest
        case .accessDenied: .forbidden
        case .timeout: .gatewayTimeout
        default: .badGateway
        }
        self.init(status, error.code.rawValue, error.message)
    }

    /// Maps a store error to its HTTP status, keeping the code.
    init(_ error: AttachmentError) {
        let status: HTTPResponse.Status = switch error.code {
        case .notFound: .notFound
        case .invalidId: .notFound
        case .storeFull: HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
        default: .internalServerError
        }
        self.init(status, error.code.rawValue, error.message)
    }
}

extension JSONEncoder {
    /// The API's JSON: the manifests' encoding (ISO 8601 dates with milliseconds), compact.
    static var api: JSONEncoder {
        let encoder = AttachmentManifest.makeEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
