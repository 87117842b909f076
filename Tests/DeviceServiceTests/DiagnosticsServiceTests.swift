import Attachments
import CounterKitTestSupport
import Diagnostics
import Foundation
import Testing

@testable import DeviceService

/// The doctor's socket line against a real service, `GET /v1/diagnostics`, self-tests through the socket,
/// and the support bundle's report.html in headless Chromium.
@Suite(.serialized) struct DiagnosticsServiceTests {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    func cli(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        var environment = ProcessInfo.processInfo.environment.merging(SANETestEnvironment.environment) { $1 }
        environment["TMPDIR"] = NSTemporaryDirectory()
        return try await runCommandAsync([SANETestEnvironment.counterkitExecutable] + arguments, environment: environment)
    }

    func doctor(socket: String) async throws -> DiagnosticReport {
        let run = try await cli(["doctor", "--json", "--socket", socket])
        let json = try #require(run.output.firstIndex(of: "{").map { String(run.output[$0...]) }, "\(run.output)")
        return try Self.decoder.decode(DiagnosticReport.self, from: Data(json.utf8))
    }

    @Test func theSocketLinePassesWhileServingAndFailsOnceStopped() async throws {
        let service = try await RunningService.start()
        let serving = try #require(try await doctor(socket: service.socket).checks.first { $0.id == "service.socket" })
        #expect(serving.status == .pass, "\(serving.message)")
        #expect(serving.message.contains("mode 0660") && serving.message.contains("counterkit \(CounterKitVersion.current) answering"))

        try await service.stop()
        let stopped = try #require(try await doctor(socket: service.socket).checks.first { $0.id == "service.socket" })
        #expect(stopped.status == .fail && stopped.message.contains("not running"), "\(stopped.message)")
        #expect(stopped.hint?.contains("systemctl enable --now counterkit.socket") == true)

        // A socket file nobody listens on (a killed service): connection refused, named as stale.
        let stale = service.directory.path("stale.sock")
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(UnixSocket.withAddress(stale) { bind(fd, $0, $1) } == 0)
        close(fd)
        let refused = try #require(try await doctor(socket: stale).checks.first { $0.id == "service.socket" })
        #expect(refused.status == .fail && refused.message.contains("stale"), "\(refused.message)")
    }

    @Test func diagnosticsOverTheSocket() async throws {
        let service = try await RunningService.start()
        defer { Task { try? await service.stop() } }
        _ = try await service.get("/v1/devices?refresh=true")
        let reply = try await service.get("/v1/diagnostics")
        #expect(reply.status == 200)
        let report = try Self.decoder.decode(DiagnosticReport.self, from: Data(reply.body))
        #expect(report.version == CounterKitVersion.current)
        let socketLine = try #require(report.checks.first { $0.id == "service.socket" })
        #expect(socketLine.status == .pass && socketLine.message.contains("this report comes from the service"))
        #expect(report.checks.first { $0.id == "scanner.test:0" }?.status == .pass)
        #expect(report.checks.contains { $0.id == "sane.config" } && report.checks.contains { $0.id == "udev.rules" })
        let json = try #require(try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any])
        #expect(json["status"] as? String == report.status.rawValue, "the overall status is in the JSON")
    }

    @Test func aScannerSelfTestDirectlyAndThroughTheService() async throws {
        let kept = try TemporaryDirectory("ck-selftest")
        let clock = ContinuousClock()
        var elapsed: [Duration] = []
        var started = clock.now
        let direct = try await cli(["test", "test:0", "--json", "--direct", "--keep", kept.path("direct")])
        elapsed.append(clock.now - started)
        let service = try await RunningService.start()
        defer { Task { try? await service.stop() } }
        started = clock.now
        let through = try await cli(["test", "test:0", "--json", "--socket", service.socket, "--keep", kept.path("service")])
        elapsed.append(clock.now - started)
        for ((run, viaService), outside) in zip([(direct, false), (through, true)], elapsed) {
            #expect(run.status == 0, "\(run.output)")
            let json = try #require(run.output.firstIndex(of: "[").map { String(run.output[$0...]) }, "\(run.output)")
            let result = try #require(try Self.decoder.decode([SelfTestResult].self, from: Data(json.utf8)).first)
            #expect(result.viaService == viaService && result.status == .pass && result.family == .scanner)
            #expect(result.steps.map(\.id) == ["options", "scan"])
            // Measured, not made up: the first line came after the start and before the whole command ended, and the
            // step's message gives the same figure.
            let toFirst = try #require(result.measurements["timeToFirstLineMs"], "the time to the first line is measured")
            let outsideMs = Double(outside.components.seconds) * 1000 + Double(outside.components.attoseconds) / 1e15
            #expect(toFirst > 0 && toFirst < outsideMs, "\(toFirst) ms within the \(outsideMs) ms the command took")
            #expect(result.steps.last?.message.contains("first line after \(Int(toFirst)) ms") == true)
            #expect((result.measurements["throughputKiBps"] ?? 0) > 0)
            #expect(result.measurements["optionCount"] ?? 0 > 20)
            let image = try #require(result.images.first)
            let decoded = try DecodedImage.png(atPath: image.path)
            // ID-1 (85.6 x 54 mm) at 75 dpi.
            #expect(abs(decoded.width - 253) <= 2 && abs(decoded.height - 159) <= 2, "\(decoded.width)x\(decoded.height)")
        }
        // Through the service, the scan was a job of the service.
        let jobs = try await service.get("/v1/jobs")
        #expect(String(decoding: jobs.body, as: UTF8.self).contains("\"test:0\""))
    }

