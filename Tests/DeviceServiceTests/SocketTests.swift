import ChildProcesses
import CounterKitTestSupport
import Foundation
import Testing

@testable import DeviceService

@Suite("Sockets: permissions, stale and live sockets, systemd activation, the CLI as a client")
struct SocketTests {
    @Test("the socket is created 0660, a live one is never stolen, a stale one is replaced")
    func socketFile() async throws {
        let service = try await RunningService.start()
        var info = stat()
        #expect(lstat(service.socket, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660)
        #expect(info.st_mode & S_IFMT == S_IFSOCK)

        #expect(throws: ServiceSetupError.self) {
            try UnixSocketFactory.listen(path: service.socket, permissions: SocketPermissions())
        }
        try await service.stop()

        // A socket file left by a process that died is replaced.
        let directory = try TemporaryDirectory("ck-sock")
        let stale = directory.path("api.sock")
        let fd = try UnixSocketFactory.listen(path: stale, permissions: SocketPermissions())
        close(fd)
        let restarted = try await RunningService.start(in: directory)
        #expect(try await restarted.get("/v1/health").status == 200)
        try await restarted.stop()

        // Anything else at the path is left alone.
        let file = directory.path("plain")
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        #expect(throws: ServiceSetupError.self) { try UnixSocketFactory.listen(path: file, permissions: SocketPermissions()) }
        #expect(FileManager.default.fileExists(atPath: file))
        #expect(throws: ServiceSetupError.self) {
            try UnixSocketFactory.listen(path: directory.path(String(repeating: "s", count: 120)), permissions: SocketPermissions())
        }
    }

    @Test("--listen accepts loopback only")
    func tcpParsing() throws {
        #expect(try ListenAddress.parseTCP("127.0.0.1:8080") == .tcp(host: "127.0.0.1", port: 8080))
        #expect(try ListenAddress.parseTCP("[::1]:9") == .tcp(host: "::1", port: 9))
        #expect(throws: ServiceSetupError.self) { try ListenAddress.parseTCP("0.0.0.0:8080") }
        #expect(throws: ServiceSetupError.self) { try ListenAddress.parseTCP("127.0.0.1") }
    }

    @Test("systemd socket activation: counterkit serve takes the socket passed as fd 3")
    func socketActivation() async throws {
        let directory = try TemporaryDirectory("ck-activate")
        let socket = directory.path("activated.sock")
        // What systemd does: bind and listen, put the socket at fd 3, set LISTEN_FDS and LISTEN_PID, exec the service.
        let activate = """
            import os, socket, sys
            s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(16)
            os.dup2(s.fileno(), 3); os.set_inheritable(3, True)
            os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
            os.execv(sys.argv[2], sys.argv[2:])
            """
        let process = try ChildProcess(
            executable: "python3",
            arguments: [
                "-c", activate, socket, SANETestEnvironment.counterkitExecutable, "serve", "--spool", directory.path("spool"),
                "--log-level", "warning",
            ],
            environment: SANETestEnvironment.environment, pipeInput: false, pipeOutput: false, discardErrors: true)
        for _ in 0..<100 where !ServiceClient.isServing(at: socket) { try await Task.sleep(for: .milliseconds(50)) }
        let health = try await ServiceClient(socketPath: socket).send("GET", "/v1/health")
        #expect(health.status == 200)
        let pid = try health.decode(Health.self).pid
        #expect(pid == process.pid)
        process.signal(SIGTERM)
        #expect(await process.ended() == .exited(0))
        // The socket belongs to whoever passed it (systemd removes it); nobody answers on it any more.
        #expect(!ServiceClient.isServing(at: socket))
    }

    @Test("the CLI talks to a running service with --socket: devices and a scan to a file")
    func cliThroughService() async throws {
        let service = try await RunningService.start()
        let devices = try await runCommandAsync([SANETestEnvironment.counterkitExecutable, "devices", "--socket", service.socket])
        #expect(devices.status == 0)
        #expect(devices.output.contains("test:0"))
        let output = service.directory.path("cli.jpg")
        let scan = try await runCommandAsync([
            SANETestEnvironment.counterkitExecutable, "scan", "--socket", service.socket, "--device", "test:0",
            "--resolution", "50", "--output", output, "--json",
        ])
        #expect(scan.status == 0, "\(scan.output)")
        let image = try DecodedImage.jpeg(Array(try Data(contentsOf: URL(fileURLWithPath: output))))
        #expect(image.width > 0)
        // The attachment lives in the service's spool, and the job is the service's.
        let jobs = try await service.get("/v1/jobs").decode(JobList.self)
        #expect(jobs.jobs.count == 1)
        #expect(jobs.jobs.first?.state == .completed)

        let failed = try await runCommandAsync([
            SANETestEnvironment.counterkitExecutable, "scan", "--socket", service.socket, "--device", "nope:1",
            "--output", output,
        ])
        #expect(failed.status != 0)
        try await service.stop()
    }

    /// Every `counterkit` line of the README's CLI section and every curl line of its service section, run in order against
    /// the test scanner, does what the README says (curl lines that need a camera or a pad run in the test VM:
    /// `SignatureServiceInGuestTests`).
    @Test func theReadmesCurlExamplesDoWhatTheySay() async throws {
        let service = try await RunningService.start()
        let result = try await runCommandAsync(
            ["python3", repositoryRoot().appendingPathComponent("scripts/readme-examples").path, service.socket, "--cli"],
            environment: ProcessInfo.processInfo.environment.merging(["COUNTERKIT": SANETestEnvironment.counterkitExecutable]) { $1 })
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("readme-examples: 10 CLI example(s) ran as the README says"), "\(result.output)")
        #expect(result.output.contains("readme-examples: 13 example(s) ran as the README says"), "\(result.output)")
        try await service.stop()
    }

    @Test("the curl end-to-end script passes")
    func curlScript() async throws {
        let result = try await runCommandAsync(
            [
                "bash", repositoryRoot().appendingPathComponent("scripts/api-e2e").path,
                SANETestEnvironment.counterkitExecutable,
            ],
            environment: SANETestEnvironment.environment)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("api-e2e: all checks passed"))
    }
}
