import ChildProcesses
import CounterKit
import CounterKitTestSupport
import Foundation
import Glibc
import Testing

/// The library API an integrator uses, against libsane's test backend; and the examples in Examples/.
@Suite(.ownThreads) struct IntegratorAPITests {
    /// The folder the test bundle and the package's executables are built into.
    static let buildDirectory = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "")
        .deletingLastPathComponent().path

    @Test func scanUpdatesAreProgressThenTheResult() async throws {
        let directory = try TemporaryDirectory("ck-updates")
        let store = try AttachmentStore(directory: directory.url, retention: .keepAll)
        let scanner = SANEScanner(store: store, worker: SANETestEnvironment.launcher)
        var progress: [ScanProgress] = [], result: ScanResult?
        for try await update in scanner.updates(ScanRequest(device: "test:0", mode: .color, resolution: 150, format: .png)) {
            switch update {
            case .progress(let step): progress.append(step)
            case .completed(let done): result = done
            }
        }
        let done = try #require(result)
        #expect(!progress.isEmpty && progress.allSatisfy { $0.page == 1 })
        #expect(done.pages == 1 && done.attachments.count == 1 && done.attachments[0].format == .png)
        #expect(store.list().map(\.id) == done.attachments.map(\.id))
    }

    @Test func leavingTheLoopCancelsTheScanAndStoresNothing() async throws {
        let directory = try TemporaryDirectory("ck-updates-cancel")
        let store = try AttachmentStore(directory: directory.url, retention: .keepAll)
        let scanner = SANEScanner(store: store, worker: SANETestEnvironment.launcher)
        var worker: Int32 = 0
        for try await update in scanner.updates(ScanRequest(device: "test:0", mode: .color, resolution: 600, paper: .a4, format: .jpeg)) {
            if case .progress(let step) = update, step.workerPID > 0 {
                worker = step.workerPID
                break
            }
        }
        #expect(worker > 0, "a progress update named the worker")
        #expect(await eventually(within: .seconds(20)) { kill(worker, 0) != 0 }, "the worker ended after the loop was left")
        // The scan may have finished before the cancel reached it; its attachment is deleted then, since the loop never got it.
        #expect(await eventually(within: .seconds(20)) { store.list().isEmpty }, "a cancelled scan stores nothing")
    }

    @Test func everyFamilysErrorIsOneTypeWithAStableCodeAndItsFamily() async throws {
        let directory = try TemporaryDirectory("ck-errors")
        let store = try AttachmentStore(directory: directory.url)
        var caught: [CounterKitError] = []
        do {
            _ = try await SANEScanner(store: store, worker: SANETestEnvironment.launcher).scan(ScanRequest(device: "nonexistent:0"))
        } catch {
            caught.append(error)
        }
        do {
            _ = try await PhotoCamera(store: store).capture(PhotoRequest(device: directory.path("no-video")))
        } catch {
            caught.append(error)
        }
        do {
            _ = try store.manifest(id: "../../etc/passwd")
        } catch {
            caught.append(error)
        }
        #expect(caught.map(\.codeName) == ["device_not_found", "device_not_found", "invalid_id"])
        #expect(caught.map(\.family) == [.scanning, .cameras, .attachments])
        #expect(SignaturePadError(.noInk, "no ink").codeName == "no_ink")
    }

    @Test func oneCallListsEveryFamily() async throws {
        let directory = try TemporaryDirectory("ck-inventory")
        let scanner = SANEScanner(store: try AttachmentStore(directory: directory.url), worker: SANETestEnvironment.launcher)
        let inventory = await DeviceInventory.discover(scanner: scanner, cameras: CameraDiscovery(deviceDirectory: directory.path("dev")))
        #expect(inventory.scanners.map(\.id).contains("test:0"), "\(inventory.problems)")
        #expect(inventory.cameras.isEmpty, "no video nodes in an empty folder")
        #expect(!inventory.problems.contains { $0.family == "scanner" })
    }

    @Test func theScanExampleWritesATwoPagePDF() throws {
        let directory = try TemporaryDirectory("ck-example")
        let run = try runCommand(["\(Self.buildDirectory)/scan-to-pdf", "test:0", directory.url.path], environment: SANETestEnvironment.environment)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("2 pages"), "\(run.output)")
        let pdf = try Data(contentsOf: directory.url.appendingPathComponent("scan.pdf"))
        let text = String(decoding: pdf, as: UTF8.self)
        #expect(pdf.starts(with: Data("%PDF-".utf8)) && text.contains("/Type /Pages /Kids [") && text.contains("/Count 2 >>"))
    }

    /// A product links only what its family needs: the scanning example has no libusb, V4L2 or HTTP server in it.
    /// (The libraries the binary itself needs, from its dynamic section: libsane needs libusb for its own backends.)
    @Test(arguments: [
        ("scan-to-pdf", ["libusb", "libv4l", "libfreetype"]),
        ("sign-to-files", ["libsane", "libv4l"]),
        ("id-photo", ["libsane", "libusb", "libfreetype"]),
    ])
    func anExampleLinksOnlyItsFamily(example: String, absent: [String]) throws {
        let binary = "\(Self.buildDirectory)/\(example)"
        let libraries = try runCommand(["/usr/bin/readelf", "--dynamic", binary]).output
            .split(separator: "\n").filter { $0.contains("(NEEDED)") }.joined(separator: "\n")
        #expect(libraries.contains("libpng16") && libraries.contains("libturbojpeg"), "\(libraries)")
        for library in absent { #expect(!libraries.contains(library), "\(example) links \(library)") }
        let symbols = try Data(contentsOf: URL(fileURLWithPath: binary))
        #expect(symbols.range(of: Data("Hummingbird".utf8)) == nil, "\(example) carries Hummingbird")
    }
}

