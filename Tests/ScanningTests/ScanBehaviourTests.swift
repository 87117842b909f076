import Attachments
import CounterKitTestSupport
import Foundation
import Scanning
import Synchronization
import Testing

private let small = ScanArea(x: 0, y: 0, width: 20, height: 20)

@Suite(.ownThreads) struct ScanBehaviourTests {
    @Test func discoveryListsTheTestScanners() throws {
        let (scanner, directory) = try SANETestBackend.scanner()
        defer { withExtendedLifetime(directory) {} }
        let devices = try scanner.devices()
        #expect(devices.map(\.id).contains("test:0"))
        #expect(devices.first?.model == "frontend-tester")
        #expect(scanner.cachedDevices == devices)
        #expect(scanner.saneVersion?.hasPrefix("1.") == true)
    }

    @Test func optionsAreDescribed() throws {
        let (scanner, directory) = try SANETestBackend.scanner()
        defer { withExtendedLifetime(directory) {} }
        let options = try scanner.options(device: "test:0")
        let resolution = try #require(options.descriptors.first { $0.name == "resolution" })
        #expect(resolution.unit == .dpi && resolution.type == .fixed)
        #expect(resolution.constraint == .range(min: 1, max: 1200, quant: 1))
        let mode = try #require(options.descriptors.first { $0.name == "mode" })
        #expect(mode.constraint == .stringList(["Gray", "Color"]))
        #expect(options.values["mode"] == "Gray")
    }

    @Test func defaultsScanTheWholeBedInColourAt300dpi() throws {
        let (scanner, directory) = try SANETestBackend.scanner()
        defer { withExtendedLifetime(directory) {} }
        let result = try scanner.scan(ScanRequest(device: "test:0", resolution: 75))
        #expect(result.settings["mode"] == "color" && result.settings["source"] == "flatbed")
        #expect(result.settings["area"] == "0,0,200,200")
        let manifest = try #require(result.attachments.first)
        #expect(manifest.mediaType == "image/jpeg" && manifest.pixelWidth == 590 && manifest.dpi == 75)
        #expect(manifest.device == "test:0" && manifest.settings["resolution"] == "75")
        #expect(try SANETestBackend.tempFiles(directory).isEmpty)
    }

    @Test func paperPresetsAreClampedAndResolutionIsReportedBack() throws {
        let (scanner, directory) = try SANETestBackend.scanner()
        defer { withExtendedLifetime(directory) {} }
        let id1 = try scanner.scan(ScanRequest(device: "test:0", resolution: 100.4, paper: .id1, format: .png))
        #expect(id1.settings["area"] == "0,0,86,54")  // the test backend's geometry moves in whole millimetres
        #expect(id1.settings["resolution"] == "100")
        let a4 = try scanner.scan(ScanRequest(device: "test:0", resolution: 10, paper: .a4, format: .png))
        #expect(a4.settings["area"] == "0,0,200,200" && a4.settings["paper"] == "A4")
    }

    @Test func feederScansUntilEmptyIntoPagesOrOnePDF() throws {
        let (scanner, directory) = try SANETestBackend.scanner()
        defer { withExtendedLifetime(directory) {} }
        let pages = try scanner.scan(ScanRequest(device: "test:0", source: .adf, resolution: 25, area: small, format: .png))
        #expect(pages.pages == 10 && pages.attachments.count == 10)
        #expect(pages.settings["source.vendor"] == "Automatic Document Feeder")
        #expect(pages.attachments.map { $0.settings["page"] } == (1...10).map(String.init))
        let limited = try scanner.scan(ScanRequest(device: "test:0", source: .adf, resolution: 25, area: small, maxPages: 3))
        #expect(limited.attachments.count == 3)
        let pdf = try scanner.scan(ScanRequest(device: "test:0", source: .adf, resolution: 50, area: small, format: .pdf))
        let manifest = try #require(pdf.attachments.first)
        #expect(pdf.attachments.count == 1 && manifest.pages == 10 && manifest.mediaType == "application/pdf")
        let info = try runCommand(["pdfinfo", try scanner.store.fileURL(id: manifest.id).path]).output
        #expect(info.split(separator: "\n").contains { $0.hasPrefix("Pages:") && $0.hasSuffix(" 10") })
        #expect(try SANETestBackend.tempFiles(directory).isEmpty)
    }

