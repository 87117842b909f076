import Attachments
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

// The service's middlewares, outermost first, each with one job: `RequestLogging`, `AccessCheck`, `AllowHeader`,
// `ErrorResponses` (`CounterKitService.router` installs them in this order).

/// Logs each request with its status, its time and who asked (the peer's uid and pid; a TCP peer's origin).
struct RequestLogging: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        logger.info(
            "\(request.method) \(request.uri.path) \(response.status.code) \(String(format: "%.1f", milliseconds))ms",
            metadata: context.peer.map { ["uid": "\($0.uid)", "pid": "\($0.pid)"] }
                ?? ["peer": "tcp", "origin": "\(request.headers[.origin] ?? "none")"])
        return response
    }
}

/// Who may ask: a Unix-socket peer by the access policy, a TCP request by the loopback bridge's rules (host, origin,
/// token; CORS preflights answered here). A refusal is answered here in the API's error shape; an allowed web origin's
/// answers carry its CORS headers, and every TCP answer `Vary: Origin`.
struct AccessCheck: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let policy: AccessPolicy
    /// The rules for TCP requests (the loopback bridge).
    let bridge: LoopbackBridge

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var decision = LoopbackBridge.Decision.serve(origin: nil)
        if let port = context.tcpPort {
            decision = bridge.decide(request, port: port)
        } else if !policy.admits(context.peer) {
            let who = context.peer.map { "uid \($0.uid)" } ?? "this peer"
            decision = .refuse(APIError(.forbidden, "\(who) may not use this service"), origin: nil)
        }
        var response: Response
        var corsOrigin: String?
        switch decision {
        case .refuse(let error, let origin):
            corsOrigin = origin
            response = try error.response(from: request, context: context)
            if error.code == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        case .preflight(let answer):
            response = answer
        case .serve(let origin):
            corsOrigin = origin
            response = try await next(request, context)
        }
        if let corsOrigin { LoopbackBridge.addCORS(to: &response, origin: corsOrigin) }
        if context.tcpPort != nil, response.headers[.vary] == nil { response.headers[.vary] = "Origin" }
        return response
    }
}

/// A 405 names the methods the path allows (`Allow`), from the routes themselves.
struct AllowHeader: RouterMiddleware {
    typealias Context = ServiceRequestContext
    /// The router's routes.
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if response.status == .methodNotAllowed, let methods = routes.methods(for: request.uri.path) {
            response.headers[.allow] = methods.joined(separator: ", ")
        }
        return response
    }
}

/// Every failure as the API's JSON error body with the status its code travels with: a CounterKit error as it is,
/// Hummingbird's own (no route, wrong method, body too large, malformed request) in the same shape, anything else
/// `internal` (and logged). An error answer is never a download (no `Content-Disposition`).
struct ErrorResponses: RouterMiddleware {
    typealias Context = ServiceRequestContext
    /// The router's routes, to tell a wrong method from a missing path.
    let routes: RouteTable
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
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
        if response.status.code >= 400 { response.headers[.contentDisposition] = nil }
        return response
    }

    /// Hummingbird's own errors in the API's shape.
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
