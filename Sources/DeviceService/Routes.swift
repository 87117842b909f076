import Attachments
import Audit
import Cameras
import DeviceHub
import DocumentImaging
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Scanning

/// The `/v1` routes. Each handler is thin: it parses, asks the device hub or the store, and renders.
struct Routes: Sendable {
    let core: ServiceCore

    var hub: LocalDeviceHub { core.hub }

    func register(on router: Router<ServiceRequestContext>) {
        router.get("/v1/health") { _, _ in try json(core.health()) }
        router.get("/v1/diagnostics") { _, _ in try json(await core.diagnostics()) }
        router.get("/v1/devices") { request, _ in try await json(hub.devices(refresh: try flag(request, "refresh"))) }
        router.get("/v1/devices/{id}") { _, context in
            let id = try parameter(context, "id")
            // A camera's form of id is answered as a camera (an unknown one is "no camera", not "no scanner").
            let camera = DeviceKind(guessingFrom: id) == .camera ? true : await hub.isCamera(id)
            if camera { return try json(try await hub.camera(id)) }
            return try json(try await hub.scanner(id))
        }
        router.post("/v1/devices/{id}/frame-rate") { request, context in
            let id = try parameter(context, "id")
            let body = try await jsonBody(request, context)
            let duration = try StrictJSON.decode(FrameRateRequest.self, from: body).duration()
            return try json(try await hub.measureFrameRate(PhotoRequest(device: id), duration: duration))
        }

        router.get("/v1/devices/{id}/preview") { request, context in
            let id = try parameter(context, "id")
            let preview = try PreviewResponse.request(request, device: id)
            let (stream, frames) = try await hub.watchPreview(preview)
            return PreviewResponse.response(frames, size: stream.size, pixelFormat: stream.pixelFormat)
        }

        router.post("/v1/scans") { request, context in
            let body = try await jsonBody(request, context)
            let decoded = try StrictJSON.decode(ScanJobRequest.self, from: body)
            let scan = try decoded.scanRequest(), document = try decoded.document?.options()
            let queue = try flag(request, "queue"), wait = try flag(request, "wait")
            return try await jobResponse(try await hub.submit(.scan(scan, document: document), queue: queue), wait: wait)
        }
        router.post("/v1/photos") { request, context in
            let body = try await jsonBody(request, context)
            let decoded = try StrictJSON.decode(PhotoJobRequest.self, from: body)
            let photo = try decoded.photoRequest(), document = try decoded.document?.options()
            let queue = try flag(request, "queue"), wait = try flag(request, "wait")
            return try await jobResponse(try await hub.submit(.photo(photo, document: document), queue: queue), wait: wait)
        }

        router.post("/v1/documents/idcard") { request, context in
            let body = try await jsonBody(request, context)
            let card = try StrictJSON.decode(IDCardJobRequest.self, from: body)
            let format = try StrictJSON.choice(card.format, "format", DocumentFileFormat.self) ?? .pdf
            let quality = try StrictJSON.integer(card.quality, "quality") ?? 90
            guard (1...100).contains(quality) else { throw APIError(.invalidValue, "'quality' must be 1…100, got \(quality)") }
            let maxBytes = try StrictJSON.integer(card.maxBytes, "maxBytes")
            if let maxBytes, maxBytes < 1024 { throw APIError(.invalidValue, "'maxBytes' must be at least 1024, got \(maxBytes)") }
            let manifest = try await hub.composeIDCard(
                front: card.front, back: card.back, format: format, dpi: card.dpi ?? 300,
                quality: quality, maxBytes: maxBytes)
            var response = try json(manifest, status: .created)
            response.headers[.location] = "/v1/attachments/\(manifest.id)"
            return response
        }

        router.post("/v1/signatures") { request, context in
            let body = try await jsonBody(request, context)
            let session = try await hub.startSignature(try StrictJSON.decode(SignatureJobRequest.self, from: body).signatureRequest())
            var response = try json(session, status: .created)
            response.headers[.location] = "/v1/signatures/\(session.id)"
            return response
        }
        router.get("/v1/signatures/{id}") { request, context in
            try json(try await hub.signature(try parameter(context, "id"), samples: try flag(request, "samples")))
        }
        router.get("/v1/signatures/{id}/events") { _, context in
            let events = try await hub.signatureEvents(try parameter(context, "id"))
            return ServerSentEvents.response(events) { try $0.encoded() }
        }
        router.post("/v1/signatures/{id}/clear") { _, context in try json(try await hub.clearSignature(try parameter(context, "id"))) }
        router.post("/v1/signatures/{id}/finish") { _, context in try json(try await hub.finishSignature(try parameter(context, "id"))) }
        router.delete("/v1/signatures/{id}") { _, context in try json(try await hub.cancelSignature(try parameter(context, "id"))) }

        router.get("/v1/jobs") { _, _ in try json(JobList(jobs: await hub.jobs())) }
        router.get("/v1/jobs/{id}") { _, context in try json(try await hub.job(try parameter(context, "id"))) }
        router.delete("/v1/jobs/{id}") { _, context in
            // 202 while the job is still stopping; 200 with its final state once it has ended (again and again).
            let job = try await hub.cancelJob(try parameter(context, "id"))
            return try json(job, status: job.state == .cancelling ? .accepted : .ok)
        }
        router.get("/v1/jobs/{id}/events") { _, context in
            let events = try await hub.jobEvents(try parameter(context, "id"))
            return ServerSentEvents.response(events)
        }

        router.post("/v1/attachments") { request, context in
            let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/pdf" else {
                throw APIError(
                    .unsupportedMediaType,
                    "POST /v1/attachments takes a PDF to be signed, with Content-Type: application/pdf" + (type.map { "; got \($0)" } ?? ""))
            }
            let limit = core.limits.maxUploadBytes
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: limit) } catch is NIOTooManyBytesError {
                throw APIError(.bodyTooLarge, "a document to sign is at most \(limit) bytes (max-upload-mb in the configuration)")
            }
            guard body.readableBytes > 0 else { throw APIError(.invalidDocument, "the request has no document: send the PDF as the body") }
            let manifest = try await core.storeUpload(Array(buffer: body))
            var response = try json(manifest, status: .created)
            response.headers[.location] = "/v1/attachments/\(manifest.id)"
            return response
        }
        router.get("/v1/attachments") { _, _ in try json(AttachmentList(attachments: try await core.listedAttachments())) }
        router.get("/v1/attachments/{id}") { request, context in
            let manifest = try core.manifest(parameter(context, "id"))
            try core.requirePlaintext(manifest.id)
            try await core.requireIntact(manifest.id)
            var detail = requester(request, context)
            if let range = request.headers[.range] { detail["range"] = range }
            await core.audit(.download, attachment: manifest.id, detail: detail)
            return try await AttachmentResponses.file(manifest, store: core.store, request: request, context: context)
        }
        router.get("/v1/attachments/{id}/manifest") { _, context in
            // The stored bytes themselves: what the signature covers.
            let id = try core.manifest(parameter(context, "id")).id
            return AttachmentResponses.json(try await core.onDeviceThread { () throws(AttachmentError) in try core.store.manifestBytes(id: id) })
        }
        router.get("/v1/attachments/{id}/sealed") { request, context in
            let manifest = try core.manifest(parameter(context, "id"))
            let sealed = try core.store.envelopeURL(id: manifest.id)
            try await core.requireIntact(manifest.id)
            var detail = requester(request, context)
            detail["copy"] = "sealed"
            await core.audit(.download, attachment: manifest.id, detail: detail)
            return try await AttachmentResponses.envelope(manifest, path: sealed.path, context: context)
        }
        router.get("/v1/attachments/{id}/signature") { _, context in
            let id = try core.manifest(parameter(context, "id")).id
            return AttachmentResponses.json(try await core.onDeviceThread { () throws(AttachmentError) in try core.store.signatureBytes(id: id) })
        }
        router.delete("/v1/attachments/{id}") { request, context in
            let id = try core.manifest(parameter(context, "id")).id
            try core.store.delete(id: id, detail: requester(request, context))
            return Response(status: .noContent)
        }

        router.get("/v1/seal/certificate") { _, _ in
            guard let pem = core.certificateChainPEM else {
                throw APIError(
                    .notFound,
                    "no certificate chain is configured for the counter key ([seal] certificate, serve --seal-certificate, or seal.crt beside the key)")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/pem-certificate-chain"], body: .init(byteBuffer: ByteBuffer(string: pem)))
        }
        router.get("/v1/audit") { request, _ in
            guard let audit = core.audit else {
                throw APIError(.notFound, "there is no audit log: it is kept when the spool is sealed ([seal] key, serve --seal-key)")
            }
            let since: Int
            if let text = request.uri.queryParameters["since"] {
                guard let number = Int(text), number >= 0 else { throw APIError(.invalidValue, "?since must be an entry number (0 or more), got '\(text)'") }
                since = number
            } else {
                since = 0
            }
            let (lines, head) = try await core.onDeviceThread { () throws(AttachmentError) in try audit.snapshot(since: since) }
            var body: [UInt8] = []
            for line in lines { body += line + [UInt8(ascii: "\n")] }
            return Response(
                status: .ok,
                headers: [.contentType: "application/x-ndjson", HTTPField.Name("CounterKit-Audit-Head")!: "\(head.seq) \(head.sha256)"],
                body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("/v1/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: core.metrics.render())))
        }
    }
}

extension Routes {
    /// 202 with the job and its Location, or with `?wait=true` 200 and the finished job.
    func jobResponse(_ job: JobSnapshot, wait: Bool) async throws -> Response {
        if wait { return try json(try await hub.waitUntilFinished(job.id)) }
        var response = try json(job, status: .accepted)
        response.headers[.location] = "/v1/jobs/\(job.id)"
        return response
    }
}

struct JobList: Codable, Sendable { var jobs: [JobSnapshot] }
struct AttachmentList: Codable, Sendable { var attachments: [ListedAttachment] }

/// A manifest in a listing, with whether its files are still as committed.
@dynamicMemberLookup
struct ListedAttachment: Codable, Sendable, Equatable {
    var manifest: AttachmentManifest
    var integrity: AttachmentIntegrity
    /// For attachments sealed one-way: whether only the envelope is left (the plaintext retention ended).
    var sealedOnly: Bool?

    init(manifest: AttachmentManifest, integrity: AttachmentIntegrity, sealedOnly: Bool? = nil) {
        self.manifest = manifest
        self.integrity = integrity
        self.sealedOnly = sealedOnly
    }

    subscript<T>(dynamicMember path: KeyPath<AttachmentManifest, T>) -> T { manifest[keyPath: path] }

    private enum Keys: String, CodingKey { case integrity, sealedOnly }

    init(from decoder: any Decoder) throws {
        manifest = try AttachmentManifest(from: decoder)
        let container = try decoder.container(keyedBy: Keys.self)
        integrity = try container.decode(AttachmentIntegrity.self, forKey: .integrity)
        sealedOnly = try container.decodeIfPresent(Bool.self, forKey: .sealedOnly)
    }

    func encode(to encoder: any Encoder) throws {
        try manifest.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(integrity, forKey: .integrity)
        try container.encodeIfPresent(sealedOnly, forKey: .sealedOnly)
    }
}
