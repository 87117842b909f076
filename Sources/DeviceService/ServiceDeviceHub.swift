import Attachments
import Cameras
import DeviceHub
import Foundation
import Scanning
import SignaturePads

/// The device hub of a running `counterkit serve`, over its socket: the same interface as `LocalDeviceHub`, so a
/// program (the `counterkit` CLI) behaves the same whether it opens devices itself or asks the service, which then
/// holds them. A busy device is waited for (the service queues the job); cancelling the calling task cancels the job.
public struct ServiceDeviceHub: DeviceHub {
    /// The client it speaks through.
    public let client: ServiceClient

    /// A hub over the service at `socketPath`.
    public init(socketPath: String, idleTimeout: Duration = .seconds(60)) {
        client = ServiceClient(socketPath: socketPath, idleTimeout: idleTimeout)
    }

    public var location: String { "the service at \(client.socketPath)" }

    public func devices(refresh: Bool) async throws -> DeviceList {
        try await get(refresh ? "/v1/devices?refresh=true" : "/v1/devices", DeviceList.self)
    }

    public func scanner(_ id: String) async throws -> DeviceDetail { try await get(Self.devicePath(id), DeviceDetail.self) }

    public func camera(_ id: String) async throws -> CameraDetail { try await get(Self.devicePath(id), CameraDetail.self) }

    /// A capture waits for a busy device: the service, which other programs share, queues it.
    public var queuesCaptures: Bool { true }

    public func submit(_ request: JobRequest, queue: Bool) async throws -> JobSnapshot {
        let client = self.client
        return try await translating {
            switch request {
            case let .scan(scan, document): try await client.submitScan(scan, document: document, queue: queue)
            case let .photo(photo, document): try await client.submitPhoto(photo, document: document, queue: queue)
            }
        }
    }

    public func jobs() async throws -> [JobSnapshot] {
        struct JobList: Decodable { var jobs: [JobSnapshot] }
        return try await get("/v1/jobs", JobList.self).jobs
    }

    public func job(_ id: String) async throws -> JobSnapshot { try await get("/v1/jobs/\(Self.escaped(id))", JobSnapshot.self) }

    /// Reads `GET /v1/jobs/{id}/events`; a `rows` event carries the job as the event before it showed it.
    public func jobEvents(_ id: String) async throws -> AsyncThrowingStream<JobEvent, any Error> {
        let first = try await job(id)  // an unknown job fails here, not in the stream
        return stream("/v1/jobs/\(Self.escaped(id))/events") {
            var latest = first
            let decoder = AttachmentManifest.makeDecoder()
            return { event throws -> JobEvent? in
                guard let name = JobEvent.Name(rawValue: event.name) else { return nil }
                if name == .rows { return JobEvent(name: name, job: latest, rows: try decoder.decode(LiveRowsEvent.self, from: Data(event.data.utf8))) }
                latest = try decoder.decode(JobSnapshot.self, from: Data(event.data.utf8))
                return JobEvent(name: name, job: latest)
            }
        } isFinal: {
            $0.isFinal
        }
    }

    /// `DELETE /v1/jobs/{id}`.
    public func cancelJob(_ id: String) async throws -> JobSnapshot {
        try await call("DELETE", "/v1/jobs/\(Self.escaped(id))", body: nil, JobSnapshot.self)
    }

    public func export(_ attachment: AttachmentManifest, to path: String) async throws {
        let temp = AttachmentExport.temporaryPath(for: path)
        do {
            let handle = FileHandle(fileDescriptor: try AttachmentExport.createOutput(temp).rawValue, closeOnDealloc: true)
            defer { try? handle.close() }
            let reply = try await client.download("/v1/attachments/\(attachment.id)", to: handle)
            if let error = reply.error { throw Self.error(error.code, error.message) }
            try AttachmentExport.commit(temp, to: path)
        } catch {
            unlink(temp)
            throw Self.translate(error)
        }
    }

    /// The service measures while holding the camera's lane (`POST /v1/devices/{id}/frame-rate`).
    public func measureFrameRate(_ request: PhotoRequest, duration: Duration) async throws -> FrameRateMeasurement {
        let device = try await resolvedCamera(request.device)
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return try await call("POST", Self.devicePath(device) + "/frame-rate", body: ["seconds": seconds], FrameRateMeasurement.self)
    }

    /// Reads the service's `GET /v1/devices/{id}/preview` stream.
    public func preview(_ request: PreviewRequest) async throws -> AsyncThrowingStream<PreviewFrame, any Error> {
        try request.validate()
        let device = try await resolvedCamera(request.device)
        var query: [String] = []
        if let size = request.size { query.append("size=\(size.width)x\(size.height)") }
        if let fps = request.framesPerSecond { query.append("fps=\(fps)") }
        if let quality = request.quality { query.append("quality=\(quality)") }
        let path = Self.devicePath(device) + "/preview" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        let client = self.client
        let (frames, continuation) = AsyncThrowingStream<PreviewFrame, any Error>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let reading = Task {
            do {
                let reply = try await client.parts(path) { headers, body in
                    let size = headers["x-frame-size"].flatMap(FrameSize.init(parsing:))
                    continuation.yield(
                        PreviewFrame(
                            jpeg: Data(body), width: size?.width ?? 0, height: size?.height ?? 0,
                            sequence: headers["x-frame-sequence"].flatMap(Int.init) ?? 0,
                            passthrough: headers["x-frame-passthrough"] == "true"))
                    return !Task.isCancelled
                }
                if let error = reply.error { throw Self.error(error.code, error.message) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: Self.translate(error))
            }
        }
        continuation.onTermination = { _ in reading.cancel() }
        return frames
    }

