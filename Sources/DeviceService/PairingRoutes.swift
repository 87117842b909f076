import Attachments
import Audit
import CounterKitCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The body of `POST /v1/pairings`.
struct PairingRequest: StrictlyDecodable, Sendable {
    /// The web origin to pair (`https://counter.example.gov.cn`).
    var origin: String

    static let fields: Set<String> = ["origin"]
}

/// `POST /v1/pairings`' answer: the token, shown this once.
struct IssuedPairing: Codable, Sendable {
    var origin: String
    var token: String
    var createdAt: Date
}

/// One pairing as listed (the token is never shown again).
struct ListedPairing: Codable, Sendable {
    var origin: String
    var createdAt: Date
    /// The first 12 hex digits of the token's SHA-256, to tell tokens apart.
    var tokenHash: String
}

struct PairingList: Codable, Sendable { var pairings: [ListedPairing] }
struct RevokedPairings: Codable, Sendable { var origin: String; var revoked: Int }

/// The pairing routes (`/v1/pairings`): on the Unix socket only; the bridge refuses them over TCP.
struct PairingRoutes: Sendable {
    let pairings: PairingStore
    /// Where pairing changes are recorded (a sealed spool's audit log).
    let audit: AuditLog?
    let logger: Logger

    private func record(_ origin: String, _ change: String, _ request: Request, _ context: ServiceRequestContext) async {
        guard let audit else { return }
        let detail = requester(request, context).merging(["origin": origin, "change": change]) { $1 }
        let outcome = await BlockingCalls.shared.run { () throws(AttachmentError) in try audit.append(.pairing, detail: detail) }
        if case .failure(let error) = outcome { logger.error("audit log: \(error.message)") }
    }

    func register(on router: Router<ServiceRequestContext>) {
        router.get("/v1/pairings") { _, _ in
            try json(
                PairingList(
                    pairings: pairings.list().map {
                        ListedPairing(origin: $0.origin, createdAt: $0.createdAt, tokenHash: String($0.tokenSHA256.prefix(12)))
                    }))
        }
        router.post("/v1/pairings") { request, context in
            let body = try await jsonBody(request, context)
            let asked = try StrictJSON.decode(PairingRequest.self, from: body).origin
            let origin = try Self.origin(asked)
            let issued: (token: String, pairing: PairingStore.Pairing)
            do throws(ServiceSetupError) { issued = try pairings.pair(origin: origin) } catch { throw APIError(.ioError, error.message) }
            await record(origin, "paired", request, context)
            return try json(IssuedPairing(origin: origin, token: issued.token, createdAt: issued.pairing.createdAt), status: .created)
        }
        router.delete("/v1/pairings") { request, context in
            guard let raw = request.uri.queryParameters["origin"], let asked = String(raw).removingPercentEncoding else {
                throw APIError(.invalidValue, "name the origin to revoke: ?origin=https://…")
            }
            let origin = try Self.origin(asked)
            let removed: Int
            do throws(ServiceSetupError) { removed = try pairings.revoke(origin: origin) } catch { throw APIError(.ioError, error.message) }
            guard removed > 0 else { throw APIError(.notFound, "\(origin) is not paired") }
            await record(origin, "revoked", request, context)
            return try json(RevokedPairings(origin: origin, revoked: removed))
        }
    }

    static func origin(_ text: String) throws(APIError) -> String {
        guard let origin = PairingStore.normalizedOrigin(text) else {
            throw APIError(.invalidValue, "'\(text)' is not a web origin; give scheme://host[:port], e.g. https://counter.example.gov.cn")
        }
        return origin
    }
}