/// What an embedding app's process keeps: CounterKit's libraries change no process-wide behaviour behind its back.
@Suite(.ownThreads) struct ProcessWideEffectsTests {
    /// Whether `binary` defines (exports) `symbol` itself.
    private func defines(_ binary: String, _ symbol: String) throws -> Bool {
        let table = try runCommand(["/usr/bin/readelf", "--dyn-syms", "--wide", binary]).output
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.last.map { $0 == symbol || $0.hasPrefix(symbol + "@") } == true && !line.contains(" UND ")
        }
    }

    /// Only executables that run SANE backends themselves replace `pthread_setcanceltype`, because they link the
    /// ScanWorkerThreads product; an app that scans through a worker, or does not scan, keeps libc's.
    @Test(arguments: [
        ("counterkit", true), ("counterkit-scan-worker", true), ("scan-to-pdf", true),
        ("sign-to-files", false), ("id-photo", false),
    ])
    func onlyScanWorkersReplaceTheCancelType(executable: String, replaces: Bool) throws {
        #expect(try defines("\(IntegratorAPITests.buildDirectory)/\(executable)", "pthread_setcanceltype") == replaces)
    }

    @Test func writingToAChildThatHasGoneFailsWithoutSIGPIPEAndLeavesTheDispositionAlone() throws {
        var before = sigaction(), after = sigaction()
        sigaction(SIGPIPE, nil, &before)
        let child = try ChildProcess(executable: "/bin/true", arguments: [])
        _ = child.wait()
        // More than a pipe holds, to a reader that is gone: EPIPE, and this process lives on.
        #expect(child.write([UInt8](repeating: 0x61, count: 1 << 20)) == false)
        sigaction(SIGPIPE, nil, &after)
        let handler = { (action: sigaction) in withUnsafeBytes(of: action.__sigaction_handler) { [UInt8]($0) } }
        #expect(handler(after) == handler(before), "SIGPIPE's disposition is unchanged")
        var pending = sigset_t()
        sigpending(&pending)
        #expect(sigismember(&pending, SIGPIPE) == 0, "no SIGPIPE is left pending")
    }
}
