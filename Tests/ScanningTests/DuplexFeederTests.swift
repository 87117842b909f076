import Attachments
import CounterKitTestSupport
import Foundation
import Scanning
import Testing

/// Duplex scanning through libsane's dll backend, against `fixtures/sane-duplex/ckduplex.c`: no backend
/// available here has a duplex source, so this fixture backend (built here with the system C compiler)
/// presents one the way sheet-fed scanners do ("ADF Front", "ADF Back", "ADF Duplex"; one image per side;
/// NO_DOCS when empty). Its pixels say which sheet and side they come from.
@Suite struct DuplexFeederTests {
    /// A SANE configuration holding only the fixture, and the environment that makes dll find it.
    final class Fixture: Sendable {
        let backend: DuplexFixtureBackend
        var directory: TemporaryDirectory { backend.directory }
        var environment: [String: String] { backend.environment }

        init() throws { backend = try DuplexFixtureBackend() }

        func scanner() throws -> SANEScanner {
            var launcher = ScanWorkerLauncher.locate()
            launcher.environment = environment
            let store = try AttachmentStore(directory: directory.url.appendingPathComponent("spool-\(UUID().uuidString)"))
            return SANEScanner(store: store, worker: launcher)
        }
    }

    /// (sheet, side) of each page, read from its first sample (16 * sheet + side).
    func origins(_ result: ScanResult, _ scanner: SANEScanner) throws -> [[Int]] {
        try result.attachments.map { manifest in
            let bytes = [UInt8](try Data(contentsOf: try scanner.store.fileURL(id: manifest.id)))
            let image = try DecodedImage.pnm(bytes)
            return [Int(image.pixels[0]) / 16, Int(image.pixels[0]) % 16]
        }
    }

    @Test func duplexScansBothSidesOfEverySheetInOrderUntilTheFeederIsEmpty() throws {
        let fixture = try Fixture()
        let scanner = try fixture.scanner()
        #expect(try scanner.devices().contains { $0.id == "ckduplex:pad" && $0.type == "sheetfed scanner" })
        let result = try scanner.scan(ScanRequest(device: "ckduplex:pad", source: .duplex, mode: .color, resolution: 200, format: .pnm))
        #expect(result.pages == 6)
        #expect(result.settings["source"] == "duplex" && result.settings["source.vendor"] == "ADF Duplex")
        #expect(try origins(result, scanner) == [[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1]])
        #expect(result.attachments.map { $0.settings["page"] } == ["1", "2", "3", "4", "5", "6"])
        #expect(result.attachments.allSatisfy { $0.pixelWidth == 64 && $0.pixelHeight == 48 && $0.dpi == 200 })
        // The colour pixels are whole: G counts x and B counts y on every page.
        let bytes = [UInt8](try Data(contentsOf: try scanner.store.fileURL(id: result.attachments[5].id)))
        let last = try DecodedImage.pnm(bytes)
        #expect(last.pixels[(47 * 64 + 63) * 3 + 1] == 63 && last.pixels[(47 * 64 + 63) * 3 + 2] == 47)
    }

    /// A cancelled scan stores nothing: the feeder's pages already written go too, and a cancel that comes once the
    /// last page is in (it wins the race with the scan's end) leaves nothing either.
    @Test func aCancelledFeederScanLeavesNoPagesBehind() throws {
        let fixture = try Fixture()
        let scanner = try fixture.scanner()
        for cancelAfter in [1, 3] {
            let cancellation = ScanCancellation()
            #expect(throws: ScanError.self) {
                try scanner.scan(
                    ScanRequest(device: "ckduplex:pad", source: .adf, mode: .color, format: .jpeg),
                    cancellation: cancellation,
                    progress: { progress in
                        // Cancelled once this many pages are stored (after the last: as the scan ends).
                        if progress.pageAttachment != nil, progress.pagesDone == cancelAfter { cancellation.cancel() }
                    })
            }
            #expect(scanner.store.list().isEmpty, "cancelled after \(cancelAfter) page(s): \(scanner.store.list().map(\.fileName))")
        }
        // The scanner works on afterwards, and keeps what a finished scan stores.
        let result = try scanner.scan(ScanRequest(device: "ckduplex:pad", source: .adf, mode: .color, format: .jpeg))
        #expect(result.pages == 3 && scanner.store.list().count == 3)
    }

    @Test func aFeederScanTakesTheFrontsAndAPDFHoldsEveryPage() throws {
        let fixture = try Fixture()
        let scanner = try fixture.scanner()
        let fronts = try scanner.scan(ScanRequest(device: "ckduplex:pad", source: .adf, mode: .gray, format: .pnm))
        #expect(fronts.settings["source.vendor"] == "ADF Front")
        #expect(try origins(fronts, scanner) == [[0, 0], [1, 0], [2, 0]])
        let pdf = try scanner.scan(ScanRequest(device: "ckduplex:pad", source: .duplex, mode: .gray, format: .pdf))
        #expect(pdf.attachments.count == 1 && pdf.attachments[0].pages == 6)
    }

    @Test func anEmptyFeederIsNoDocsAndMaxPagesStopsEarly() throws {
        let fixture = try Fixture()
        let scanner = try fixture.scanner()
        do {
            _ = try scanner.scan(ScanRequest(device: "ckduplex:pad", source: .duplex, options: ["sheets": "0"], format: .pnm))
            Issue.record("an empty feeder scanned")
        } catch {
            #expect(error.code == .noDocs)
        }
        var request = ScanRequest(device: "ckduplex:pad", source: .duplex, format: .pnm)
        request.maxPages = 3
        let three = try scanner.scan(request)
        #expect(three.pages == 3)
        #expect(try origins(three, scanner) == [[0, 0], [0, 1], [1, 0]])
    }
}
