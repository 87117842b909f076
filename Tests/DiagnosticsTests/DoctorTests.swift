import CounterKitTestSupport
import Foundation
import Testing

@testable import Diagnostics

/// `counterkit doctor` against libsane's test backend, and the system checks with their inputs broken on purpose.
@Suite(.ownThreads) struct DoctorTests {
    struct Run {
        var status: Int32
        var report: DiagnosticReport
        func line(_ id: String) throws -> DiagnosticCheck { try #require(report.checks.first { $0.id == id }, "\(report.checks.map(\.id))") }
    }

    func doctor(_ arguments: [String] = [], saneConfig: String = SANETestEnvironment.configDirectory) async throws -> Run {
        var environment = ProcessInfo.processInfo.environment
        environment["SANE_CONFIG_DIR"] = saneConfig
        let run = try await runCommandAsync([SANETestEnvironment.counterkitExecutable, "doctor", "--json"] + arguments, environment: environment)
        let json = try #require(run.output.firstIndex(of: "{").map { String(run.output[$0...]) }, "\(run.output)")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return Run(status: run.status, report: try decoder.decode(DiagnosticReport.self, from: Data(json.utf8)))
    }

    @Test func theSANETestBackendPasses() async throws {
        let run = try await doctor()
        #expect(try run.line("sane.config").status == .pass)
        #expect(try run.line("lib.libsane").status == .pass)
        let scanner = try run.line("scanner.test:0")
        #expect(scanner.status == .pass && scanner.section == .scanners && scanner.message.contains("frontend-tester"))
        #expect(run.report.checks.filter { $0.section == .system }.map(\.id).starts(with: ["lib.libpng", "lib.libjpeg", "lib.libusb", "lib.libv4l"]))
        for id in ["udev.rules", "group", "access.usb", "access.video", "service.socket", "service.units"] {
            #expect(run.report.checks.contains { $0.id == id }, "missing \(id)")
        }
        #expect((run.status != 0) == run.report.failed, "the exit status says whether anything failed")
    }

    @Test func aBackendWithoutItsLibraryFailsWithTheFix() async throws {
        let directory = try TemporaryDirectory("ck-sane")
        try "test\nnosuchbackend\n".write(toFile: directory.path("dll.conf"), atomically: true, encoding: .utf8)
        let run = try await doctor(saneConfig: directory.url.path)
        let line = try run.line("sane.config")
        #expect(line.status == .fail && line.message.contains("nosuchbackend"))
        #expect(line.hint?.contains("libsane-nosuchbackend.so.1") == true && line.hint?.contains("remove the line 'nosuchbackend'") == true)
        #expect(run.status == 1)
        // The scanners that do have a backend are still listed.
        #expect(try run.line("scanner.test:0").status == .pass)
    }

    @Test func anExpectedFamilyThatIsMissingFails() async throws {
        let run = try await doctor(["--expect", "camera"])
        #expect(try run.line("cameras").status == .fail, "this machine has no V4L2: an expected camera is missing")
        #expect(try run.line("pads").status == .warn, "pads were not expected")
        #expect(run.status == 1)
    }

    @Test func udevRulesMissingOutdatedAndInstalled() throws {
        let directory = try TemporaryDirectory("ck-udev")
        var checks = SystemChecks()
        checks.udevRuleDirectories = [directory.url.path]
        let missing = checks.udevRules()
        #expect(missing.status == .fail && missing.hint == UdevRules.installCommand)
        let installed = directory.path(UdevRules.fileName)
        try ("# a comment of our own\n" + UdevRules.text + "\n").write(toFile: installed, atomically: true, encoding: .utf8)
        #expect(checks.udevRules().status == .pass, "comments do not count")
        try UdevRules.text.replacingOccurrences(of: "SUBSYSTEM==\"video4linux\", ", with: "#").write(toFile: installed, atomically: true, encoding: .utf8)
        let outdated = checks.udevRules()
        #expect(outdated.status == .warn && outdated.message.contains("differs") && outdated.hint == UdevRules.installCommand)
    }

