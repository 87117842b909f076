import Attachments
import Cameras
import DocumentImaging
import Foundation
import Scanning

/// A failure reported by the service (or in reaching it), with the API's stable code.
public struct ServiceClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The API error code (`device_busy`, `device_not_found`, …), or `http_<status>` for a non-API answer.
    public var code: String
    /// The service's message.
    public var message: String

    /// An error with the API's `code` and a message.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

extension ServiceClient {
    /// Submits a scan (`POST /v1/scans`), through the document stages when `document` is given; with `queue`, a busy
    /// scanner is waited for instead of refused.
    public func submitScan(_ request: ScanRequest, document: DocumentOptions? = nil, queue: Bool = true) async throws -> JobSnapshot {
        var body = ScanJobRequest(request)
        body.document = document.map(DocumentJSON.init)
        return try await submit("/v1/scans", JSONEncoder().encode(body), queue: queue)
    }

    /// Submits a photo (`POST /v1/photos`), through the document stages when `document` is given; with `queue`, a busy
    /// camera is waited for instead of refused.
    public func submitPhoto(_ request: PhotoRequest, document: DocumentOptions? = nil, queue: Bool = true) async throws -> JobSnapshot {
        var body = PhotoJobRequest(request)
        body.document = document.map(DocumentJSON.init)
        return try await submit("/v1/photos", JSONEncoder().encode(body), queue: queue)
    }

    /// Follows a job's server-sent events until it ends, handing each state to `update`; returns the final job.
    public func follow(_ job: JobSnapshot, update: (JobSnapshot) -> Void = { _ in }) async throws -> JobSnapshot {
        var latest = job
        let reply = try await events("/v1/jobs/\(job.id)/events") { event in
            latest = try AttachmentManifest.makeDecoder().decode(JobSnapshot.self, from: Data(event.data.utf8))
            update(latest)
            return !latest.state.isFinished
        }
        if let error = reply.error { throw ServiceClientError(code: error.code, message: error.message) }
        if !latest.state.isFinished {
            // The stream ended early (the service stopped): ask once more.
            let current = try await send("GET", "/v1/jobs/\(job.id)")
            if let error = current.error { throw ServiceClientError(code: error.code, message: error.message) }
            latest = try current.decode(JobSnapshot.self)
        }
        return latest
    }

    /// Cancels a queued or running job (`DELETE /v1/jobs/{id}`).
    public func cancel(jobID: String) async throws {
        let reply = try await send("DELETE", "/v1/jobs/\(jobID)")
        if let error = reply.error, error.code != "job_finished" { throw ServiceClientError(code: error.code, message: error.message) }
    }

    private func submit(_ path: String, _ body: Data, queue: Bool) async throws -> JobSnapshot {
        let reply = try await send("POST", path + (queue ? "?queue=true" : ""), json: body)
        if let error = reply.error { throw ServiceClientError(code: error.code, message: error.message) }
        return try reply.decode(JobSnapshot.self)
    }
}
