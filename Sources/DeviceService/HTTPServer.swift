import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix

/// The per-request context: Hummingbird's core storage plus who is asking.
public struct ServiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's credentials (nil over TCP).
    public var peer: PeerCredentials?
    /// The local TCP port the request came in on; nil on a Unix socket. TCP requests go through the loopback bridge.
    public var tcpPort: Int?

    /// Request bodies above this many bytes are refused with 413 (`ServiceLimits.maxRequestBytes`).
    public var maxRequestBytes: Int

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.peer = nil
        self.tcpPort = nil
        self.maxRequestBytes = ServiceLimits().maxRequestBytes
    }

    /// The body limit Hummingbird applies: `maxRequestBytes`.
    public var maxUploadSize: Int { maxRequestBytes }
}

/// An HTTP/1.1 child channel that reads the peer's credentials once, when the connection opens,
/// and hands them to every request on it.
struct PeerAwareHTTP1Channel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let http: HTTP1Channel
        let inner: HTTP1Channel.Value
        var channel: any Channel { inner.channel }
    }

    let configuration: HTTP1Channel.Configuration
    let makeResponder: @Sendable (PeerCredentials?) -> HTTPChannelHandler.Responder
    let connections: ConnectionCount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let admitted = connections.open()
        channel.closeFuture.whenComplete { [connections] _ in connections.close() }
        // Past the limit a connection is still answered, briefly: each request gets 503 and the connection closes.
        let http =
            admitted
            ? HTTP1Channel(responder: makeResponder(PeerCredentials.read(from: channel)), configuration: configuration)
            : HTTP1Channel(responder: Self.refuse(limit: connections.limit), configuration: .init(idleTimeout: .seconds(5)))
        return http.setup(channel: channel, logger: logger).map { Value(http: http, inner: $0) }
    }

    /// Answers 503 `too_many_connections` and closes the connection.
    static func refuse(limit: Int) -> HTTPChannelHandler.Responder {
        { _, writer, _ in
            let body = APIError.body(
                code: .tooManyConnections,
                message: "the service already has \(limit) connections open; close idle ones or retry shortly")
            let head = HTTPResponse(
                status: .serviceUnavailable,
                headerFields: [.contentType: "application/json", .connection: "close", .retryAfter: "1"])
            try await writer.write(response: head, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }

    func handle(value: Value, logger: Logger) async {
        await value.http.handle(value: value.inner, logger: logger)
    }
}

/// Open connections, against the limit of served ones.
final class ConnectionCount: Sendable {
    let limit: Int
    private let count = NIOLockedValueBox(0)

    init(limit: Int) { self.limit = limit }

    /// Counts a new connection; false when it is beyond the limit.
    func open() -> Bool {
        count.withLockedValue {
            $0 += 1; return $0 <= limit
        }
    }

    /// Counts a connection gone.
    func close() { count.withLockedValue { $0 -= 1 } }
}

/// Serves a responder on listening sockets until the calling task is cancelled.
struct HTTPServer: Sendable {
    let responder: RouterResponder<ServiceRequestContext>
    let limits: ServiceLimits
    let logger: Logger

    /// What a listener ended up bound to (the port is known only after binding port 0).
    enum Bound: Sendable, Equatable {
        case unixSocket(String)
        case inherited(Int32)
        case tcp(host: String, port: Int)
    }

    /// Binds every address, calls `onListening` once all accept connections, then serves until the calling
    /// task is cancelled. Shutdown is graceful: listeners close, each connection finishes its current
    /// request and closes, and every accepted connection is handled (none is dropped unanswered).
    func run(
        _ addresses: [ListenAddress], permissions: SocketPermissions,
        onListening: @escaping @Sendable ([Bound]) -> Void
    ) async throws {
        let child = PeerAwareHTTP1Channel(
            configuration: .init(idleTimeout: .seconds(Int64(limits.idleTimeoutSeconds))),
            makeResponder: { peer in self.makeResponder(peer: peer) },
            connections: ConnectionCount(limit: limits.maxConnections))
        // One quiescing helper per listener: each tracks one server channel and its connections.
        var quiescing: [ServerQuiescingHelper] = []
        var channels: [(NIOAsyncChannel<PeerAwareHTTP1Channel.Value, Never>, Bound)] = []
        do {
            for address in addresses {
                let helper = ServerQuiescingHelper(group: MultiThreadedEventLoopGroup.singleton)
                channels.append(try await bind(address, permissions: permissions, child: child, quiescing: helper))
                quiescing.append(helper)
            }
        } catch {
            for (channel, _) in channels {
                try? await channel.executeThenClose { _ in }
            }
            throw error
        }
        onListening(channels.map(\.1))
        let logger = self.logger
        let servers = channels.map(\.0)
        // The accept loops run in their own task so that cancelling the caller does not abandon connections
        // already accepted; cancellation instead starts the quiescing shutdown, which ends the loops.
        let serving = Task {
            await withDiscardingTaskGroup { group in
                for server in servers {
                    group.addTask {
                        await withDiscardingTaskGroup { connections in
                            do {
                                try await server.executeThenClose { inbound in
                                    for try await connection in inbound {
                                        connections.addTask { await child.handle(value: connection, logger: logger) }
                                    }
                                }
                            } catch {
                                logger.error("listener stopped: \(error)")
                            }
                        }
                    }
                }
            }
        }
        await withTaskCancellationHandler {
            await serving.value
        } onCancel: { [quiescing] in
            for helper in quiescing { helper.initiateShutdown(promise: nil) }
        }
        for case (_, .unixSocket(let path)) in channels { unlink(path) }
    }

    private func bind(
        _ address: ListenAddress, permissions: SocketPermissions, child: PeerAwareHTTP1Channel,
        quiescing: ServerQuiescingHelper
    ) async throws -> (NIOAsyncChannel<PeerAwareHTTP1Channel.Value, Never>, Bound) {
        let maxConnections = limits.acceptedConnections
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Beyond the limit, connections wait in the kernel's backlog instead of being accepted.
                    try channel.pipeline.syncOperations.addHandler(
                        AvailableConnectionsChannelHandler(maxConnections: maxConnections))
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        let logger = self.logger
        let initializer: @Sendable (any Channel) -> EventLoopFuture<PeerAwareHTTP1Channel.Value> = {
            child.setup(channel: $0, logger: logger)
        }
        switch address {
        case .unixSocket(let path):
            let fd = try UnixSocketFactory.listen(path: path, permissions: permissions)
            do {
                return (try await bootstrap.bind(fd, childChannelInitializer: initializer), .unixSocket(path))
            } catch {
                unlink(path)
                throw error
            }
        case .inherited(let fd):
            guard UnixSocketFactory.isListeningSocket(fd) else {
                throw ServiceSetupError("file descriptor \(fd) from systemd is not a listening socket")
            }
            return (try await bootstrap.bind(fd, childChannelInitializer: initializer), .inherited(fd))
        case .tcp(let host, let port):
            let channel = try await bootstrap.bind(host: host, port: port, childChannelInitializer: initializer)
            return (channel, .tcp(host: host, port: channel.channel.localAddress?.port ?? port))
        }
    }

    /// Turns a request into a response through the router; whatever escapes becomes a JSON 500, logged.
    private func makeResponder(peer: PeerCredentials?) -> HTTPChannelHandler.Responder {
        let responder = self.responder
        let logger = self.logger
        let maxRequestBytes = limits.maxRequestBytes
        return { request, writer, channel in
            var context = ServiceRequestContext(source: .init(channel: channel, logger: logger))
            context.peer = peer
            context.tcpPort = channel.localAddress?.port
            context.maxRequestBytes = maxRequestBytes
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch let error as HTTPParserError {
                throw error
            } catch {
                logger.error("unhandled error for \(request.method) \(request.uri.path): \(error)")
                response = Response(
                    status: .internalServerError, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: APIError.body(code: .internal, message: "internal error"))))
            }
            try await writer.write(response: response.head, body: response.body)
        }
    }
}
