import ArgumentParser
import Attachments
import Cameras
import DeviceHub
import DeviceService
import Diagnostics
import Foundation
import Scanning
import SignaturePads

struct SelfTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Self-test a device: scanner (options, a small scan), camera (every format, frame rate, brightness), pad (reports while you sign).",
        discussion: """
            DEVICE is an id from `counterkit devices`: a SANE name (test:0), a camera (v4l2:… or /dev/videoN) or a pad (usb:…). \
            When the service is running the test goes through its socket, so it never fights the service for the device. \
            Exit status 1 when a step fails.
            """)

    @Argument(help: "The device to test.")
    var device: String

    @Option(help: "Seconds to watch the signature pad (sign while it runs).")
    var padSeconds: Int = 5

    @Option(help: ArgumentHelp("Test only these camera formats (FourCC, comma-separated).", valueName: "LIST"))
    var formats: String?

    @Option(help: ArgumentHelp("Keep the test images in this directory.", valueName: "DIR"))
    var keep: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var connection: ServiceConnection

    func run() async throws {
        guard padSeconds > 0, padSeconds <= 600 else { throw fail(.invalidValue, "--pad-seconds must be 1…600") }
        var runner = SelfTestRunner(
            socket: try connection.socketToUse(), padSeconds: padSeconds,
            live: !json && isatty(STDOUT_FILENO) == 1)
        runner.cameraFormats = formats.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() }) }
        runner.keep = keep
        var results = await runner.runAll(deviceIDs: [device])
        if keep == nil {
            // The test images were only needed to measure; without --keep they go, and no path to them is printed.
            runner.removeTemporaryImages()
            results = results.map {
                var result = $0; result.images = []; return result
            }
        }
        if json { try printJSON(results) } else { results.forEach { print(SelfTestText.render($0)) } }
        if keep == nil && !json { print("(--keep DIR keeps the test images)") }
        if results.contains(where: { $0.status == .fail }) { throw ExitCode(1) }
    }
}

/// Runs self-tests directly or through the service; images go to a temp spool, or `keep`.
struct SelfTestRunner {
    var socket: String?
    var padSeconds: Int
    var live: Bool
    var cameraFormats: Set<String>?
    var keep: String?

    init(socket: String?, padSeconds: Int, live: Bool) {
        self.socket = socket
        self.padSeconds = padSeconds
        self.live = live
    }

    /// Where the test images go: `keep`, or a temp directory of this process.
    var spoolDirectory: URL {
        keep.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-selftest-\(getpid())")
    }

    /// Removes the temp directory of test images (nothing when they are kept).
    func removeTemporaryImages() {
        if keep == nil { try? FileManager.default.removeItem(at: spoolDirectory) }
    }

    func runAll(deviceIDs: [String]) async -> [SelfTestResult] {
        let images = spoolDirectory
        // Captures made in this process go to a store of their own, removed at the end; the images are copies.
        let storeDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-selftest-store-\(getpid())")
        defer { try? FileManager.default.removeItem(at: storeDirectory) }
        let hub: any DeviceHub
        do {
            try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
            hub =
                try socket.map { ServiceDeviceHub(socketPath: $0, idleTimeout: .seconds(120)) }
                ?? LocalDeviceHub(store: AttachmentStore(directory: storeDirectory))
        } catch {
            return deviceIDs.map {
                SelfTestResult(
                    device: $0, family: SelfTests.family(of: $0), viaService: false,
                    steps: [
                        DiagnosticCheck(
                            id: "spool", status: .fail, message: "cannot use \(images.path) for test images: \(error)",
                            hint: "check TMPDIR or --keep")
                    ],
                    measurements: [:], images: [])
            }
        }
        var tests = SelfTests(hub: hub, viaService: socket != nil, cameraFormats: cameraFormats)
        tests.padDuration = .seconds(padSeconds)
        tests.imageDirectory = images
        var results: [SelfTestResult] = []
        for device in deviceIDs {
            let trace = live && SelfTests.family(of: device) == .pad ? LiveTrace() : nil
            // Ask someone to sign only on a pad that is there (an unknown one fails its test at once).
            if SelfTests.family(of: device) == .pad,
                (try? await hub.devices(refresh: false))?.devices.contains(where: { $0.id == device }) == true
            {
                FileHandle.standardError.write(Data("sign on the pad \(device) now (\(padSeconds) s)…\n".utf8))
            }
            let result = await tests.run(device) { trace?.add($0) }
            trace?.end()
            results.append(result)
        }
        return results
    }
}

/// A self-test's text: a heading, a line per step with its fix, the figures and the images.
enum SelfTestText {
    static func render(_ result: SelfTestResult) -> String {
        var lines = ["== self-test \(result.device) (\(result.family.rawValue)\(result.viaService ? ", through the service" : "")) =="]
        for step in result.steps {
            lines.append("\(step.status.rawValue)  \(step.id): \(step.message)")
            if let hint = step.hint, step.status != .pass { lines.append("      fix: \(hint)") }
        }
        if !result.measurements.isEmpty {
            lines.append(
                "figures: " + result.measurements.sorted { $0.key < $1.key }.map { "\($0.key)=\(SelfTestResult.formatted($0.value))" }.joined(separator: " "))
        }
        lines += result.images.map { "image: \($0.path) (\($0.label))" }
        lines.append("\(result.status.rawValue): \(result.device)")
        return lines.joined(separator: "\n")
    }
}

/// The pen's trace drawn in the terminal while the technician signs, redrawn at most ten times a second.
final class LiveTrace: @unchecked Sendable {
    private let lock = NSLock()
    private var points: [(x: Double, y: Double)] = []
    private var drawnLines = 0
    private var lastDraw = ContinuousClock.now - .seconds(1)
    private let columns = 64, rows = 16

    func add(_ samples: [PenSample]) {
        lock.withLock {
            points += samples.filter(\.touching).map { ($0.x, $0.y) }
            if ContinuousClock.now - lastDraw >= .milliseconds(100) { draw() }
        }
    }

    func end() { lock.withLock { draw() } }

    /// Scales the ink seen so far to the canvas and prints it over the previous drawing.
    private func draw() {
        lastDraw = ContinuousClock.now
        var grid = Array(repeating: Array(repeating: Character(" "), count: columns), count: rows)
        if let minX = points.map(\.x).min(), let maxX = points.map(\.x).max(), let minY = points.map(\.y).min(), let maxY = points.map(\.y).max() {
            let scale = max((maxX - minX) / Double(columns - 1), (maxY - minY) / Double(rows - 1) * 2, 1e-9)
            for point in points {
                let column = min(columns - 1, Int((point.x - minX) / scale))
                let row = min(rows - 1, Int((point.y - minY) / scale / 2))
                grid[row][column] = "#"
            }
        }
        var text = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
        text += "+" + String(repeating: "-", count: columns) + "+\n"
        for row in grid { text += "|" + String(row) + "|\n" }
        text += "+" + String(repeating: "-", count: columns) + "+ \(points.count) ink samples\n"
        drawnLines = rows + 2
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
