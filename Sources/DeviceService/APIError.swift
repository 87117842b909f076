import Attachments
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The DeviceService family's errors: a `CounterKitError` raised while serving a request (its `family` is
/// `.deviceService`). Any `CounterKitError` a route throws, whoever raised it, is answered with the HTTP status its code
/// travels with (`ErrorCode.httpStatus`, one table for every route) and the body
/// `{"error": {"code": "...", "message": "..."}}`.
public typealias APIError = CounterKitError

extension CounterKitError: HTTPResponseError {
    /// The HTTP status, from the code.
    public var status: HTTPResponse.Status { code.httpStatus }

    /// Renders the JSON error body.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: Self.body(code: code, message: message))))
    }

    /// The JSON bytes of an error body.
    static func body(code: ErrorCode, message: String) -> Data {
        (try? JSONEncoder.api.encode(ErrorEnvelope(error: .init(code: code.rawValue, message: message)))) ?? Data()
    }
}

/// The error body's shape.
struct ErrorEnvelope: Codable, Sendable {
    struct Detail: Codable, Sendable {
        var code: String
        var message: String
    }
    var error: Detail
}

extension ErrorCode {
    /// The HTTP status every route answers this code with: the one table.
    public var httpStatus: HTTPResponse.Status {
        switch self {
        case .invalidJSON, .unknownField, .invalidType, .invalidValue, .badRequest, .unsupportedOption, .invalidControl,
            .unsupportedFormat, .invalidDocument:
            .badRequest
        case .forbidden, .accessDenied, .forbiddenHost, .forbiddenOrigin: .forbidden
        case .unauthorized: .unauthorized
        case .notFound, .invalidId, .jobNotFound, .sessionNotFound, .deviceNotFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .deviceBusy, .deviceDisconnected, .jobFinished, .sessionFinished, .sessionFinishing, .cancelled, .noInk, .sealInvalid, .auditBroken: .conflict
        case .bodyTooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .rangeNotSatisfiable: .rangeNotSatisfiable
        case .sealedOnly: .gone
        case .queueFull, .tooManySubscribers: .tooManyRequests
        case .internal, .invalidImage, .encoderFailed, .attachmentFailed, .interrupted: .internalServerError
        case .jammed, .coverOpen, .noDocs, .ioError, .timestampUnavailable, .noMemory, .backendCrashed, .corruptFrame, .invalidDescriptor, .invalidReport,
            .unsupportedDevice:
            .badGateway
        case .noDocument, .sizeTargetUnreachable: .unprocessableContent
        case .tooManyConnections, .serviceUnavailable: .serviceUnavailable
        case .timeout: .gatewayTimeout
        case .storeFull, .diskFull: HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
        }
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
