import Attachments
import ChildProcesses
import CounterKitTestSupport
import Foundation
import Testing

@testable import DeviceService

/// What `counterkit serve`'s flags promise, each seen from outside on a real service process: the limits (`--max-*`,
/// `--idle-timeout`), `--journal-days`, the rotating log, and `GET /v1/client.d.ts`.
@Suite struct ServeFlagsTests {
    /// A `counterkit serve` process on a socket of its own; `stop()` ends it with SIGTERM.
    struct Served {
        let process: ChildProcess
        let directory: TemporaryDirectory
        let socket: String
        var spool: String { directory.path("spool") }

        static func start(
            _ flags: [String], in existing: TemporaryDirectory? = nil, environment: [String: String] = SANETestEnvironment.environment
        ) async throws -> Served {
            let directory = try existing ?? TemporaryDirectory("ck-serve-flags")
            let socket = directory.path("api.sock")
            unlink(socket)
            let process = try ChildProcess(
                executable: SANETestEnvironment.counterkitExecutable,
                arguments: ["serve", "--socket", socket, "--spool", directory.path("spool"), "--log-level", "info"] + flags,
                environment: environment, pipeInput: false, pipeOutput: false, discardErrors: true)
            #expect(await eventually(within: .seconds(20)) { ServiceClient.isServing(at: socket) }, "serve \(flags) starts")
            return Served(process: process, directory: directory, socket: socket)
        }

        /// curl against the service: HTTP status and body.
        func curl(_ arguments: [String], path: String) async throws -> (status: Int, body: String) {
            let run = try await runCommandAsync(
                ["curl", "-s", "--max-time", "60", "-w", "\n%{http_code}", "--unix-socket", socket] + arguments
                    + ["http://localhost\(path)"])
            let parts = run.output.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(parts.last ?? "") ?? 0, parts.dropLast().joined(separator: "\n"))
        }

