import Attachments
import Foundation

extension ServiceClient {
    /// An attachment's manifest exactly as stored (`GET /v1/attachments/{id}/manifest`): the bytes its signature covers.
    public func manifestBytes(of id: String) async throws -> [UInt8] { try await body("/v1/attachments/\(id)/manifest") }

    /// An attachment's signature record exactly as served (`GET /v1/attachments/{id}/signature`); `not_found` for an
    /// attachment stored before the spool was sealed.
    public func signatureBytes(of id: String) async throws -> [UInt8] { try await body("/v1/attachments/\(id)/signature") }

    /// An attachment's signature record, decoded.
    public func signature(of id: String) async throws -> SignatureRecord {
        let bytes = try await signatureBytes(of: id)
        guard let record = SignatureRecord.decode(bytes) else {
            throw ServiceClientError(code: "invalid_json", message: "the service's signature of \(id) is not a signature record")
        }
        return record
    }

    /// The audit log's lines after entry `since` (`GET /v1/audit?since=`), each exactly as stored, without its
    /// newline: `AuditEntry.parse(line:)` takes one apart, `AuditCheck.verify(lines:verifier:)` checks them.
    public func auditLines(since: Int = 0) async throws -> [[UInt8]] {
        try await body("/v1/audit?since=\(since)").split(separator: UInt8(ascii: "\n")).map(Array.init)
    }

    /// The counter key's certificate chain as the service serves it (`GET /v1/seal/certificate`, PEM, the counter's
    /// certificate first); `not_found` when none is configured.
    public func certificateChain() async throws -> String { String(decoding: try await body("/v1/seal/certificate"), as: UTF8.self) }

    /// An attachment's envelope for the back office (`GET /v1/attachments/{id}/sealed`, CMS DER).
    public func sealedEnvelope(of id: String) async throws -> [UInt8] { try await body("/v1/attachments/\(id)/sealed") }

    /// An attachment's data (`GET /v1/attachments/{id}`); `seal_invalid` when its files are not as committed,
    /// `sealed_only` when only its envelope is left.
    public func data(of id: String) async throws -> [UInt8] { try await body("/v1/attachments/\(id)") }

    private func body(_ path: String) async throws -> [UInt8] {
        let reply = try await send("GET", path)
        if let error = reply.error { throw ServiceClientError(code: error.code, message: error.message) }
        return reply.body
    }
}