    @Test func switchingOffTheSourceLayerStillScansOnePage() throws {
        let (scanner, directory) = try SANETestBackend.scanner()
        defer { withExtendedLifetime(directory) {} }
        let result = try scanner.scan(ScanRequest(device: "test:0", resolution: 25, area: small, disabledLayers: ["source"]))
        // The layer leaves the option alone; the source the scanner holds is read back, for the page loop and the manifest.
        #expect(result.pages == 1 && result.settings["source"] == "flatbed" && result.settings["source.vendor"] == "Flatbed", "\(result.settings)")
    }

    @Test func flatbedHasNoDuplexAndAnUnknownSourceSaysWhatExists() throws {
        let (scanner, directory) = try SANETestBackend.scanner()
        defer { withExtendedLifetime(directory) {} }
        do { _ = try scanner.scan(ScanRequest(device: "test:0", source: .duplex, area: small)); Issue.record("duplex accepted") } catch {
            #expect(error.code == .invalidValue)
            #expect(error.message.contains("Automatic Document Feeder"))
        }
    }

    static let statusCases: [(String, ErrorCode)] = [
        ("SANE_STATUS_JAMMED", .jammed), ("SANE_STATUS_COVER_OPEN", .coverOpen), ("SANE_STATUS_IO_ERROR", .ioError),
        ("SANE_STATUS_NO_MEM", .noMemory), ("SANE_STATUS_ACCESS_DENIED", .accessDenied),
        ("SANE_STATUS_DEVICE_BUSY", .deviceBusy), ("SANE_STATUS_NO_DOCS", .noDocs), ("SANE_STATUS_CANCELLED", .cancelled),
    ]

    @Test(arguments: statusCases)
    func backendStatusesBecomeStableCodesAndLeaveNothingBehind(status: String, code: ErrorCode) throws {
        let (scanner, directory) = try SANETestBackend.scanner()
        do {
            _ = try scanner.scan(ScanRequest(device: "test:0", resolution: 50, area: small, options: ["read-return-value": status]))
            Issue.record("\(status) did not fail")
        } catch {
            #expect(error.code == code)
        }
        #expect(scanner.store.list().isEmpty)
        #expect(try SANETestBackend.tempFiles(directory).isEmpty)
        // The device is usable again.
        #expect(try scanner.scan(ScanRequest(device: "test:0", resolution: 25, area: small)).attachments.count == 1)
    }

    @Test func badOptionsAreRefusedClearly() throws {
        let (scanner, directory) = try SANETestBackend.scanner()
        defer { withExtendedLifetime(directory) {} }
        let cases: [([String: String], ErrorCode, String)] = [
            (["no-such-option": "1"], .unsupportedOption, "no option 'no-such-option'"),
            (["three-pass-order": "BGR"], .unsupportedOption, "inactive"),
            (["test-picture": "Kittens"], .invalidValue, "expected one of"),
            (["read-limit-size": "9"], .unsupportedOption, "inactive"),
            (["ppl-loss": "500"], .invalidValue, "outside"),
            (["ppl-loss": "two"], .invalidValue, "not a number"),
            (["hand-scanner": "maybe"], .invalidValue, "yes or no"),
        ]
        for (options, code, text) in cases {
            do {
                _ = try scanner.scan(ScanRequest(device: "test:0", area: small, options: options))
                Issue.record("\(options) accepted")
            } catch {
                #expect(error.code == code, "\(options)")
                #expect(error.message.contains(text), "\(error.message)")
            }
        }
        #expect(throws: ScanError.self) { try scanner.scan(ScanRequest(device: "test:0", resolution: 0)) }
        do { _ = try scanner.scan(ScanRequest(device: "nosuch:0")); Issue.record("unknown device accepted") } catch {
            #expect(error.code == .deviceNotFound)
        }
    }

    @Test func inexactValuesAreReportedAsSet() throws {
        let (scanner, directory) = try SANETestBackend.scanner()
        defer { withExtendedLifetime(directory) {} }
        let result = try scanner.scan(
            ScanRequest(
                device: "test:0", resolution: 25, area: small,
                options: ["enable-test-options": "yes", "int-inexact": "7"]))
        // The backend changes 7 to 8 and says so (SANE_INFO_INEXACT, as scanimage reports it): the settings carry
        // what the scanner holds, not what was asked.
        #expect(result.settings["option.int-inexact"] == "8", "\(result.settings)")
        #expect(result.settings["option.enable-test-options"] == "yes")
    }