    /// What `doctor --deep` adds: a self-test line per device (here both test scanners), in its device's section, with
    /// the figures the self-test measured; everything else is the plain doctor's report.
    @Test func doctorDeepAddsEachDevicesSelfTest() async throws {
        struct Check: Decodable { var id: String; var section: String; var status: String; var message: String }
        struct Report: Decodable { var checks: [Check] }
        let plain = try JSONDecoder().decode(Report.self, from: Data(try await cli(["doctor", "--json"]).output.utf8))
        let deep = try JSONDecoder().decode(Report.self, from: Data(try await cli(["doctor", "--deep", "--json"]).output.utf8))
        let added = deep.checks.filter { check in !plain.checks.contains { $0.id == check.id } }
        #expect(added.map(\.id) == ["test.test:0", "test.test:1"], "\(added.map(\.id))")
        for check in added {
            #expect(
                check.section == "scanners" && check.status == "PASS" && check.message.contains("self-test passed (2 steps)")
                    && check.message.contains("timeToFirstLineMs"), "\(check)")
        }
        #expect(deep.checks.filter { !$0.id.hasPrefix("test.") }.map(\.id) == plain.checks.map(\.id), "the rest is the plain report")
    }

    @Test func withoutKeepTheTestImagesAreRemoved() async throws {
        let temporary = try TemporaryDirectory("ck-selftest-tmp")
        var environment = ProcessInfo.processInfo.environment.merging(SANETestEnvironment.environment) { $1 }
        environment["TMPDIR"] = temporary.url.path
        let run = try await runCommandAsync(
            [SANETestEnvironment.counterkitExecutable, "test", "test:0", "--json", "--direct"],
            environment: environment)
        #expect(run.status == 0, "\(run.output)")
        let json = try #require(run.output.firstIndex(of: "[").map { String(run.output[$0...]) }, "\(run.output)")
        let result = try #require(try Self.decoder.decode([SelfTestResult].self, from: Data(json.utf8)).first)
        #expect(result.status == .pass && result.images.isEmpty, "no path to an image that is gone")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: temporary.url.path)
        #expect(leftovers.isEmpty, "the self-test left \(leftovers) in its TMPDIR")
    }

    @Test func anUnknownDeviceFailsItsSelfTest() async throws {
        let run = try await cli(["test", "nosuch:9", "--json", "--direct"])
        #expect(run.status == 1)
        #expect(run.output.contains("\"status\" : \"FAIL\"") && run.output.contains("device_not_found"), "\(run.output)")
    }

    @Test func theBundlesReportOpensInChromiumWithItsImages() async throws {
        let directory = try TemporaryDirectory("ck-bundle")
        let output = directory.path("support.tar.gz")
        let run = try await cli(["bundle", "--output", output, "--pad-seconds", "0", "--direct"])
        #expect(run.status == 0, "\(run.output)")
        let listing = try await runCommandAsync(["tar", "-tzf", output]).output.split(separator: "\n").map {
            String($0.split(separator: "/", maxSplits: 1).last ?? "")
        }
        for file in ["report.html", "doctor.json", "devices.json", "selftests.json", "versions.txt", "service.log"] {
            #expect(listing.contains(file), "\(file) not in \(listing)")
        }
        #expect(listing.filter { $0.hasPrefix("images/") && $0.hasSuffix(".png") }.count == 2, "a scan per test scanner: \(listing)")
        #expect(try await runCommandAsync(["tar", "-xzf", output, "-C", directory.url.path]).status == 0)
        let root = try #require(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).first { $0.hasPrefix("counterkit-bundle-") })
        let page = directory.url.appendingPathComponent(root).appendingPathComponent("report.html")
        let devices = try String(contentsOf: directory.url.appendingPathComponent(root).appendingPathComponent("devices.json"), encoding: .utf8)
        #expect(devices.contains("\"test:0\"") && devices.contains("\"descriptors\""), "full option dumps")

        let chromium = ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]
        // The virtual time budget lets the page finish decoding its images before the DOM is dumped, however loaded the machine.
        let dom = try await runCommandMerged(chromium + ["--virtual-time-budget=10000", "--dump-dom", page.absoluteString])
        #expect(!dom.contains("CONSOLE"), "the page logs nothing to the console: \(dom.split(separator: "\n").filter { $0.contains("CONSOLE") })")
        #expect(dom.contains("data-images-total=\"2\" data-images-loaded=\"2\""), "both scans decode in the browser")
        #expect(dom.contains("Overall:") && dom.contains("scanner.test:0") && dom.contains("Self-test test:0"))

        let shot = directory.path("shot.png")
        _ = try await runCommandMerged(chromium + ["--window-size=1280,2400", "--screenshot=\(shot)", page.absoluteString])
        let image = try DecodedImage.png(atPath: shot)
        // The test scanner's picture (fixtures/sane/test.conf) is a colour pattern: each scan shows as a block of strongly
        // coloured pixels on the page, which is otherwise white, grey and black.
        var coloured = 0
        for index in stride(from: 0, to: image.pixels.count - image.channels + 1, by: image.channels) {
            let pixel = image.pixels[index..<(index + 3)]
            if Int(pixel.max()!) - Int(pixel.min()!) > 100 { coloured += 1 }
        }
        #expect(coloured > 2 * 240 * 150 / 5, "two scans of about 253x159 pixels are visible: \(coloured) coloured pixels")
    }

    /// Runs a command with stdout and stderr together (Chromium logs console messages on stderr).
    func runCommandMerged(_ arguments: [String]) async throws -> String {
        try await runCommandAsync(["/bin/sh", "-c", arguments.map { "'\($0)'" }.joined(separator: " ") + " 2>&1"]).output
    }
}
