import ArgumentParser
import Attachments
import DeviceHub
import DeviceService
import Diagnostics
import Foundation
import Scanning
import Sealing

extension DeviceFamily: ExpressibleByArgument {}

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the system and every device; one PASS / WARN / FAIL line each, with the fix.",
        discussion: """
            System checks (libraries, SANE configuration, udev rules, the counterkit group, device node access, \
            the service socket and its systemd units), then one section per device family. With --deep, each device \
            also runs its self-test (as `counterkit test`). Exit status 1 when any check fails.
            """)

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Option(help: "Seconds to wait for scanner discovery.")
    var timeout: Int = 15

    @Option(help: ArgumentHelp("The service socket to check (default: the system socket, then the user's).", valueName: "PATH"))
    var socket: String?

    @Option(
        help: ArgumentHelp(
            "A device family this counter must have (scanner, camera, pad); repeatable. A missing one fails.",
            valueName: "FAMILY"))
    var expect: [DeviceFamily] = []

    @Flag(help: "Also run each device's self-test (a small scan, the camera's formats, the pad's reports).")
    var deep = false

    @Option(
        help: ArgumentHelp(
            "The service's configuration file, whose counter key ([seal] key: a file or a PKCS#11 token) is checked.",
            discussion: "Default: /etc/counterkit/counterkit.toml when it exists.", valueName: "FILE"))
    var config: String?

    func run() async throws {
        var report = await Self.diagnose(socket: socket, timeout: timeout, expect: Set(expect))
        if let check = Self.counterKeyCheck(config: config) { report.checks.append(check) }
        if deep {
            let runner = SelfTestRunner(socket: socket, padSeconds: 5, live: !json && isatty(STDOUT_FILENO) == 1)
            let tests = await runner.runAll(deviceIDs: report.deviceIDs)
            runner.removeTemporaryImages()
            report.checks += tests.map(\.check)
        }
        if json {
            try printJSON(report)
        } else {
            print(DoctorText.render(report))
        }
        if report.failed { throw ExitCode(1) }
    }

    /// The counter key the configuration names, opened as the service would open it: a key file's mode and format, or
    /// a PKCS#11 token's presence, PIN and key. Nil when no configuration names a key.
    static func counterKeyCheck(config: String?) -> DiagnosticCheck? {
        let path = config ?? (FileManager.default.fileExists(atPath: ServiceSettings.defaultPath) ? ServiceSettings.defaultPath : nil)
        guard let path else { return nil }
        let settings: ServiceSettings
        do { settings = try ServiceSettings.load(path: path) } catch {
            return DiagnosticCheck(id: "seal.key", section: .system, status: .fail, message: "\(error)", hint: "fix the configuration file \(path)")
        }
        guard let keyPath = settings.sealKey else { return nil }
        do throws(SealError) {
            let key = try CounterKey.load(from: keyPath)
            let place = key.isInToken ? "in a PKCS#11 token" : keyPath
            return DiagnosticCheck(
                id: "seal.key", section: .system, status: .pass, message: "counter key \(key.keyID) (\(key.algorithm.rawValue), \(place)) signs")
        } catch {
            let hint =
                keyPath.hasPrefix("pkcs11:")
                ? (error.code == .notFound
                    ? "plug in the token the [seal] key URI names (check token= in the URI; `p11tool --list-tokens` lists the tokens present)"
                    : "check the URI's object=/id= and its PIN (pin-source= names a file holding it)")
                : "the message says what to fix; `counterkit keys show --key \(keyPath)` checks the key again"
            return DiagnosticCheck(id: "seal.key", section: .system, status: .fail, message: "[seal] key: \(error.message)", hint: hint)
        }
    }

    /// The doctor's report: the system checks, then the devices through a hub — the service's when one answers (so
    /// the doctor never fights it for a device), else this process's, discovering in a temp spool.
    static func diagnose(socket: String?, timeout: Int, expect: Set<DeviceFamily>) async -> DiagnosticReport {
        var system = SystemChecks()
        system.socketPath = socket
        let doctor = Doctor(system: system, devices: DeviceChecks(expected: expect))
        let probe: (String) async -> ServiceProbe = { await ServiceClient(socketPath: $0).probe() }
        let serving = (socket.map { [$0] } ?? [ListenAddress.defaultSocketPath]).first { ServiceClient.isServing(at: $0) }
        if let serving {
            struct Health: Decodable { var saneVersion: String? }
            let client = ServiceClient(socketPath: serving, idleTimeout: .seconds(Int64(timeout) + 15))
            let sane = try? await client.send("GET", "/v1/health").decode(Health.self).saneVersion
            return await doctor.run(
                hub: ServiceDeviceHub(socketPath: serving, idleTimeout: .seconds(Int64(timeout) + 15)),
                saneVersion: sane, probe: probe)
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-doctor-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        guard let store = try? AttachmentStore(directory: directory) else {
            var report = DiagnosticReport(checks: await system.run(probe: probe))
            report.checks.append(
                DiagnosticCheck(
                    id: "sane.scanners", section: .scanners, status: .fail, message: "cannot create a temp directory",
                    hint: "check TMPDIR"))
            return report
        }
        let scanner = SANEScanner(store: store, discoveryTimeout: .seconds(timeout))
        let hub = LocalDeviceHub(store: store, scanner: scanner)
        // Discovery first: the scan worker reports libsane's version as it runs.
        _ = try? await hub.devices(refresh: true)
        return await doctor.run(hub: hub, refresh: false, saneVersion: scanner.saneVersion, probe: probe)
    }
}

/// The doctor's text output: a heading per section, a line per check, the fix under each WARN and FAIL.
enum DoctorText {
    static func render(_ report: DiagnosticReport) -> String {
        var lines: [String] = []
        for section in DiagnosticCheck.Section.allCases {
            let checks = report.checks(in: section)
            guard !checks.isEmpty else { continue }
            if !lines.isEmpty { lines.append("") }
            lines.append("== \(section.rawValue) ==")
            for check in checks {
                lines.append("\(check.status.rawValue)  \(check.id): \(check.message)")
                if let hint = check.hint, check.status != .pass { lines.append("      fix: \(hint)") }
            }
        }
        let counts = [DiagnosticCheck.Status.pass, .warn, .fail].map { status in "\(report.checks.filter { $0.status == status }.count) \(status.rawValue)" }
        lines.append("")
        lines.append("\(report.status.rawValue): " + counts.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }
}

extension DiagnosticReport {
    /// The ids of the devices the report found, for self-tests.
    var deviceIDs: [String] {
        checks.compactMap { check in
            guard check.status == .pass else { return nil }
            for prefix in ["scanner.", "camera.", "pad."] where check.id.hasPrefix(prefix) && check.section != .system {
                return String(check.id.dropFirst(prefix.count))
            }
            return nil
        }
    }
}
