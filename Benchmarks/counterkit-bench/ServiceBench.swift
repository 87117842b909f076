// The device service against nginx serving a static JSON file on a Unix socket, under the same load generator.
import DeviceService
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Result of a load run.
struct LoadResult {
    var requests: Int
    var errors: Int
    var seconds: Double
    var p50: Double
    var p99: Double
    var requestsPerSecond: Double { Double(requests) / seconds }
}

/// Opens a Unix-socket connection.
func connectUnix(_ path: String) -> Int32? { UnixSocket.connect(path) }

/// Keep-alive HTTP/1.1 GETs over `connections` Unix-socket connections, one thread each, for `seconds`.
/// Each response is read to its Content-Length; latency is per request.
func unixLoad(socket path: String, target: String, connections: Int, seconds duration: Double) -> LoadResult {
    let collected = Mutex<(latencies: [Double], errors: Int)>(([], 0))
    let deadline = ContinuousClock.now + .milliseconds(Int(duration * 1000))
    let group = DispatchGroup()
    let start = ContinuousClock.now
    for _ in 0..<connections {
        group.enter()
        Thread.detachNewThread {
            var local: [Double] = []
            var localErrors = 0
            let connection = KeepAliveConnection(socket: path)
            while ContinuousClock.now < deadline {
                let begin = ContinuousClock.now
                guard connection.send("GET", target)?.status == 200 else { localErrors += 1; continue }
                local.append(seconds(ContinuousClock.now - begin))
            }
            collected.withLock {
                $0.latencies += local
                $0.errors += localErrors
            }
            group.leave()
        }
    }
    group.wait()
    let (latencies, errors) = collected.withLock { $0 }
    let sorted = latencies.sorted()
    return LoadResult(
        requests: sorted.count, errors: errors, seconds: seconds(ContinuousClock.now - start),
        p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99))
}

/// Starts a process in the background (stdout and stderr to /dev/null).
func launch(_ command: [String], environment: [String: String] = [:]) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
    var pid: pid_t = 0
    let argv = command.map { strdup($0) } + [nil]
    let envp = env.map { strdup($0) } + [nil]
    precondition(posix_spawnp(&pid, command[0], &actions, nil, argv, envp) == 0, "cannot start \(command[0])")
    return pid
}

