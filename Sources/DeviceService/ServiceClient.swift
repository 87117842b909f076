import Attachments
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 client for the service's Unix socket: what the CLI uses when a service is running,
/// and what an integrator in another process can use. One connection per request.
public struct ServiceClient: Sendable {
    /// The socket path.
    public let socketPath: String
    /// The longest the service may stay silent during a request or download before it fails with the code
    /// `timeout`; nil waits as long as it takes. Event streams are exempt: they are quiet while nothing happens.
    public var idleTimeout: Duration?

    /// Creates a client for the socket at `socketPath`; `idleTimeout` bounds each silence of the service.
    public init(socketPath: String, idleTimeout: Duration? = nil) {
        self.socketPath = socketPath
        self.idleTimeout = idleTimeout
    }

    /// A response: status, headers and the whole body.
    public struct Reply: Sendable {
        /// The HTTP status code.
        public var status: Int
        /// The response headers.
        public var headers: HTTPHeaders
        /// The response body.
        public var body: [UInt8]

        /// Decodes the JSON body of a 2xx answer; any other answer throws its API error as a `ServiceClientError`.
        public func decode<T: Decodable>(_ type: T.Type) throws -> T {
            if let error { throw ServiceClientError(code: error.code, message: "HTTP \(status): \(error.message)") }
            return try AttachmentManifest.makeDecoder().decode(T.self, from: Data(body))
        }

