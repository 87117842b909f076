import Attachments
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The first middleware: refuses peers outside the access policy, turns every error into the JSON error body
/// with a matching status, and logs each request with the peer's uid and pid.
struct RequestGate: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let policy: AccessPolicy
    /// The rules for TCP requests (the loopback bridge).
    let bridge: LoopbackBridge
    /// The router's routes, for 405 answers.
    let routes: RouteTable
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var response: Response
        var corsOrigin: String?
        var decision = LoopbackBridge.Decision.serve(origin: nil)
        if let port = context.tcpPort {
            decision = bridge.decide(request, port: port)
        } else if !policy.admits(context.peer) {
            decision = .refuse(
                APIError(.forbidden, "\(context.peer.map { "uid \($0.uid)" } ?? "this peer") may not use this service"),
                origin: nil)
        }
        switch decision {
        case .refuse(let error, let origin):
            corsOrigin = origin
            response = try error.response(from: request, context: context)
            if error.code == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        case .preflight(let answer):
            response = answer
        case .serve(let origin):
            corsOrigin = origin
            do {
                response = try await next(request, context)
            } catch let error as CounterKitError {
                response = try error.response(from: request, context: context)
            } catch let error as HTTPError {
                response = try translate(error, request, context).response(from: request, context: context)
            } catch is NIOTooManyBytesError {
                response = try translate(HTTPError(.contentTooLarge), request, context).response(from: request, context: context)
            } catch {
                logger.error("\(request.method) \(request.uri.path) failed: \(error)")
                response = try APIError(.internal, "internal error").response(from: request, context: context)
            }
        }
        if let corsOrigin { LoopbackBridge.addCORS(to: &response, origin: corsOrigin) }
        if context.tcpPort != nil, response.headers[.vary] == nil { response.headers[.vary] = "Origin" }
        if response.status.code >= 400 { response.headers[.contentDisposition] = nil }
        if response.status == .methodNotAllowed, let methods = routes.methods(for: request.uri.path) {
            response.headers[.allow] = methods.joined(separator: ", ")
        }
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        logger.info(
            "\(request.method) \(request.uri.path) \(response.status.code) \(String(format: "%.1f", milliseconds))ms",
            metadata: context.peer.map { ["uid": "\($0.uid)", "pid": "\($0.pid)"] }
                ?? ["peer": "tcp", "origin": "\(request.headers[.origin] ?? "none")"])
        return response
    }

    /// Hummingbird's own errors (no route, body too large, malformed request) in the API's shape.
    func translate(_ error: HTTPError, _ request: Request, _ context: Context) -> APIError {
        switch error.status {
        case .notFound, .methodNotAllowed:
            if let methods = routes.methods(for: request.uri.path) {
                APIError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path); it allows \(methods.joined(separator: ", "))")
            } else {
                APIError(.notFound, "no route for \(request.method) \(request.uri.path)")
            }
        case .contentTooLarge: APIError(.bodyTooLarge, "request bodies are limited to \(context.maxUploadSize) bytes")
        default: APIError(error.status.code < 500 ? .badRequest : .internal, error.body ?? error.status.reasonPhrase)
        }
    }
}