/// Milliseconds from spawning until the socket answers a GET with 200.
func timeToFirstAnswer(_ command: [String], socket: String, target: String, environment: [String: String] = [:]) -> (Double, pid_t) {
    let start = ContinuousClock.now
    let pid = launch(command, environment: environment)
    while true {
        if let fd = connectUnix(socket) {
            let request = Array("GET \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &buffer, buffer.count, 0)
            close(fd)
            if count > 12, String(decoding: buffer[0..<12], as: UTF8.self) == "HTTP/1.1 200" { break }
        }
        usleep(500)
    }
    let elapsed = ContinuousClock.now - start
    return (Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15, pid)
}

func stop(_ pid: pid_t) {
    kill(pid, SIGTERM)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
}

func serviceBenchmarks(counterkit: String, environment: [String: String], work: URL) {
    print("== Service: GET /v1/devices, 32 keep-alive connections over a Unix socket, 2 cores shared with the load generator")
    let socket = work.appendingPathComponent("api.sock").path
    let spool = work.appendingPathComponent("service-spool").path
    let (startup, service) = timeToFirstAnswer(
        // Access logs off on both sides, as nginx below (`access_log off`): the comparison is of serving alone.
        [counterkit, "serve", "--socket", socket, "--spool", spool, "--log-level", "warning"], socket: socket, target: "/v1/health",
        environment: environment)
    // Let background discovery finish so /v1/devices answers from the cache.
    _ = unixLoad(socket: socket, target: "/v1/devices", connections: 1, seconds: 1)
    let ours = unixLoad(socket: socket, target: "/v1/devices", connections: 32, seconds: 5)

    // nginx: the same JSON body as a static file.
    var nginxResult: LoadResult?
    var nginxStartup: Double?
    let nginxPath = ["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }
    if let nginxPath {
        let root = work.appendingPathComponent("nginx")
        try? FileManager.default.createDirectory(at: root.appendingPathComponent("v1"), withIntermediateDirectories: true)
        let body = fetchBody(socket: socket, target: "/v1/devices")
        precondition(FileManager.default.createFile(atPath: root.appendingPathComponent("v1/devices").path, contents: Data(body)))
        let nginxSocket = root.appendingPathComponent("nginx.sock").path
        let configuration = """
            worker_processes auto; pid \(root.path)/nginx.pid; error_log /dev/null; daemon off; user root;
            events { worker_connections 1024; }
            http { access_log off; keepalive_requests 1000000;
              server { listen unix:\(nginxSocket); root \(root.path); default_type application/json; } }
            """
        precondition(FileManager.default.createFile(atPath: root.appendingPathComponent("nginx.conf").path, contents: Data(configuration.utf8)))
        let (time, pid) = timeToFirstAnswer(
            [nginxPath, "-p", root.path, "-c", root.appendingPathComponent("nginx.conf").path],
            socket: nginxSocket, target: "/v1/devices")
        nginxStartup = time
        nginxResult = unixLoad(socket: nginxSocket, target: "/v1/devices", connections: 32, seconds: 5)
        stop(pid)
    }
    func line(_ name: String, _ result: LoadResult) -> String {
        "\(name) \(Int(result.requestsPerSecond)) req/s  p50 \(format(result.p50 * 1000)) ms  p99 \(format(result.p99 * 1000)) ms  errors \(result.errors)"
    }
    print(line("counterkit", ours) + "   [target >= 10000 req/s, p99 < 5 ms]")
    if let nginxResult {
        print(line("nginx     ", nginxResult) + "   ratio counterkit/nginx \(format(ours.requestsPerSecond / nginxResult.requestsPerSecond))x")
    } else {
        print("nginx not installed: no peer ratio (apt-get install nginx)")
    }
    print("start-up to first answer: counterkit \(format(startup)) ms\(nginxStartup.map { ", nginx \(format($0)) ms" } ?? "")   [target < 200 ms]")

    // A 600 dpi scan through the socket against `counterkit scan` run directly.
    let body =
        #"{"device":"test:0","resolution":600,"area":{"x":0,"y":0,"width":200,"height":200},"mode":"color","format":"jpeg","options":{"test-picture":"Color pattern"}}"#
    let viaSocket = median(3) {
        let result = spawn(
            ["curl", "-sS", "--unix-socket", socket, "-d", body, "http://localhost/v1/scans?wait=true"],
            stdout: work.appendingPathComponent("job.json").path)
        precondition(result.status == 0, "scan through the socket failed")
    }
    let direct = median(3) {
        let out = work.appendingPathComponent("direct.jpg").path
        let result = spawn(
            [
                counterkit, "scan", "--direct", "--device", "test:0", "--resolution", "600", "--area", "0,0,200,200",
                "--mode", "color", "--option", "test-picture=Color pattern", "--format", "jpeg", "--spool", spool + "-direct",
                "--output", out,
            ], environment: environment)
        precondition(result.status == 0, "direct scan failed")
    }
    print(
        "600 dpi scan to a JPEG attachment: through the socket \(format(viaSocket)) s, counterkit scan directly \(format(direct)) s, ratio \(format(viaSocket / direct))x [target <= 1.10]"
    )
    stop(service)

    // The default configuration writes an access line per request (uid, pid, status, time) to stderr.
    let logged = work.appendingPathComponent("logged.sock").path
    let (_, loggingService) = timeToFirstAnswer(
        [counterkit, "serve", "--socket", logged, "--spool", spool + "-logged"], socket: logged, target: "/v1/health", environment: environment)
    _ = unixLoad(socket: logged, target: "/v1/devices", connections: 1, seconds: 1)
    print(line("counterkit with its access log (the default, to /dev/null)", unixLoad(socket: logged, target: "/v1/devices", connections: 32, seconds: 5)))
    stop(loggingService)
}

/// The body of one GET.
func fetchBody(socket: String, target: String) -> [UInt8] {
    guard let fd = connectUnix(socket) else { return [] }
    defer { close(fd) }
    let request = Array("GET \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = recv(fd, &buffer, buffer.count, 0)
        if count <= 0 { break }
        received += buffer[0..<count]
    }
    guard let end = received.firstRange(of: Array("\r\n\r\n".utf8)) else { return [] }
    return Array(received[end.upperBound...])
}