    @Test func killingTheWorkerMidScanFailsOnlyThatJob() throws {
        let (scanner, directory) = try SANETestBackend.scanner()
        defer { withExtendedLifetime(directory) {} }
        let killed = Atomic<Bool>(false)
        let slow = ScanRequest(
            device: "test:0", resolution: 100,
            options: [
                "read-delay": "yes", "read-delay-duration": "20000",
                "read-limit": "yes", "read-limit-size": "4096",
            ])
        do {
            _ = try scanner.scan(slow) { progress in
                if progress.bytesReceived > 0 && progress.workerPID > 0 && !killed.exchange(true, ordering: .relaxed) {
                    kill(progress.workerPID, SIGKILL)
                }
            }
            Issue.record("the scan survived its worker")
        } catch {
            #expect(error.code == .backendCrashed)
            #expect(error.message.contains("signal 9"))
        }
        let didKill = killed.load(ordering: .relaxed)
        #expect(didKill)
        #expect(scanner.store.list().isEmpty)
        #expect(try SANETestBackend.tempFiles(directory).isEmpty)
        #expect(try scanner.scan(ScanRequest(device: "test:0", resolution: 25, area: small)).attachments.count == 1)
    }

    @Test func aSilentBackendTimesOut() throws {
        let (scanner, directory) = try SANETestBackend.scanner(idleTimeout: .milliseconds(100))
        defer { withExtendedLifetime(directory) {} }
        do {
            _ = try scanner.scan(
                ScanRequest(
                    device: "test:0", resolution: 50, area: small,
                    options: ["read-delay": "yes", "read-delay-duration": "200000"]))
            Issue.record("no timeout")
        } catch {
            #expect(error.code == .timeout)
        }
        #expect(try SANETestBackend.tempFiles(directory).isEmpty)
    }

    /// A cancel stops the scan mid-page: the page (787x787 colour at 100 dpi, 1.86 MB in 2 KiB reads 50 ms apart,
    /// some 45 s) is left far from whole, nothing is stored and no temp file stays. How fast it stops is a figure for a
    /// benchmark, not a limit here.
    @Test func cancellationStopsTheScanMidPage() throws {
        let (scanner, directory) = try SANETestBackend.scanner()
        defer { withExtendedLifetime(directory) {} }
        let cancellation = ScanCancellation()
        let received = Mutex(0)
        let slow = ScanRequest(
            device: "test:0", resolution: 100,
            options: [
                "read-delay": "yes", "read-delay-duration": "50000",
                "read-limit": "yes", "read-limit-size": "2048",
            ])
        do {
            _ = try scanner.scan(slow, cancellation: cancellation) { progress in
                received.withLock { $0 = max($0, progress.bytesReceived) }
                if progress.bytesReceived > 0 && !cancellation.isCancelled { cancellation.cancel() }
            }
            Issue.record("not cancelled")
        } catch {
            #expect(error.code == .cancelled)
        }
        let page = 787 * 787 * 3
        let got = received.withLock { $0 }
        #expect(got > 0 && got < page / 10, "\(got) of \(page) bytes arrived before the scan stopped")
        #expect(scanner.store.list().isEmpty)
        #expect(try SANETestBackend.tempFiles(directory).isEmpty)
    }

    @Test func asyncScanIsCancelledWithItsTask() async throws {
        let (scanner, directory) = try SANETestBackend.scanner()
        defer { withExtendedLifetime(directory) {} }
        let slow = ScanRequest(
            device: "test:0", resolution: 100,
            options: [
                "read-delay": "yes", "read-delay-duration": "50000",
                "read-limit": "yes", "read-limit-size": "2048",
            ])
        let started = Mutex(false)
        let task = Task { try await scanner.scan(slow, progress: { if $0.bytesReceived > 0 { started.withLock { $0 = true } } }) }
        // Cancelled once rows arrive, mid-page (the page takes some 45 s).
        #expect(await eventually(within: .seconds(60)) { started.withLock { $0 } }, "the scan started")
        task.cancel()
        do { _ = try await task.value; Issue.record("not cancelled") } catch let error as ScanError {
            #expect(error.code == .cancelled)
        }
        let result = try await scanner.scan(ScanRequest(device: "test:0", resolution: 25, area: small))
        #expect(result.attachments.count == 1)
    }
}