    /// The first camera the service lists when none is named.
    private func resolvedCamera(_ requested: String?) async throws -> String {
        if let requested { return requested }
        guard let first = try await devices(refresh: false).devices.first(where: { $0.kind == .camera }) else {
            throw DeviceHubError(.deviceNotFound, "no camera found")
        }
        return first.id
    }

    // MARK: Signatures

    /// The style travels as the API's `size` and `dpi` (its other drawing settings are the service's defaults).
    public func storeDocument(_ pdf: [UInt8]) async throws -> AttachmentManifest {
        let reply: ServiceClient.Reply
        do { reply = try await client.send("POST", "/v1/attachments", json: Data(pdf), contentType: "application/pdf") } catch {
            throw Self.error("service_unavailable", "no service answers at \(client.socketPath): \(error)")
        }
        if let error = reply.error { throw Self.error(error.code, error.message) }
        return try reply.decode(AttachmentManifest.self)
    }

    public func startSignature(_ request: SignatureRequest) async throws -> SignatureSessionSnapshot {
        try request.validate()
        var body: [String: Any] = ["timeout": request.timeout, "dpi": request.style.dotsPerInch]
        if let device = request.device { body["device"] = device }
        if let prompt = request.prompt { body["prompt"] = prompt }
        if let size = request.style.size { body["size"] = "\(size.width)x\(size.height)" }
        if let document = request.document {
            let placement = document.placement
            var fields: [String: Any] = ["attachment": document.attachment, "page": placement.page, "rect": placement.rect]
            if let reason = placement.reason { fields["reason"] = reason }
            if let name = placement.name { fields["name"] = name }
            if let color = placement.color { fields["color"] = color }
            body["document"] = fields
        }
        return try await call("POST", "/v1/signatures", body: body, SignatureSessionSnapshot.self)
    }

    public func signatureEvents(_ id: String) async throws -> AsyncThrowingStream<SignatureStreamEvent, any Error> {
        _ = try await signature(id, samples: false)  // an unknown session fails here, not in the stream
        return stream("/v1/signatures/\(Self.escaped(id))/events") {
            { event in try SignatureStreamEvent(name: event.name, data: Data(event.data.utf8)) }
        } isFinal: {
            $0.isFinal
        }
    }

    /// A service's event stream at `path` as a stream of elements: `makeDecoder` makes, for this one stream, what turns
    /// an event into an element (nil: an event this client skips); the stream ends after the element `isFinal` says
    /// is the last, or when the service ends it.
    private func stream<Element: Sendable>(
        _ path: String, makeDecoder: @escaping @Sendable () -> (ServiceClient.Event) throws -> Element?,
        isFinal: @escaping @Sendable (Element) -> Bool
    ) -> AsyncThrowingStream<Element, any Error> {
        let client = self.client
        return AsyncThrowingStream { continuation in
            let reading = Task {
                do {
                    let decode = makeDecoder()
                    let reply = try await client.events(path) { event in
                        guard let element = try decode(event) else { return true }
                        continuation.yield(element)
                        return !isFinal(element)
                    }
                    if let error = reply.error { throw Self.error(error.code, error.message) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: Self.translate(error))
                }
            }
            continuation.onTermination = { _ in reading.cancel() }
        }
    }

    public func signature(_ id: String, samples: Bool) async throws -> SignatureSessionSnapshot {
        try await get("/v1/signatures/\(Self.escaped(id))" + (samples ? "?samples=true" : ""), SignatureSessionSnapshot.self)
    }

    public func clearSignature(_ id: String) async throws -> SignatureSessionSnapshot {
        try await call("POST", "/v1/signatures/\(Self.escaped(id))/clear", body: nil, SignatureSessionSnapshot.self)
    }

    public func finishSignature(_ id: String) async throws -> SignatureSessionSnapshot {
        try await call("POST", "/v1/signatures/\(Self.escaped(id))/finish", body: nil, SignatureSessionSnapshot.self)
    }

    public func cancelSignature(_ id: String) async throws -> SignatureSessionSnapshot {
        try await call("DELETE", "/v1/signatures/\(Self.escaped(id))", body: nil, SignatureSessionSnapshot.self)
    }

    /// Runs `body`, its failures as CounterKit errors.
    private func translating<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw Self.translate(error) }
    }

    private func get<T: Decodable>(_ path: String, _ type: T.Type) async throws -> T {
        try await call("GET", path, body: nil, type)
    }

    private func call<T: Decodable>(_ method: String, _ path: String, body: [String: Any]?, _ type: T.Type) async throws -> T {
        do {
            let reply = try await client.send(method, path, json: try body.map { try JSONSerialization.data(withJSONObject: $0) })
            if let error = reply.error { throw Self.error(error.code, error.message) }
            return try reply.decode(type)
        } catch {
            throw Self.translate(error)
        }
    }

    private static func devicePath(_ id: String) -> String { "/v1/devices/\(escaped(id))" }

    private static func escaped(_ id: String) -> String { id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id }

    private static func error(_ code: String, _ message: String) -> DeviceHubError {
        DeviceHubError(ErrorCode(rawValue: code) ?? .internal, ErrorCode(rawValue: code) == nil ? "\(code): \(message)" : message)
    }

    /// Every failure as a CounterKit error: the service's own code, else `service_unavailable` for a socket that
    /// stopped answering.
    private static func translate(_ error: any Error) -> any Error {
        switch error {
        case let error as CounterKitError: error
        case let error as ServiceClientError: Self.error(error.code, error.message)
        case is CancellationError: DeviceHubError(.cancelled, "cancelled")
        default: DeviceHubError(.serviceUnavailable, "the service stopped answering: \(error)")
        }
    }
}
