import CounterKitTestSupport
import Foundation
import Testing

@testable import DeviceService

@Suite("Bad requests and abusive clients")
struct ErrorTests {
    /// Each bad request gets its status and stable code in the JSON error body; none is a 5xx.
    @Test("every request error has its status and code")
    func requestErrors() async throws {
        let service = try await RunningService.start()
        let cases: [(method: String, path: String, body: String?, status: Int, code: String)] = [
            ("POST", "/v1/scans", "{\"resolution\":", 400, "invalid_json"),
            ("POST", "/v1/scans", "[1,2]", 400, "invalid_json"),
            ("POST", "/v1/scans", #"{"colour":"red"}"#, 400, "unknown_field"),
            ("POST", "/v1/scans", #"{"area":{"x":0,"y":0,"width":10,"height":10,"depth":3}}"#, 400, "unknown_field"),
            ("POST", "/v1/scans", #"{"resolution":"high"}"#, 400, "invalid_type"),
            ("POST", "/v1/scans", #"{"quality":85.5}"#, 400, "invalid_type"),
            ("POST", "/v1/scans", #"{"options":{"mode":[1]}}"#, 400, "invalid_type"),
            ("POST", "/v1/scans", #"{"mode":"sepia"}"#, 400, "invalid_value"),
            ("POST", "/v1/scans", #"{"resolution":-5}"#, 400, "invalid_value"),
            ("POST", "/v1/scans", #"{"quality":0}"#, 400, "invalid_value"),
            ("POST", "/v1/scans", #"{"paper":"B5"}"#, 400, "invalid_value"),
            ("POST", "/v1/scans", #"{"area":{"x":0,"y":0,"width":0,"height":10}}"#, 400, "invalid_value"),
            ("POST", "/v1/scans", #"{"area":{"x":0}}"#, 400, "invalid_value"),
            ("POST", "/v1/scans", #"{"device":""}"#, 400, "invalid_value"),
            ("POST", "/v1/scans", #"{"maxPages":0}"#, 400, "invalid_value"),
            ("POST", "/v1/scans?wait=maybe", "{}", 400, "invalid_value"),
            ("POST", "/v1/scans", #"{"device":"nonesuch:3"}"#, 404, "device_not_found"),
            ("GET", "/v1/jobs/not-a-job", nil, 404, "job_not_found"),
            ("DELETE", "/v1/jobs/not-a-job", nil, 404, "job_not_found"),
            ("GET", "/v1/jobs/not-a-job/events", nil, 404, "job_not_found"),
            ("GET", "/v1/attachments/..%2F..%2Fetc%2Fpasswd", nil, 404, "not_found"),
            ("GET", "/v1/attachments/00000000-0000-0000-0000-000000000000/manifest", nil, 404, "not_found"),
            ("DELETE", "/v1/attachments/nope", nil, 404, "not_found"),
            ("GET", "/v1/nothing-here", nil, 404, "not_found"),
            ("PUT", "/v1/scans", "{}", 405, "method_not_allowed"),
            ("TRACE", "/v1/jobs/not-a-job", nil, 405, "method_not_allowed"),
            ("POST", "/v1/scans", #"{"device":null}"#, 400, "invalid_type"),
            ("POST", "/v1/scans", #"{"maxPages":10001}"#, 400, "invalid_value"),
            ("POST", "/v1/photos", #"{"size":"+640x480"}"#, 400, "invalid_value"),
        ]
        for entry in cases {
            let reply = try await service.client.send(entry.method, entry.path, json: entry.body.map { Data($0.utf8) })
            #expect(reply.status == entry.status, "\(entry.method) \(entry.path) \(entry.body ?? "")")
            #expect(reply.error?.code == entry.code, "\(entry.method) \(entry.path) \(entry.body ?? ""): \(reply.error?.message ?? "")")
            #expect(reply.headers.first(name: "Content-Type") == "application/json")
        }
        // A path that exists with another method says which methods it has.
        #expect(try await service.client.send("PUT", "/v1/scans").headers.first(name: "Allow") == "POST")
        #expect(try await service.client.send("POST", "/v1/jobs/x").headers.first(name: "Allow") == "GET, DELETE")
        #expect(try await service.get("/v1/health").status == 200)
        try await service.stop()
    }

    @Test("a body over 1 MiB is refused with 413 body_too_large")
    func oversizedBody() async throws {
        let service = try await RunningService.start()
        let padding = String(repeating: " ", count: ServiceLimits().maxRequestBytes + 10)
        let reply = try await service.post("/v1/scans", "{\"device\":\"test:0\"\(padding)}")
        #expect(reply.status == 413)
        #expect(reply.error?.code == "body_too_large")
        #expect(try await service.get("/v1/health").status == 200)
        try await service.stop()
    }

    @Test("configured limits: request size, store size and connections each give their clear error, never a hang")
    func configuredLimits() async throws {
        var limits = ServiceLimits(maxConnections: 2, maxRequestBytes: 1024, maxStoreBytes: 1)
        limits.idleTimeoutSeconds = 30
        let service = try await RunningService.start(limits: limits)

        let big = try await service.post("/v1/scans", "{\"device\":\"test:0\"\(String(repeating: " ", count: 2048))}")
        #expect(big.status == 413)
        #expect(big.error?.code == "body_too_large" && big.error?.message.contains("1024 bytes") == true, "\(String(describing: big.error))")

        // The store starts empty (0 < 1 byte): one capture fits, the next finds it full until something is deleted.
        let first = try service.job(try await service.post("/v1/scans?wait=true", #"{"device":"test:0","resolution":50}"#))
        #expect(first.state == .completed)
        let full = try await service.post("/v1/scans", #"{"device":"test:0","resolution":50}"#)
        #expect(full.status == 507)
        #expect(full.error?.code == "store_full")
        let photo = try await service.post("/v1/photos", #"{}"#)
        #expect(photo.error?.code == "store_full")
        let attachment = try #require(first.attachments.first)
        #expect(try await service.delete("/v1/attachments/\(attachment.id)").status == 204)
        #expect(try service.job(try await service.post("/v1/scans?wait=true", #"{"device":"test:0","resolution":50}"#)).state == .completed)

        // Two idle connections take the limit; a third is answered 503 at once, and served again once one closes.
        let held = try (0..<2).map { _ in try #require(UnixSocket.connect(service.socket)) }
        #expect(
            try await eventually(within: .seconds(5), every: .milliseconds(50)) {
                String(decoding: try await rawExchange(service.socket, Array("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n".utf8)), as: UTF8.self)
                    .contains("too_many_connections")
            })
        let refused = String(decoding: try await rawExchange(service.socket, Array("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n".utf8)), as: UTF8.self)
        #expect(refused.hasPrefix("HTTP/1.1 503") && refused.lowercased().contains("retry-after: 1"), "\(refused)")
        close(held[0])
        #expect(try await eventually(within: .seconds(5), every: .milliseconds(50)) { try await service.get("/v1/health").status == 200 })
        close(held[1])
        try await service.stop()
    }

    @Test("configured limits: queued jobs per device and event subscribers are refused with 429 at once")
    func queueAndSubscriberLimits() async throws {
        let service = try await RunningService.start(limits: ServiceLimits(maxQueuedJobsPerDevice: 1, maxEventSubscribers: 1))
        // Slow enough to be still running when the streams below subscribe, even on a loaded machine (a finished job's
        // stream takes no subscriber place).
        let slower = #"{"device":"test:0","resolution":300,"options":{"read-delay":true,"read-delay-duration":200000}}"#
        let running = try service.job(try await service.post("/v1/scans", slower))
        let queued = try service.job(try await service.post("/v1/scans?queue=true", slowScan))
        #expect(queued.state == .queued)
        let refused = try await service.post("/v1/scans?queue=true", slowScan)
        #expect(refused.status == 429)
        #expect(refused.error?.code == "queue_full")

        // One stream held open takes the only subscriber place; the next is refused at once, not kept waiting.
        guard let held = UnixSocket.connect(service.socket) else { throw TimeoutError(what: "connect") }
        defer { close(held) }
        let request = Array("GET /v1/jobs/\(running.id)/events HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(held, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var second: ServiceClient.Reply?
        #expect(
            try await eventually(within: .seconds(5), every: .milliseconds(50)) {
                second = try await service.client.events("/v1/jobs/\(running.id)/events") { _ in false }
                return second?.status == 429
            })
        #expect(second?.error?.code == "too_many_subscribers")

        for job in [running, queued] { _ = try await service.delete("/v1/jobs/\(job.id)") }
        try await service.stop()
    }

    @Test("configured limits: a connection that sends nothing is closed after the idle timeout")
    func idleTimeout() async throws {
        let service = try await RunningService.start(limits: ServiceLimits(idleTimeoutSeconds: 1))
        guard let fd = UnixSocket.connect(service.socket) else { throw TimeoutError(what: "connect") }
        defer { close(fd) }
        // The client would wait 30 s; an end of stream (0) before then is the server closing the idle connection.
        let received: Int = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var timeout = timeval(tv_sec: 30, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var byte: UInt8 = 0
                continuation.resume(returning: recv(fd, &byte, 1, 0))
            }
        }
        #expect(received == 0, "the server closed the silent connection (recv gave \(received))")
        #expect(try await service.get("/v1/health").status == 200)
        try await service.stop()
    }

    @Test("garbage, half requests and vanishing clients do not stop the server")
    func brokenClients() async throws {
        let service = try await RunningService.start()
        // Raw bytes that are not HTTP: the connection is answered with 400 or closed.
        let garbage = try await rawExchange(service.socket, Array("\u{0}\u{1}\u{2} NOT HTTP\r\n\r\n".utf8))
        #expect(garbage.isEmpty || garbage.starts(with: Array("HTTP/1.1 400".utf8)))
        // A request line and then nothing: the client goes away.
        _ = try await rawExchange(
            service.socket, Array("POST /v1/scans HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"dev".utf8),
            readReply: false)
        // Many connections opened and dropped at once.
        for _ in 0..<50 { _ = try await rawExchange(service.socket, Array("GET /v1/heal".utf8), readReply: false) }
        // A header far too large.
        let huge = "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 200_000))\r\n\r\n"
        let reply = try await rawExchange(service.socket, Array(huge.utf8))
        #expect(!reply.starts(with: Array("HTTP/1.1 5".utf8)))
        #expect(try await service.get("/v1/health").status == 200)
        try await service.stop()
    }

    @Test("the allow-list refuses everyone else with 403; TCP peers have no credentials and meet the bridge's token rule")
    func accessPolicy() async throws {
        let service = try await RunningService.start(access: AccessPolicy(allowedUsers: [4_000_000]), tcp: true)
        let port = try #require(service.bound.compactMap { if case .tcp(_, let port) = $0 { port } else { nil } }.first)
        let tcp = try await runCommandAsync(["curl", "-sS", "http://127.0.0.1:\(port)/v1/health"])
        #expect(tcp.output.contains("\"unauthorized\""))
        // Root is always admitted over the Unix socket (it could read the spool anyway).
        if getuid() == 0 { #expect(try await service.get("/v1/health").status == 200) }
        try await service.stop()

        let policy = AccessPolicy(allowedUsers: [1000], allowedGroups: [2000])
        #expect(policy.admits(PeerCredentials(pid: 1, uid: 1000, gid: 5)))
        #expect(policy.admits(PeerCredentials(pid: 1, uid: 1001, gid: 2000)))
        #expect(!policy.admits(PeerCredentials(pid: 1, uid: 1001, gid: 5)))
        #expect(!policy.admits(nil))
        #expect(AccessPolicy.open.admits(nil))
    }

    @Test("byte ranges parse per RFC 9110")
    func ranges() {
        #expect(ByteRange.parse("bytes=0-9", size: 100) == .satisfiable(0...9))
        #expect(ByteRange.parse("bytes=90-", size: 100) == .satisfiable(90...99))
        #expect(ByteRange.parse("bytes=-10", size: 100) == .satisfiable(90...99))
        #expect(ByteRange.parse("bytes=-500", size: 100) == .satisfiable(0...99))
        #expect(ByteRange.parse("bytes=50-500", size: 100) == .satisfiable(50...99))
        #expect(ByteRange.parse("bytes=100-", size: 100) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=0-1,5-6", size: 100) == .ignored)
        #expect(ByteRange.parse("items=0-1", size: 100) == .ignored)
        #expect(ByteRange.parse("bytes=9-3", size: 100) == .ignored)
    }
}

/// Writes bytes on a fresh connection and reads until the server closes or 2 s pass (on its own thread).
func rawExchange(_ socketPath: String, _ bytes: [UInt8], readReply: Bool = true) async throws -> [UInt8] {
    let result: Result<[UInt8], any Error> = await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(returning: Result { try rawExchangeBlocking(socketPath, bytes, readReply: readReply) })
        }
    }
    return try result.get()
}

func rawExchangeBlocking(_ socketPath: String, _ bytes: [UInt8], readReply: Bool) throws -> [UInt8] {
    guard let fd = UnixSocket.connect(socketPath) else { throw TimeoutError(what: "connect") }
    defer { close(fd) }
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    guard readReply else { return [] }
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var reply: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = recv(fd, &buffer, buffer.count, 0)
        if count <= 0 { break }
        reply += buffer[0..<count]
    }
    return reply
}
