import CounterKitTestSupport
import Foundation
import Testing

/// `counterkit doctor`'s camera lines against vivid in the test VM: a healthy camera passes, and a node the
/// user may not open fails with the fix to apply.
@Suite(.serialized, .enabled(if: insideTestVM, "runs in the test VM (scripts/vm-run)"))
struct DoctorInGuestTests {
    struct Report: Decodable {
        struct Line: Decodable { var id: String; var status: String; var message: String; var hint: String? }
        var checks: [Line]
    }

    init() throws { try VividModule.load() }

    func doctor(asUser user: Int? = nil) async throws -> (status: Int32, report: Report) {
        var command = [SANETestEnvironment.counterkitExecutable, "doctor", "--json", "--timeout", "30"]
        if let user { command = ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--clear-groups"] + command }
        var environment = ProcessInfo.processInfo.environment.merging(SANETestEnvironment.environment) { $1 }
        environment["TMPDIR"] = "/tmp"
        let run = try await runCommandAsync(command, environment: environment)
        let json = try #require(run.output.firstIndex(of: "{").map { String(run.output[$0...]) }, "\(run.output)")
        return (run.status, try JSONDecoder().decode(Report.self, from: Data(json.utf8)))
    }

    @Test func aHealthyCameraPasses() async throws {
        let (_, report) = try await doctor()
        let line = try #require(report.checks.first { $0.id == "camera.v4l2:platform:vivid-000" }, "\(report.checks.map(\.id))")
        #expect(line.status == "PASS")
        #expect(line.message.contains("/dev/video0") && line.message.contains("83 formats") && line.message.contains("largest 3840x2160"))
        #expect(report.checks.first { $0.id == "access.video" }?.status == "PASS")
    }

    @Test func aNodeTheUserCannotOpenFailsWithTheFix() async throws {
        let nobody = 65534
        var original = stat()
        #expect(stat(VividModule.capturePath, &original) == 0)
        #expect(chmod(VividModule.capturePath, 0o600) == 0)
        defer { chmod(VividModule.capturePath, original.st_mode & 0o7777) }
        let (status, report) = try await doctor(asUser: nobody)
        #expect(status != 0, "a FAIL line makes doctor exit non-zero")
        let line = try #require(report.checks.first { $0.id == "camera./dev/video0" }, "\(report.checks.map(\.id))")
        #expect(line.status == "FAIL" && line.message.contains("access_denied"))
        #expect(line.hint?.contains("usermod -aG video") == true)
        #expect(report.checks.first { $0.id == "access.video" }?.status == "FAIL")
    }
}
