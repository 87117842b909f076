import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SwiftASN1

/// An RFC 3161 time-stamping authority reached over HTTP (`[seal] tsa = URL`): it countersigns a PDF signature's value
/// with its own clock, making the signature PAdES B-T. Requests are `application/timestamp-query` (SHA-256 imprint, a
/// nonce, the TSA's certificate asked for); a reply that is not granted, names another imprint or nonce, or does not
/// come within the timeout is `timestamp_unavailable`.
public struct TimestampAuthority: Sendable {
    /// The TSA's URL (`http://…`).
    public let url: String
    /// How long a request may take.
    public var timeout: Duration

    private let host: String
    private let port: Int
    private let path: String

    /// A TSA at `url` (`http://host[:port]/path`); `invalid_value` for another scheme.
    public init(url: String, timeout: Duration = .seconds(15)) throws(DocumentError) {
        guard let parsed = URL(string: url), parsed.scheme == "http", let host = parsed.host, !host.isEmpty else {
            throw DocumentError(.invalidValue, "the TSA must be an http:// URL (RFC 3161 over HTTP), got '\(url)'")
        }
        self.url = url
        self.timeout = timeout
        self.host = host
        port = parsed.port ?? 80
        path = parsed.path.isEmpty ? "/" : parsed.path + (parsed.query.map { "?\($0)" } ?? "")
    }

    static let idTimestampToken: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 9, 16, 2, 14]

    /// The TSA's token (a CMS ContentInfo, DER) over the SHA-256 of `data`.
    public func token(for data: [UInt8]) throws(DocumentError) -> [UInt8] {
        let imprint = Array(SHA256.hash(data: data))
        var nonceBytes = [UInt8](repeating: 0, count: 8)
        for index in nonceBytes.indices { nonceBytes[index] = UInt8.random(in: 0...255) }
        nonceBytes[0] &= 0x7F
        nonceBytes[0] |= 0x01  // positive, eight bytes long
        var request = DER.Serializer()
        do {
            try request.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(1)
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    try coder.appendConstructedNode(identifier: .sequence) { coder in try coder.serialize(CAdESSignedData.sha256) }
                    try coder.serialize(ASN1OctetString(contentBytes: ArraySlice(imprint)))
                }
                try coder.serialize(ArraySlice(nonceBytes))
                try coder.serialize(true)  // certReq: the TSA's certificate in the token
            }
        } catch {
            throw DocumentError(.internal, "the timestamp request cannot be encoded: \(error)")
        }
        let reply = try post(request.serializedBytes)
        // TimeStampResp ::= SEQUENCE { status PKIStatusInfo { status INTEGER, … }, timeStampToken ContentInfo OPTIONAL }
        let token: [UInt8]
        do {
            let length = DocumentVerifier.firstValueLength(reply)
            token = try DER.sequence(try DER.parse(Array(reply.prefix(length))), identifier: .sequence) { nodes in
                guard let statusInfo = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "no status") }
                let status = try DER.sequence(statusInfo, identifier: .sequence) { fields in
                    let value = try Int(derEncoded: &fields)
                    while fields.next() != nil {}
                    return value
                }
                guard status == 0 || status == 1 else { throw DocumentError(.timestampUnavailable, "the TSA at \(url) refused the request (status \(status))") }
                guard let token = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "no token") }
                return Array(token.encodedBytes)
            }
        } catch let error as DocumentError {
            throw error
        } catch {
            throw DocumentError(.timestampUnavailable, "the TSA at \(url) answered with something that is not a timestamp reply: \(error)")
        }
        // The token's TSTInfo names our imprint and nonce (the TSA's signature over it is what verifiers check).
        guard token.containsSubsequence([0x04, 0x20] + imprint), token.containsSubsequence([0x02, 0x08] + nonceBytes) else {
            throw DocumentError(.timestampUnavailable, "the TSA at \(url) answered with a token for another request")
        }
        return token
    }

    /// POSTs `body` to the TSA and returns the reply's body; `timestamp_unavailable` when there is none within the timeout.
    private func post(_ body: [UInt8]) throws(DocumentError) -> [UInt8] {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: [UInt8].self)
        let collector = ReplyCollector(promise: promise)
        let host = self.host, path = self.path
        let connected = ClientBootstrap(group: group)
            .connectTimeout(.seconds(Int64(max(1, timeout.components.seconds))))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: host, port: port)
        connected.whenSuccess { channel in
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
            head.headers.add(name: "Host", value: host)
            head.headers.add(name: "Content-Type", value: "application/timestamp-query")
            head.headers.add(name: "Accept", value: "application/timestamp-reply")
            head.headers.add(name: "Content-Length", value: String(body.count))
            head.headers.add(name: "Connection", value: "close")
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            let limit = TimeAmount.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
            let deadline = channel.eventLoop.scheduleTask(in: limit) {
                collector.complete(.failure(DocumentError(.timestampUnavailable, "the TSA at \(self.url) did not answer within \(self.timeout)")))
                channel.close(promise: nil)
            }
            promise.futureResult.whenComplete { _ in
                deadline.cancel()
                channel.close(promise: nil)
            }
        }
        connected.whenFailure { error in collector.complete(.failure(error)) }
        do {
            return try promise.futureResult.wait()
        } catch let error as DocumentError {
            throw error
        } catch {
            throw DocumentError(.timestampUnavailable, "the TSA at \(url) cannot be reached: \(error)")
        }
    }
}

/// Gathers an HTTP reply's body; fails on a status other than 200 or a connection that ends first.
private final class ReplyCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    // Used on the channel's event loop only.
    private let promise: EventLoopPromise<[UInt8]>
    private var status: HTTPResponseStatus?
    private var body: [UInt8] = []
    private var done = false

    init(promise: EventLoopPromise<[UInt8]>) { self.promise = promise }

    /// Completes the promise once; later outcomes (a close after the reply) are ignored.
    func complete(_ result: Result<[UInt8], any Error>) {
        promise.futureResult.eventLoop.execute { [self] in
            guard !done else { return }
            done = true
            promise.completeWith(result)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = head.status
        case .body(let buffer): body += buffer.readableBytesView
        case .end:
            if status == .ok {
                complete(.success(body))
            } else {
                complete(.failure(DocumentError(.timestampUnavailable, "the TSA answered HTTP \(status.map { String($0.code) } ?? "nothing")")))
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        complete(.failure(error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        complete(.failure(DocumentError(.timestampUnavailable, "the TSA closed the connection before it answered")))
    }
}
