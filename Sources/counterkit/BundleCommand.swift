import ArgumentParser
import Attachments
import Cameras
import ChildProcesses
import DeviceService
import Diagnostics
import Foundation
import Scanning
import SignaturePads

struct BundleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Collect everything a remote colleague needs into one .tar.gz, with report.html to open in a browser.",
        discussion: """
            The bundle holds versions.txt, doctor.json, devices.json (every option, format and control), \
            service.log (journald), service-file.log (the service's own log file in its spool), selftests.json with the self-test images (scan, photo, pen trace) and report.html, \
            one self-contained page showing all of it. Sign on the pad while its test runs (--pad-seconds, 0 to skip).
            """)

    @Option(help: ArgumentHelp("The bundle to write (.tar.gz).", valueName: "FILE"))
    var output: String

    @Option(help: "Seconds to watch each signature pad (0: no pad self-test).")
    var padSeconds: Int = 5

    @Option(help: ArgumentHelp("Test only these camera formats (FourCC, comma-separated; default all).", valueName: "LIST"))
    var formats: String?

    @Flag(help: "Leave out the device self-tests.")
    var noSelfTests = false

    @Option(help: "Seconds to wait for scanner discovery.")
    var timeout: Int = 15

    @OptionGroup var spool: SpoolOptions

    @OptionGroup var connection: ServiceConnection

    func run() async throws {
        guard output.hasSuffix(".tar.gz") || output.hasSuffix(".tgz") else {
            throw fail(.invalidValue, "--output must end in .tar.gz or .tgz")
        }
        guard (0...600).contains(padSeconds) else { throw fail(.invalidValue, "--pad-seconds must be 0…600") }
        let socket = try connection.socketToUse()
        let host = ProcessInfo.processInfo.hostName.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }.map(String.init).joined()
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let name = "counterkit-bundle-\(host)-\(stamp)"
        let staging = FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-bundle-\(getpid())")
        let root = staging.appendingPathComponent(name)
        defer { try? FileManager.default.removeItem(at: staging) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("images"), withIntermediateDirectories: true)
        func note(_ text: String) { FileHandle.standardError.write(Data("bundle: \(text)\n".utf8)) }

        note("versions")
        let versions = versions()
        try versions.write(to: root.appendingPathComponent("versions.txt"), atomically: true, encoding: .utf8)
        note("doctor")
        let report = await DoctorCommand.diagnose(socket: socket ?? connection.socket, timeout: timeout, expect: [])
        try encoder.encode(report).write(to: root.appendingPathComponent("doctor.json"))
        if let socket, let reply = try? await ServiceClient(socketPath: socket, idleTimeout: .seconds(30)).send("GET", "/v1/diagnostics"), reply.status == 200 {
            try Data(reply.body).write(to: root.appendingPathComponent("service-diagnostics.json"))
        }
        note("device details")
        let dumps = await deviceDumps(report: report)
        try encoder.encode(Dictionary(uniqueKeysWithValues: dumps.map { ($0.id, $0.value) }))
            .write(to: root.appendingPathComponent("devices.json"))
        let journal = serviceJournal()
        try
            (journal ?? "no journal for counterkit.service on this machine (journald not running, or the service never ran under systemd); "
            + "see service-file.log\n").write(to: root.appendingPathComponent("service.log"), atomically: true, encoding: .utf8)
        // The service's own log file (in its spool), kept even where there is no journald.
        let fileLog = serviceLogFile()
        try (fileLog ?? "no log file at \(logFilePath) (the service has not run with this spool, or it cannot be read)\n")
            .write(to: root.appendingPathComponent("service-file.log"), atomically: true, encoding: .utf8)
        let log = journal ?? fileLog ?? ""

        var tests: [SelfTestResult] = []
        if !noSelfTests {
            let devices = report.deviceIDs.filter { padSeconds > 0 || SelfTests.family(of: $0) != .pad }
            note("self-tests: \(devices.isEmpty ? "no devices" : devices.joined(separator: ", "))")
            var runner = SelfTestRunner(socket: socket, padSeconds: max(1, padSeconds), live: isatty(STDOUT_FILENO) == 1)
            runner.cameraFormats = formats.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() }) }
            runner.keep = staging.appendingPathComponent("spool").path
            tests = await runner.runAll(deviceIDs: devices)
            // The images travel in the bundle: copied under images/, paths made relative to the bundle.
            for index in tests.indices {
                for imageIndex in tests[index].images.indices {
                    let source = URL(fileURLWithPath: tests[index].images[imageIndex].path)
                    let target = root.appendingPathComponent("images/\(index)-\(imageIndex)-\(source.lastPathComponent)")
                    try? FileManager.default.copyItem(at: source, to: target)
                    tests[index].images[imageIndex].path = target.path
                }
            }
        }
        let page = ReportPage(
            report: report, selfTests: tests,
            deviceDumps: dumps.map { ($0.id, String(decoding: (try? encoder.encode($0.value)) ?? Data(), as: UTF8.self)) },
            logTail: log.split(separator: "\n", omittingEmptySubsequences: false).suffix(200).joined(separator: "\n"),
            versions: versions)
        try page.html().write(to: root.appendingPathComponent("report.html"), atomically: true, encoding: .utf8)
        for index in tests.indices {
            for imageIndex in tests[index].images.indices {
                tests[index].images[imageIndex].path = "images/" + URL(fileURLWithPath: tests[index].images[imageIndex].path).lastPathComponent
            }
        }
        try encoder.encode(tests).write(to: root.appendingPathComponent("selftests.json"))

        // tar writes a temporary file beside the output, published by rename: never a half-written bundle.
        let temp = AtomicOutput.temporaryPath(for: output)
        let tar = try ChildProcess(executable: "tar", arguments: ["-czf", temp, "-C", staging.path, name], pipeInput: false, pipeOutput: false)
        guard tar.wait() == .exited(0) else {
            unlink(temp)
            throw fail(.ioError, "tar could not write \(temp)")
        }
        try AtomicOutput.commit(temp, to: output)
        let failed = tests.filter { $0.status == .fail }.count
        print(
            "\(output): \(report.checks.count) checks (\(report.status.rawValue)), \(tests.count) self-tests\(failed > 0 ? " (\(failed) failed)" : ""), open \(name)/report.html"
        )
    }

    private var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// CounterKit's, the system's and the libraries' versions.
    private func versions() -> String {
        var lines = ["counterkit \(CounterKitCommand.version)"]
        var name = utsname()
        uname(&name)
        let field = { (value: Any) in withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
        lines.append("kernel: \(field(name.sysname)) \(field(name.release)) \(field(name.version)) \(field(name.machine))")
        if let release = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8),
            let pretty = release.split(separator: "\n").first(where: { $0.hasPrefix("PRETTY_NAME=") })
        {
            lines.append("system: " + pretty.dropFirst(12).trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
        }
        lines.append("packages:")
        lines.append(
            run(
                "dpkg-query",
                [
                    "-W", "-f=${Package} ${Version} ${Status}\\n", "libsane1", "libusb-1.0-0", "libv4l-0", "libv4lconvert0",
                    "libjpeg62-turbo", "libturbojpeg0", "libpng16-16", "libfreetype6", "sane-utils",
                ])
                ?? "  (dpkg-query not available)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The service's recent journal; nil where journald has none (no systemd, or the service never ran under it).
    private func serviceJournal() -> String? {
        guard let text = run("journalctl", ["-u", "counterkit.service", "-u", "counterkit.socket", "-n", "2000", "--no-pager", "-o", "short-iso"])
        else { return nil }
        let lines = text.split(separator: "\n").filter { !$0.hasPrefix("-- ") }
        return lines.isEmpty ? nil : text
    }

    /// Where the service keeps its own log file: `log/service.log` in its spool.
    private var logFilePath: String { spool.directory.appendingPathComponent("log/service.log").path }

    /// The service's log file with the rotated one before it, oldest first; nil when there is none.
    private func serviceLogFile() -> String? {
        let parts = [logFilePath + ".1", logFilePath].compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
        return parts.isEmpty ? nil : parts.joined()
    }
    private func run(_ command: String, _ arguments: [String]) -> String? {
        guard let child = try? ChildProcess(executable: command, arguments: arguments, pipeInput: false, discardErrors: true) else { return nil }
        let output = String(decoding: child.readAllOutput(), as: UTF8.self)
        return child.wait() == .exited(0) ? output : (output.isEmpty ? nil : output)
    }

    /// Full dumps: scanner options, camera formats and controls, pad facts.
    private func deviceDumps(report: DiagnosticReport) async -> [(id: String, value: DeviceDump)] {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-bundle-dump-\(getpid())")
        defer { try? FileManager.default.removeItem(at: spool) }
        guard let store = try? AttachmentStore(directory: spool) else { return [] }
        let scanner = SANEScanner(store: store, discoveryTimeout: .seconds(timeout))
        var dumps: [(String, DeviceDump)] = []
        for id in report.deviceIDs {
            switch SelfTests.family(of: id) {
            case .scanner:
                do throws(ScanError) { dumps.append((id, .scanner(try scanner.options(device: id)))) } catch { dumps.append((id, .error(error.message))) }
            case .camera:
                do throws(CameraError) { dumps.append((id, .camera(try CameraDiscovery().resolve(id)))) } catch { dumps.append((id, .error(error.message))) }
            case .pad:
                do throws(SignaturePadError) {
                    let (connection, driver) = try SignaturePadDrivers.openPad(id)
                    connection.close()
                    dumps.append((id, .pad(driver.description)))
                } catch { dumps.append((id, .error(error.message))) }
            }
        }
        return dumps
    }
}

/// One device's full description in the bundle.
enum DeviceDump: Encodable {
    case scanner(DeviceOptions), camera(CameraInfo), pad(PadDescription), error(String)

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .scanner(let options): try options.encode(to: encoder)
        case .camera(let camera): try camera.encode(to: encoder)
        case .pad(let pad): try pad.encode(to: encoder)
        case .error(let message): try ["error": message].encode(to: encoder)
        }
    }
}