        func stop() async {
            process.signal(SIGTERM)
            _ = await process.ended()
        }
    }

    /// A scan that outlasts the test (about 90 s): the test backend reads 2 KiB at a time and waits 100 ms a read.
    static let slow =
        #"{"device":"test:0","resolution":100,"options":{"read-delay":true,"read-delay-duration":100000,"read-limit":true,"read-limit-size":2048}}"#

    /// Under systemd (`Type=notify`), `serve` says READY=1 once it answers and STOPPING=1 on SIGTERM, to the datagram
    /// socket `NOTIFY_SOCKET` names: a path, or a name in the abstract namespace (`@…`), as systemd may give either.
    @Test(arguments: [false, true])
    func serveNotifiesSystemdWhenReadyAndWhenStopping(abstract: Bool) async throws {
        let directory = try TemporaryDirectory("ck-notify")
        let name = abstract ? "@counterkit-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" : directory.path("notify.sock")
        let receiver = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(receiver) }
        #expect(UnixSocket.withAddress(name) { bind(receiver, $0, $1) } == 0, "the test's notify socket is bound")
        let socketPath = directory.path("api.sock")
        let process = try ChildProcess(
            executable: SANETestEnvironment.counterkitExecutable,
            arguments: ["serve", "--socket", socketPath, "--spool", directory.path("spool")],
            environment: SANETestEnvironment.environment.merging(["NOTIFY_SOCKET": name]) { $1 },
            pipeInput: false, pipeOutput: false, discardErrors: true)
        /// The next datagram, waited for up to 20 s.
        func nextMessage() async -> String {
            await offThePool { () -> String in
                var poller = pollfd(fd: receiver, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 20_000) > 0 else { return "" }
                var bytes = [UInt8](repeating: 0, count: 256)
                let count = recv(receiver, &bytes, bytes.count, 0)
                return count > 0 ? String(decoding: bytes[..<count], as: UTF8.self) : ""
            }
        }
        #expect(await nextMessage() == "READY=1")
        #expect(ServiceClient.isServing(at: socketPath), "ready means answering")
        process.signal(SIGTERM)
        #expect(await nextMessage() == "STOPPING=1")
        _ = await process.ended()
    }

    @Test func maxRequestKBRefusesALargerBody() async throws {
        let served = try await Served.start(["--max-request-kb", "1"])
        let padding = String(repeating: " ", count: 2048)
        let answer = try await served.curl(["--json", "{\"device\":\"test:0\"\(padding)}"], path: "/v1/scans")
        #expect(answer.status == 413 && answer.body.contains("body_too_large"), "\(answer)")
        #expect(try await served.curl(["--json", #"{"device":"nope:1"}"#], path: "/v1/scans").status == 404, "a small body is read")
        await served.stop()
    }

    @Test func maxQueuedAndMaxSubscribersRefuseTheOneTooMany() async throws {
        let served = try await Served.start(["--max-queued", "1", "--max-subscribers", "1"])
        let running = try await served.curl(["--json", Self.slow], path: "/v1/scans")
        #expect(running.status == 202)
        let id = try #require((try JSONSerialization.jsonObject(with: Data(running.body.utf8)) as? [String: Any])?["id"] as? String)
        #expect(try await served.curl(["--json", Self.slow], path: "/v1/scans?queue=true").status == 202, "one may wait")
        let third = try await served.curl(["--json", Self.slow], path: "/v1/scans?queue=true")
        #expect(third.status == 429 && third.body.contains("queue_full"), "\(third)")
        // One subscriber follows the running job (its answer's head read, so it holds the one place); a second is refused.
        let follower = try #require(UnixSocket.connect(served.socket))
        defer { close(follower) }
        let request = Array("GET /v1/jobs/\(id)/events HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(follower, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        let head = await offThePool { () -> String in
            var poller = pollfd(fd: follower, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 20_000) > 0 else { return "" }
            var bytes = [UInt8](repeating: 0, count: 512)
            let count = read(follower, &bytes, bytes.count)
            return count > 0 ? String(decoding: bytes[..<count], as: UTF8.self) : ""
        }
        #expect(head.hasPrefix("HTTP/1.1 200"), "the follower subscribed: \(head)")
        // A refusal comes at once; the generous limit only keeps a wrongly accepted stream from hanging the test.
        let second = try await served.curl(["--max-time", "20"], path: "/v1/jobs/\(id)/events")
        #expect(second.status == 429 && second.body.contains("too_many_subscribers"), "\(second)")
        _ = try await served.curl(["-X", "DELETE"], path: "/v1/jobs/\(id)")
        await served.stop()
    }

    @Test func maxConnectionsAnswersTheOneTooMany503() async throws {
        let served = try await Served.start(["--max-connections", "2"])
        var held: [Int32] = []
        defer { for descriptor in held { close(descriptor) } }
        for _ in 0..<2 { held.append(try #require(UnixSocket.connect(served.socket))) }
        var third = (status: 0, body: "")
        _ = try await eventually(within: .seconds(20)) {
            third = try await served.curl([], path: "/v1/health")
            return third.status == 503
        }
        #expect(third.status == 503 && third.body.contains("too_many_connections"), "\(third)")
        for descriptor in held { close(descriptor) }
        held = []
        #expect(try await eventually(within: .seconds(20)) { try await served.curl([], path: "/v1/health").status == 200 }, "room again")
        await served.stop()
    }

    @Test func idleTimeoutClosesASilentConnection() async throws {
        let served = try await Served.start(["--idle-timeout", "1"])
        let descriptor = try #require(UnixSocket.connect(served.socket))
        defer { close(descriptor) }
        // Nothing is sent: the service closes the connection (read sees the end) well within the 60 s it would by default.
        let closed = await offThePool { () -> Bool in
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 30_000) > 0 else { return false }
            var byte: UInt8 = 0
            return read(descriptor, &byte, 1) == 0
        }
        #expect(closed, "the idle connection was closed")
        await served.stop()
    }

    @Test func maxStoreMBRefusesAScanOnceTheSpoolHoldsThatMuch() async throws {
        let served = try await Served.start(["--max-store-mb", "1"])
        // A 150 dpi A5 colour page as PNM: about 3.2 MB, past the 1 MB limit.
        let first = try await served.curl(["--json", #"{"device":"test:0","resolution":150,"paper":"A5","format":"pnm"}"#], path: "/v1/scans?wait=true")
        #expect(first.status == 200 && first.body.contains("\"completed\""), "\(first.status)")
        let refused = try await served.curl(["--json", #"{"device":"test:0","resolution":50,"paper":"ID1"}"#], path: "/v1/scans")
        #expect(refused.status == 507 && refused.body.contains("store_full"), "\(refused)")
        await served.stop()
    }

    /// `--journal-days`: an ended job older than that is gone after a restart, a younger one stays.
    @Test func journalDaysForgetsEndedJobsOlderThanThat() async throws {
        var served = try await Served.start([])
        let scan = try await served.curl(["--json", #"{"device":"test:0","resolution":50,"paper":"ID1"}"#], path: "/v1/scans?wait=true")
        let id = try #require((try JSONSerialization.jsonObject(with: Data(scan.body.utf8)) as? [String: Any])?["id"] as? String)
        await served.stop()
        // The job ended three days ago, as far as the journal knows.
        let journal = served.spool + "/journal/jobs.jsonl"
        let text = try String(contentsOfFile: journal, encoding: .utf8)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let old = formatter.string(from: Date().addingTimeInterval(-3 * 24 * 3600))
        let aged =
            try text.split(separator: "\n").map { line -> String in
                var object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                if var job = object["job"] as? [String: Any] {
                    for key in ["createdAt", "startedAt", "finishedAt"] where job[key] != nil { job[key] = old }
                    object["job"] = job
                }
                return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            }.joined(separator: "\n") + "\n"
        try aged.write(toFile: journal, atomically: true, encoding: .utf8)
        served = try await Served.start(["--journal-days", "5"], in: served.directory)
        #expect(try await served.curl([], path: "/v1/jobs/\(id)").status == 200, "kept for five days")
        await served.stop()
        served = try await Served.start(["--journal-days", "2"], in: served.directory)
        #expect(try await served.curl([], path: "/v1/jobs/\(id)").status == 404, "forgotten after two")
        await served.stop()
    }

    /// The service's log file in the spool rotates at 1 MiB: the current file stays under it, the one before is
    /// `service.log.1`, whole lines only, and nothing older is kept.
    @Test func theLogFileRotatesAtOneMiB() async throws {
        let served = try await Served.start([])
        _ = try await served.curl([], path: "/v1/health")
        await served.stop()
        let log = served.spool + "/log/service.log"
        #expect(try String(contentsOfFile: log, encoding: .utf8).contains("counterkit"), "the service writes its log there")
        // The same file type, filled past its limit twice.
        let directory = try TemporaryDirectory("ck-log")
        let file = try RotatingLogFile(path: directory.path("log/service.log"))
        #expect(file.maxBytes == 1 << 20)
        let line = String(repeating: "x", count: 1000)
        for index in 0..<2500 { file.append("\(index) \(line)") }
        let current = try String(contentsOfFile: directory.path("log/service.log"), encoding: .utf8)
        let previous = try String(contentsOfFile: directory.path("log/service.log.1"), encoding: .utf8)
        #expect(current.utf8.count <= 1 << 20 && previous.utf8.count <= 1 << 20 && previous.utf8.count > (1 << 20) - 1100)
        #expect(!FileManager.default.fileExists(atPath: directory.path("log/service.log.2")))
        let numbers = (previous + current).split(separator: "\n").map { Int($0.split(separator: " ")[0])! }
        #expect(numbers == Array((2500 - numbers.count)..<2500), "whole lines, in order, the oldest dropped")
        #expect((previous + current).split(separator: "\n").allSatisfy { $0.hasSuffix(line) })
    }

    @Test func theTypeScriptDeclarationsAreServedAsShipped() async throws {
        let served = try await Served.start([])
        let answer = try await served.curl(["-D", served.directory.path("headers")], path: "/v1/client.d.ts")
        let shipped = try String(contentsOf: repositoryRoot().appendingPathComponent("clients/js/counterkit.d.ts"), encoding: .utf8)
        #expect(answer.status == 200 && answer.body == shipped, "the file in clients/js, byte for byte")
        let headers = try String(contentsOfFile: served.directory.path("headers"), encoding: .utf8).lowercased()
        #expect(headers.contains("content-type: application/typescript"))
        await served.stop()
    }
}