        /// The API error in the body, when the status is not 2xx.
        public var error: (code: String, message: String)? {
            guard !(200..<300).contains(status) else { return nil }
            struct Envelope: Decodable { struct Detail: Decodable { var code: String; var message: String }; var error: Detail }
            if let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(body)) {
                return (envelope.error.code, envelope.error.message)
            }
            return ("http_\(status)", String(decoding: body, as: UTF8.self))
        }
    }

    /// One server-sent event.
    public struct Event: Sendable, Equatable {
        /// The `event:` name.
        public var name: String
        /// The `data:` lines, joined.
        public var data: String
    }

    /// Whether something accepts connections at `path` (a quick connect, no request).
    public static func isServing(at path: String) -> Bool {
        guard let fd = UnixSocket.connect(path) else { return false }
        close(fd)
        return true
    }

    /// Sends a request and collects the response; the body (`json`) goes with `contentType` (JSON by default; a PDF
    /// upload says `application/pdf`).
    public func send(
        _ method: String, _ path: String, json body: Data? = nil, headers: [(String, String)] = [], contentType: String = "application/json"
    ) async throws -> Reply {
        var reply = Reply(status: 0, headers: [:], body: [])
        try await exchange(method, path, body: body, contentType: contentType, headers: headers, idleTimeout: idleTimeout) { part in
            switch part {
            case .head(let head):
                reply.status = Int(head.status.code)
                reply.headers = head.headers
            case .body(let buffer):
                reply.body.append(contentsOf: buffer.readableBytesView)
            case .end:
                break
            }
        }
        return reply
    }

    /// Streams a response body into a file; returns the status and headers (the file holds only a 2xx body).
    public func download(_ path: String, to file: FileHandle) async throws -> Reply {
        var reply = Reply(status: 0, headers: [:], body: [])
        try await exchange("GET", path, body: nil, headers: [], idleTimeout: idleTimeout) { part in
            switch part {
            case .head(let head):
                reply.status = Int(head.status.code)
                reply.headers = head.headers
            case .body(let buffer):
                if (200..<300).contains(reply.status) {
                    try file.write(contentsOf: Data(buffer.readableBytesView))
                } else {
                    reply.body.append(contentsOf: buffer.readableBytesView)
                }
            case .end:
                break
            }
        }
        return reply
    }

    /// Reads a `text/event-stream`; `handle` returns false to stop early. Returns the reply (its body only when not 2xx).
    @discardableResult
    public func events(_ path: String, handle: (Event) throws -> Bool) async throws -> Reply {
        var reply = Reply(status: 0, headers: [:], body: [])
        var parser = EventStreamParser()
        try await exchange("GET", path, body: nil, headers: [("Accept", "text/event-stream")], idleTimeout: nil) { part in
            switch part {
            case .head(let head):
                reply.status = Int(head.status.code)
                reply.headers = head.headers
            case .body(let buffer):
                guard (200..<300).contains(reply.status) else { reply.body.append(contentsOf: buffer.readableBytesView); return }
                parser.append(buffer.readableBytesView)
                while let event = parser.next() {
                    if try !handle(event) { throw StopReading() }
                }
            case .end:
                break
            }
        }
        return reply
    }

    /// Reads a `multipart/x-mixed-replace` stream (a camera preview): `handle` gets each part's headers (names in
    /// lowercase) and body, and returns false to stop. Returns the reply (its body only when not 2xx).
    @discardableResult
    public func parts(_ path: String, handle: ([String: String], [UInt8]) throws -> Bool) async throws -> Reply {
        var reply = Reply(status: 0, headers: [:], body: [])
        var pending: [UInt8] = []
        var delimiter: [UInt8] = []
        try await exchange("GET", path, body: nil, headers: [], idleTimeout: idleTimeout) { part in
            switch part {
            case .head(let head):
                reply.status = Int(head.status.code)
                reply.headers = head.headers
                let type = head.headers.first(name: "Content-Type") ?? ""
                if let range = type.range(of: "boundary=") { delimiter = Array(("--" + type[range.upperBound...]).utf8) }
            case .body(let buffer):
                guard (200..<300).contains(reply.status), !delimiter.isEmpty else { reply.body.append(contentsOf: buffer.readableBytesView); return }
                pending.append(contentsOf: buffer.readableBytesView)
                while let (headers, body, used) = MultipartParser.nextPart(pending, delimiter: delimiter) {
                    pending.removeFirst(used)
                    if try !handle(headers, body) { throw StopReading() }
                }
            case .end:
                break
            }
        }
        return reply
    }

    private struct StopReading: Error {}

    private func exchange(
        _ method: String, _ path: String, body: Data?, contentType: String = "application/json", headers: [(String, String)], idleTimeout: Duration?,
        _ handle: (HTTPClientResponsePart) throws -> Void
    ) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(unixDomainSocketPath: socketPath) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        let watchdog = idleTimeout.map { SilenceWatchdog(channel: channel.channel, limit: $0) }
        watchdog?.restart()
        defer { watchdog?.stop() }
        do {
            try await channel.executeThenClose { inbound, outbound in
                var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
                head.headers.add(name: "Host", value: "localhost")
                head.headers.add(name: "Connection", value: "close")
                if let body {
                    head.headers.add(name: "Content-Type", value: contentType)
                    head.headers.add(name: "Content-Length", value: String(body.count))
                }
                for (name, value) in headers { head.headers.add(name: name, value: value) }
                // One write for the whole request: a fast answer (and the close that follows it) cannot land
                // between the body and the end of the request and fail the last write on a closed channel.
                var parts: [HTTPClientRequestPart] = [.head(head)]
                if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                parts.append(.end(nil))
                try await outbound.write(contentsOf: parts)
                for try await part in inbound {
                    watchdog?.restart()
                    try handle(part)
                    if case .end = part { return }
                }
            }
        } catch is StopReading {
            return
        } catch {
            if let watchdog, watchdog.fired {
                throw ServiceClientError(code: "timeout", message: "the service said nothing for \(watchdog.limit) during \(method) \(path)")
            }
            throw error
        }
    }
}

/// Closes a client connection when the service stays silent for longer than `limit`.
private final class SilenceWatchdog: Sendable {
    let channel: any Channel
    let limit: Duration
    private let state = NIOLockedValueBox<(task: Scheduled<Void>?, fired: Bool)>((nil, false))

    init(channel: any Channel, limit: Duration) {
        self.channel = channel
        self.limit = limit
    }

    /// Whether the limit passed and the connection was closed.
    var fired: Bool { state.withLockedValue { $0.fired } }

    /// Starts (or starts again) the silence clock.
    func restart() {
        let channel = self.channel
        let next = channel.eventLoop.scheduleTask(in: TimeAmount(limit)) { [state] in
            state.withLockedValue { $0.fired = true }
            channel.close(promise: nil)
        }
        state.withLockedValue {
            $0.task?.cancel(); $0.task = next
        }
    }

    /// Stops the clock.
    func stop() {
        state.withLockedValue {
            $0.task?.cancel(); $0.task = nil
        }
    }
}
