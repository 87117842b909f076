import ChildProcesses
import CounterKitTestSupport
import Diagnostics
import Foundation
import SignaturePads
import Testing

/// The doctor and the self-tests in the test VM, with vivid's camera and an emulated STU-530 on dummy_hcd:
/// a healthy setup passes, an unplugged pad fails with its fix, and each device's self-test measures it.
@Suite(.serialized, .enabled(if: insideTestVM, "runs in the test VM (scripts/vm-run)"))
struct DiagnosticsInGuestTests {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    init() throws { try VividModule.load() }

    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment.merging(SANETestEnvironment.environment) { $1 }
        environment["TMPDIR"] = "/tmp"
        return environment
    }

    func doctor(_ arguments: [String] = []) async throws -> (status: Int32, report: DiagnosticReport) {
        let run = try await runCommandAsync(
            [SANETestEnvironment.counterkitExecutable, "doctor", "--json", "--timeout", "30"] + arguments,
            environment: environment)
        let json = try #require(run.output.firstIndex(of: "{").map { String(run.output[$0...]) }, "\(run.output)")
        return (run.status, try Self.decoder.decode(DiagnosticReport.self, from: Data(json.utf8)))
    }

    @Test func aHealthySetupPassesAndAnUnpluggedPadFailsWithTheFix() async throws {
        let pad = try FunctionFSPad(name: "stuhealth", emulator: STUEmulator())
        defer { pad.remove() }
        let expect = ["--expect", "scanner", "--expect", "camera", "--expect", "pad"]
        var report = DiagnosticReport(checks: [])
        #expect(
            try await eventually(within: .seconds(30), every: .milliseconds(200)) {
                report = try await doctor(expect).report
                return report.checks.contains { $0.id.hasPrefix("pad.usb:") }
            }, "the pad appears: \(report.checks.map(\.id))")
        let devices = report.checks.filter { $0.section != .system }
        #expect(devices.allSatisfy { $0.status == .pass }, "\(devices.filter { $0.status != .pass })")
        #expect(devices.contains { $0.id == "camera.v4l2:platform:vivid-000" } && devices.contains { $0.id == "scanner.test:0" })
        #expect(report.checks.first { $0.id == "access.video" }?.status == .pass && report.checks.first { $0.id == "access.usb" }?.status == .pass)

        try pad.unplug()
        var unplugged = DiagnosticReport(checks: [])
        var status: Int32 = 0
        #expect(
            try await eventually(within: .seconds(30), every: .milliseconds(200)) {
                (status, unplugged) = try await doctor(expect)
                return !unplugged.checks.contains { $0.id.hasPrefix("pad.usb:") }
            })
        let line = try #require(unplugged.checks.first { $0.id == "pads" }, "\(unplugged.checks.map(\.id))")
        #expect(line.status == .fail && line.message == "no signature pad found")
        #expect(line.hint?.contains("replug it") == true && line.hint?.contains("lsusb") == true)
        #expect(status == 1)
    }

    @Test func theCameraSelfTestMeasuresFramesAndBrightness() async throws {
        let run = try await runCommandAsync(
            [
                SANETestEnvironment.counterkitExecutable, "test", "v4l2:platform:vivid-000", "--formats", "YUYV",
                "--json", "--keep", "/tmp/ck-camera-selftest",
            ], environment: environment)
        let json = try #require(run.output.firstIndex(of: "[").map { String(run.output[$0...]) }, "\(run.output)")
        let result = try #require(try Self.decoder.decode([SelfTestResult].self, from: Data(json.utf8)).first)
        #expect(result.steps.map(\.id) == ["controls", "format.YUYV", "framerate", "brightness"], "\(result.steps)")
        #expect(result.steps.first { $0.id == "format.YUYV" }?.message == "photo at 3840x2160")
        #expect(result.steps.first { $0.id == "controls" }?.status == .pass)
        // vivid's 75% colour bars: neither black nor blown out.
        let brightness = try #require(result.measurements["meanBrightness"])
        #expect(brightness > 60 && brightness < 200 && result.steps.first { $0.id == "brightness" }?.status == .pass)
        #expect((result.measurements["framesPerSecond"] ?? 0) > 0)
        #expect(result.status != .fail, "\(result.steps)")
        let image = try #require(result.images.first)
        #expect(try DecodedImage.jpeg([UInt8](Data(contentsOf: URL(fileURLWithPath: image.path)))).width == 3840)
    }

    @Test func thePadSelfTestCountsReportsWhileSomeoneSigns() async throws {
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "stutest", emulator: emulator)
        defer { pad.remove() }
        var interface: USBHIDInterface?
        #expect(
            try await eventually(within: .seconds(10)) {
                interface = try USBTransport.hidInterfaces().first { $0.vendorID == STU.vendorID }
                return interface != nil
            })
        let id = try #require(interface?.id)
        let test = try ChildProcess(
            executable: SANETestEnvironment.counterkitExecutable,
            arguments: ["test", id, "--pad-seconds", "4", "--json", "--keep", "/tmp/ck-pad-selftest"],
            environment: environment, pipeInput: false, discardErrors: true)
        // Signed once the self-test's session has switched the pad's inking on.
        #expect(await eventually(within: .seconds(20)) { emulator.sentCommands.contains(STU.Command.inking(true)) }, "the self-test opened the pad")
        // 300 reports 8 ms apart by the pad's clock (125 Hz, below the 200 the STU-530 promises) with two lost on the
        // way: the rate must be what the reports say, not the model's promise, and too slow a pad is a warning.
        emulator.push(stroke(from: 0, count: 300, skipping: [100, 101], milliseconds: 8))
        let output = String(decoding: await test.outputToEnd(), as: UTF8.self)
        #expect(await test.ended() == .exited(0), "\(output)")
        let json = try #require(output.firstIndex(of: "[").map { String(output[$0...]) }, "\(output)")
        let result = try #require(try Self.decoder.decode([SelfTestResult].self, from: Data(json.utf8)).first)
        #expect(result.steps.map(\.id) == ["information", "reports", "coverage"], "\(result.steps)")
        #expect(result.steps.first?.message.contains("STU-530 firmware 2.10") == true)
        #expect(result.measurements["lostReports"] == 2 && result.steps.first { $0.id == "reports" }?.status == .warn)
        // 298 reports over 299 intervals of 8 ms (the two lost ones leave a 24 ms gap): 297 / 2.392 s = 124 per second.
        #expect(result.measurements["reportsPerSecond"] == 124, "\(result.measurements)")
        #expect(
            result.steps.first { $0.id == "reports" }?.message.contains("298 reports, 124 per second (pad promises 200), 2 lost") == true,
            "\(result.steps)")
        #expect((result.measurements["coveredWidthPercent"] ?? 0) > 0 && result.steps.last?.status == .pass)
        let trace = try #require(result.images.first { $0.label == "pen trace" })
        #expect(try String(contentsOfFile: trace.path, encoding: .utf8).contains("<svg"))
    }
}
