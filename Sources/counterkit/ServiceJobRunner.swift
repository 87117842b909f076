import Attachments
import DeviceService
import Foundation

/// A capture through the running service, for the CLI: submit (waiting for a busy device),
/// follow the job's events, cancel it on Ctrl-C, and download its attachments without half-written files.
struct ServiceJobRunner {
    let client: ServiceClient

    init(socket: String) { client = ServiceClient(socketPath: socket, idleTimeout: .seconds(60)) }

    /// Submits with `submit`, follows the job to its end and returns it; throws the job's error unless it completed.
    func run(_ submit: (ServiceClient) async throws -> JobSnapshot, progress: (JobProgress) -> Void) async throws -> JobSnapshot {
        do {
            let job = try await submit(client)
            let client = self.client
            InterruptHandler.install { Task { try? await client.cancel(jobID: job.id) } }
            let finished = try await client.follow(job) { if let update = $0.progress { progress(update) } }
            guard finished.state == .completed else {
                throw fail(finished.error?.code ?? .ioError, finished.error?.message ?? "the job ended as \(finished.state.rawValue)")
            }
            return finished
        } catch let error as ServiceClientError {
            throw fail(code: error.code, error.message)
        }
    }

    /// Downloads an attachment to `path` atomically (a temporary file beside it, then a rename).
    func download(_ manifest: AttachmentManifest, to path: String) async throws {
        let temp = AtomicOutput.temporaryPath(for: path)
        do {
            guard FileManager.default.createFile(atPath: temp, contents: nil, attributes: [.posixPermissions: 0o644]) else {
                throw fail(.ioError, "cannot create \(temp)")
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temp))
            defer { try? handle.close() }
            let reply = try await client.download("/v1/attachments/\(manifest.id)", to: handle)
            if let error = reply.error { throw fail(code: error.code, error.message) }
        } catch {
            unlink(temp)
            throw error
        }
        try AtomicOutput.commit(temp, to: path)
    }
}
