import Attachments
import ChildProcesses
import CounterKitTestSupport
import Foundation
import Testing

@testable import DeviceService

/// `counterkit serve --config FILE`: every serve option and per-device default options, in TOML.
@Suite struct ServiceSettingsTests {
    static let full = """
        # A counter PC's service
        socket = "/run/ck/api.sock"
        group = "clerks"
        mode = "0640"
        listen = "127.0.0.1:8089"
        allow-user = ["clerk", "1000"]
        allow-group = "counter"
        max-connections = 64
        max-queued = 4
        max-subscribers = 16
        max-request-kb = 512
        max-store-mb = 2048
        idle-timeout = 30
        scan-timeout = 90
        log-level = "warning"
        spool = "/var/spool/ck"
        escl = "192.0.2.10:8090"
        escl-device = "test:0"
        preview-linger-ms = 500

        [devices."test:0".options]
        "test-picture" = "Color pattern"
        "read-delay" = true
        "read-delay-duration" = 1000

        [devices."genesys:libusb:001:004".options]
        lamp-off-time = 15
        """

    @Test func everyKeyIsRead() throws {
        let settings = try ServiceSettings.parse(Self.full, file: "counterkit.toml")
        #expect(settings.socket == "/run/ck/api.sock" && settings.group == "clerks" && settings.mode == "0640")
        #expect(settings.listen == "127.0.0.1:8089" && settings.allowUsers == ["clerk", "1000"] && settings.allowGroups == ["counter"])
        #expect(settings.maxConnections == 64 && settings.maxQueued == 4 && settings.maxSubscribers == 16)
        #expect(settings.maxRequestKb == 512 && settings.maxStoreMb == 2048 && settings.idleTimeout == 30 && settings.scanTimeout == 90)
        #expect(settings.logLevel == "warning" && settings.spool == "/var/spool/ck")
        #expect(settings.escl == "192.0.2.10:8090" && settings.esclDevice == "test:0" && settings.previewLingerMs == 500)
        #expect(
            settings.deviceOptions == [
                "test:0": ["test-picture": "Color pattern", "read-delay": "yes", "read-delay-duration": "1000"],
                "genesys:libusb:001:004": ["lamp-off-time": "15"],
            ])
        #expect(try ServiceSettings.parse("", file: "empty.toml") == ServiceSettings())
    }

    @Test func flagsOverrideTheFileAndTheRestIsKept() throws {
        let file = try ServiceSettings.parse(Self.full, file: "counterkit.toml")
        var flags = ServiceSettings()
        flags.maxStoreMb = 100
        flags.allowGroups = ["auditors"]
        let merged = file.overridden(by: flags)
        #expect(merged.maxStoreMb == 100 && merged.allowGroups == ["auditors"])
        #expect(merged.maxConnections == 64 && merged.socket == "/run/ck/api.sock" && merged.deviceOptions == file.deviceOptions)
    }

    @Test(arguments: [
        ("socket = \"/a\"\nmax-conections = 3\n", 2, "unknown key 'max-conections'"),
        ("\n\nmax-queued = 0\n", 3, "'max-queued' must be at least 1"),
        ("preview-linger-ms = -5\n", 1, "'preview-linger-ms' must be at least 1"),
        ("idle-timeout = \"soon\"\n", 1, "'idle-timeout' must be a whole number"),
        ("mode = \"0999\"\n", 1, "'mode' must be an octal mode"),
        ("log-level = \"loud\"\n", 1, "'log-level' must be one of"),
        ("listen = \"localhost\"\n", 1, "'listen': --listen expects HOST:PORT"),
        ("spool = \"/s\"\nescl = \"host:port\"\n", 2, "'escl': --escl expects PORT or HOST:PORT"),
        ("allow-user = [1, 2]\n", 1, "'allow-user' must be a string or a list of strings"),
        ("[devices.\"test:0\"]\nopts = 1\n", 2, "unknown key 'opts' for device \"test:0\""),
        ("[devices.\"test:0\".options]\n\"test-picture\" = [\"Grid\"]\n", 2, "option 'test-picture' of device \"test:0\" must be a string"),
        ("socket = \n", 1, "not valid TOML"),
        ("[devices.\"test:0\".options]\nmode = \"Color\"\nmode = \"Gray\"\n", 3, "not valid TOML"),
    ])
    func aBadFileIsAClearErrorNamingTheLine(text: String, line: Int, message: String) {
        do {
            _ = try ServiceSettings.parse(text, file: "/etc/counterkit/counterkit.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(message), "\(error)")
            #expect(error.description.hasPrefix("/etc/counterkit/counterkit.toml line \(line): "))
        }
    }

    @Test func aDevicesDefaultsApplyAndARequestsOwnOptionsWin() async throws {
        let service = try await RunningService.start(deviceOptions: ["test:0": ["test-picture": "Color pattern"]])
        let defaulted = try service.job(try await service.post("/v1/scans?wait=true", #"{"device":"test:0","resolution":50}"#))
        #expect(defaulted.state == .completed && defaulted.settings?["option.test-picture"] == "Color pattern", "\(defaulted)")
        let own = try service.job(
            try await service.post(
                "/v1/scans?wait=true",
                #"{"device":"test:0","resolution":50,"options":{"test-picture":"Grid"}}"#))
        #expect(own.state == .completed && own.settings?["option.test-picture"] == "Grid", "\(own)")
        // The picture is really the one chosen: a colour pattern is not one grey, a grid is black and white.
        let colour = try await service.get("/v1/attachments/\(try #require(defaulted.attachments.first).id)")
        let grid = try await service.get("/v1/attachments/\(try #require(own.attachments.first).id)")
        #expect(colour.status == 200 && grid.status == 200 && colour.body != grid.body)
        let colourPixels = try DecodedImage.jpeg(colour.body).pixels
        #expect(stride(from: 0, to: colourPixels.count - 2, by: 3).contains { colourPixels[$0] > colourPixels[$0 + 2] + 60 }, "some pixel is red")
        try await service.stop()
    }

    @Test func serveReadsTheFileFlagsWinAndABadFileStopsItAtStart() async throws {
        let directory = try TemporaryDirectory("ck-config")
        let file = directory.path("counterkit.toml")
        try "socket = \"\(directory.path("from-file.sock"))\"\nmax-connectionz = 5\n".write(toFile: file, atomically: true, encoding: .utf8)
        let refused = try await runCommandAsync(
            [
                "/bin/sh", "-c", "\"$0\" \"$@\" 2>&1", SANETestEnvironment.counterkitExecutable, "serve",
                "--config", file, "--spool", directory.path("spool"),
            ], environment: SANETestEnvironment.environment)
        #expect(refused.status == 1)
        #expect(refused.output.contains("error: invalid_value: \(file) line 2: unknown key 'max-connectionz'"), "\(refused.output)")

        // A good file: its socket is used unless --socket names another.
        try "socket = \"\(directory.path("from-file.sock"))\"\nmax-connections = 5\n".write(toFile: file, atomically: true, encoding: .utf8)
        for (flags, socket) in [([String](), "from-file.sock"), (["--socket", directory.path("from-flag.sock")], "from-flag.sock")] {
            let child = try ChildProcess(
                executable: SANETestEnvironment.counterkitExecutable,
                arguments: ["serve", "--config", file, "--spool", directory.path("spool")] + flags,
                environment: SANETestEnvironment.environment, pipeInput: false, pipeOutput: false, discardErrors: true)
            let path = directory.path(socket)
            let answered = await eventually(within: .seconds(20)) { ServiceClient.isServing(at: path) }
            child.signal(SIGTERM)
            _ = await child.ended()
            #expect(answered, "the service listened on \(socket)")
        }

        // eSCL from the file: its scanner, at its port; --escl-device alone is refused.
        let port = try freeTCPPort()
        try "socket = \"\(directory.path("escl.sock"))\"\nescl = \"\(port)\"\nescl-device = \"test:1\"\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let child = try ChildProcess(
            executable: SANETestEnvironment.counterkitExecutable,
            arguments: ["serve", "--config", file, "--spool", directory.path("spool")],
            environment: SANETestEnvironment.environment, pipeInput: false, pipeOutput: false, discardErrors: true)
        var capabilities = ""
        for _ in 0..<100 where !capabilities.contains("</scan:ScannerCapabilities>") {
            try await Task.sleep(for: .milliseconds(200))
            capabilities = try await runCommandAsync(["curl", "-s", "http://127.0.0.1:\(port)/eSCL/ScannerCapabilities"]).output
        }
        child.signal(SIGTERM)
        _ = await child.ended()
        #expect(capabilities.contains("<pwg:SerialNumber>test:1</pwg:SerialNumber>"), "\(capabilities)")
        let alone = try await runCommandAsync([
            "/bin/sh", "-c", "\"$0\" \"$@\" 2>&1", SANETestEnvironment.counterkitExecutable, "serve",
            "--socket", directory.path("x.sock"), "--spool", directory.path("spool"), "--escl-device", "test:0",
        ])
        #expect(alone.status == 1 && alone.output.contains("error: invalid_value: --escl-device needs --escl"), "\(alone.output)")
    }

    /// The preview linger reaches the cameras' previews (where the guest's preview tests watch it work).
    @Test func thePreviewLingerReachesTheHub() async throws {
        let directory = try TemporaryDirectory()
        var configuration = ServiceConfiguration(spool: directory.url.appendingPathComponent("spool"))
        #expect(configuration.previewLinger == .seconds(2))
        configuration.previewLinger = .milliseconds(300)
        let service = try CounterKitService(configuration: configuration)
        #expect(await service.core.hub.streams.linger == .milliseconds(300))
    }

    /// The example file shipped for `/etc/counterkit/`: with every key shown in a comment switched on, it is a valid
    /// configuration (so no key it documents is misspelt or gone).
    @Test func theShippedExampleIsValidWithEveryKeyOn() throws {
        let text = try String(contentsOf: repositoryRoot().appendingPathComponent("systemd/counterkit.toml"), encoding: .utf8)
        let switchedOn = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            guard line.hasPrefix("# "), let equals = line.firstIndex(of: "="),
                line[line.index(line.startIndex, offsetBy: 2)..<equals].trimmingCharacters(in: .whitespaces)
                    .allSatisfy({ $0.isLowercase || $0 == "-" })
            else { return line }
            return line.dropFirst(2)
        }.joined(separator: "\n")
        let settings = try ServiceSettings.parse(switchedOn, file: "counterkit.toml")
        #expect(settings.previewLingerMs == 2000 && settings.journalDays == 7 && settings.maxSubscribers == 128)
        #expect(settings.spool == "/var/lib/counterkit/spool")
    }
}