    @Test func theRepositoryRulesFileIsWhatSetupPrints() throws {
        let file = try String(contentsOfFile: repositoryRoot().appendingPathComponent("udev/70-counterkit.rules").path, encoding: .utf8)
        #expect(file == UdevRules.text + "\n")
        let printed = try runCommand([SANETestEnvironment.counterkitExecutable, "setup", "udev-rules"])
        #expect(printed.status == 0 && printed.output == file)
    }

    @Test func theServiceGroup() throws {
        var checks = SystemChecks()
        checks.serviceGroup = "counterkit-no-such-group"
        let missing = checks.group()
        #expect(missing.status == .fail && missing.hint == "sudo groupadd --system counterkit-no-such-group")
        checks.serviceGroup = String(cString: getgrgid(getgid())!.pointee.gr_name)
        #expect(checks.group().status == .pass, "the user's own primary group")
    }

    /// systemctl's answers through a stand-in script (systemd does not run in CI's containers).
    @Test(arguments: [
        ("offline", "", "", "", DiagnosticCheck.Status.warn),
        ("running", "", "", "", .fail),
        ("running", "enabled", "active", "inactive", .pass),
        ("running", "enabled", "inactive", "inactive", .fail),
        ("running", "enabled", "active", "failed", .fail),
        ("running", "disabled", "active", "active", .warn),
    ])
    func systemdUnitStates(system: String, enabled: String, socket: String, service: String, expected: DiagnosticCheck.Status) throws {
        let directory = try TemporaryDirectory("ck-systemctl")
        let script = directory.path("systemctl")
        try """
        #!/bin/sh
        case "$1 $2" in
          "is-system-running ") echo \(system) ;;
          "is-enabled counterkit.socket") [ -n "\(enabled)" ] && echo \(enabled) ;;
          "is-active counterkit.socket") echo \(socket) ;;
          "is-active counterkit.service") echo \(service) ;;
        esac
        """.write(toFile: script, atomically: true, encoding: .utf8)
        var checks = SystemChecks()
        // Run by sh, not exec'd: a script just written may still be open in a child another test forks (ETXTBSY).
        checks.systemctl = ["/bin/sh", script]
        let line = checks.systemdUnits()
        #expect(line.status == expected, "\(line.message)")
        if expected == .fail { #expect(line.hint?.contains("systemctl") == true) }
    }

    /// A machine without /dev/bus/usb (a container) is told USB is missing, not to install udev rules.
    @Test func noUSBAtAllIsSaidPlainly() throws {
        let directory = try TemporaryDirectory("ck-dev")
        var checks = SystemChecks()
        checks.deviceDirectory = directory.url.path
        let line = checks.usbAccess()
        #expect(line.status == .warn && line.message.contains("shows no USB devices"))
        #expect(line.hint?.contains("USB is missing, not a permission") == true && line.hint?.contains("udev") == false, "\(line.hint ?? "")")
    }

    @Test func theReportPageShowsTheVersions() {
        let html = ReportPage(report: DiagnosticReport(checks: []), versions: "counterkit 0.1.0\nkernel: Linux 6.1 <x86_64>\n").html()
        #expect(html.contains("<section id=\"versions\"><h2>Versions</h2>") && html.contains("kernel: Linux 6.1 &lt;x86_64&gt;"))
    }

    @Test func theReportPageEscapesAndEmbeds() throws {
        let directory = try TemporaryDirectory("ck-page")
        let png = directory.path("dot.png")
        try Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")!.write(
            to: URL(fileURLWithPath: png))
        let report = DiagnosticReport(checks: [DiagnosticCheck(id: "x", status: .fail, message: "<script>alert(1)</script>", hint: "a & b")])
        let test = SelfTestResult(
            device: "test:0", family: .scanner, viaService: false,
            steps: [DiagnosticCheck(id: "scan", status: .pass, message: "ok")],
            images: [SelfTestImage(label: "scan", path: png), SelfTestImage(label: "gone", path: directory.path("gone.png"))])
        let html = ReportPage(report: report, selfTests: [test]).html()
        #expect(!html.contains("<script>alert") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && html.contains("a &amp; b"))
        #expect(html.contains("data:image/png;base64,iVBORw0KGgo") && html.contains("image missing:"))
        #expect(html.contains("data-images-total=\"1\""))
    }
}
