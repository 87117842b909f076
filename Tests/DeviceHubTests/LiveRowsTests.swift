import Attachments
import CounterKitTestSupport
import DeviceHub
import Foundation
import Scanning
import Testing

/// A scan's live view on the SANE test backend: `rows` events come while the scan runs, and stitched they show the page
/// the attachment holds, shrunk.
@Suite struct LiveRowsTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var mode: ScanMode
        var options: [String: String]
        var resolution = 100.0
        /// Whether rows can show before the page ends (a three-pass page is whole only once its last plane is in).
        var rowsWhileScanning = true
        var testDescription: String { name }
    }

    /// The backend pauses 100 ms after each buffer it writes to its pipe: a scan of about a second.
    static func slow(_ bytes: Int) -> [String: String] {
        ["read-delay": "yes", "read-delay-duration": "100000", "read-limit": "yes", "read-limit-size": String(bytes)]
    }
    static let cases: [Case] = [
        Case(name: "colour", mode: .color, options: ["test-picture": "Color pattern"].merging(slow(2048)) { $1 }),
        Case(name: "gray", mode: .gray, options: ["test-picture": "Color pattern"].merging(slow(1024)) { $1 },
             rowsWhileScanning: false),
        Case(name: "lineart", mode: .lineart, options: ["test-picture": "Grid"].merging(slow(128)) { $1 }, resolution: 300),
        Case(name: "three-pass colour", mode: .color, options: ["three-pass": "yes", "test-picture": "Color pattern"].merging(slow(1024)) { $1 },
             rowsWhileScanning: false),
        Case(name: "unknown height (hand scanner)", mode: .color,
             options: ["hand-scanner": "yes", "test-picture": "Color pattern"].merging(slow(2048)) { $1 }),
    ]

    @Test(arguments: cases)
    func rowsArriveWhileScanningAndStitchToThePage(_ scanCase: Case) async throws {
        let directory = try TemporaryDirectory()
        let store = try AttachmentStore(directory: directory.url)
        let hub = LocalDeviceHub(store: store, scanner: DocumentScanner(store: store, worker: SANETestEnvironment.launcher))
        var request = ScanRequest(device: "test:0", mode: scanCase.mode, resolution: scanCase.resolution, area: ScanArea(x: 0, y: 0, width: 100, height: 80),
                                  options: scanCase.options, format: .png)
        request.live = LiveRowsRequest(width: 120)
        let job = try await hub.submitScan(request, queue: false)
        var bands: [LiveRowsEvent] = []
        var rowsBeforeLastRow = 0
        var final: JobEvent?
        for await event in try await hub.jobs.subscribe(job.id) {
            if let rows = event.rows {
                #expect(event.name == .rows)
                bands.append(rows)
                if event.job.state == .running { rowsBeforeLastRow += 1 }
            }
            if event.isFinal { final = event }
        }
        let ended = try #require(final)
        #expect(ended.name == .completed, "\(String(describing: ended.job.error))")
        #expect(rowsBeforeLastRow >= 1, "rows arrived while the job was running")
        if scanCase.rowsWhileScanning { #expect(bands.count >= 2, "bands came as rows arrived, not all at the end: \(bands.count)") }

        // Stitch the bands.
        let attachment = try #require(ended.job.attachments.first)
        let page = try DecodedImage.png(atPath: store.fileURL(id: attachment.id).path)
        let width = try #require(bands.first?.width)
        #expect(width == 120)
        var stitched: [UInt8] = []
        var expectedY = 0
        for band in bands {
            #expect(band.page == 1 && band.y == expectedY && band.width == width)
            let decoded = try DecodedImage.jpeg(Array(band.image))
            #expect(decoded.width == width && decoded.height == band.lines)
            stitched += decoded.pixels
            expectedY += band.lines
        }
        let reference = Self.shrink(page, to: width)
        #expect(expectedY == reference.height, "the bands cover the page: \(expectedY) rows of \(reference.height)")
        let channels = scanCase.mode == .color ? 3 : 1
        #expect(stitched.count == reference.pixels.count, "\(stitched.count) samples, \(channels) channels")
        guard stitched.count == reference.pixels.count else { return }
        let psnr = DecodedImage(width: width, height: expectedY, channels: channels, bitDepth: 8, pixels: stitched, dpi: 0)
            .psnr(against: reference.pixels)
        #expect(psnr >= 30, "PSNR \(psnr) dB")
    }

    @Test func aSlowSubscriberGetsFewerLargerBandsAndStillTheWholePage() async throws {
        let directory = try TemporaryDirectory()
        let store = try AttachmentStore(directory: directory.url)
        let hub = LocalDeviceHub(store: store, scanner: DocumentScanner(store: store, worker: SANETestEnvironment.launcher))
        var request = ScanRequest(device: "test:0", mode: .color, resolution: 100, area: ScanArea(x: 0, y: 0, width: 100, height: 120),
                                  options: ["test-picture": "Color pattern"].merging(Self.slow(2048)) { $1 }, format: .png)
        request.live = LiveRowsRequest(width: 200)
        let job = try await hub.submitScan(request, queue: false)
        let fast = try await hub.jobs.subscribe(job.id), slow = try await hub.jobs.subscribe(job.id)
        func collect(_ events: JobEvents, pause: Duration) async -> [LiveRowsEvent] {
            var bands: [LiveRowsEvent] = []
            for await event in events {
                guard let rows = event.rows else { continue }
                bands.append(rows)
                try? await Task.sleep(for: pause)
            }
            return bands
        }
        async let quick = collect(fast, pause: .zero)
        async let sluggish = collect(slow, pause: .milliseconds(300))
        let (quickBands, slowBands) = await (quick, sluggish)
        let total = { (bands: [LiveRowsEvent]) in bands.reduce(0) { $0 + $1.lines } }
        #expect(total(quickBands) == total(slowBands) && total(quickBands) > 0, "both got every row")
        #expect(slowBands.count < quickBands.count, "the slow one got fewer bands: \(slowBands.count) against \(quickBands.count)")
        #expect(zip(slowBands, slowBands.dropFirst()).allSatisfy { $0.y + $0.lines == $1.y }, "and no gap")
    }

    /// The page averaged down to `width` (each output pixel the mean of the source pixels it covers): the reference the
    /// live view must match, written plainly here rather than taken from the code under test.
    static func shrink(_ image: DecodedImage, to width: Int) -> DecodedImage {
        let channels = image.channels
        let height = (image.height - 1) * width / image.width + 1
        var sums = [Int](repeating: 0, count: width * height * channels), counts = [Int](repeating: 0, count: width * height)
        let rowBytes = image.pixels.count / image.height
        for y in 0..<image.height {
            for x in 0..<image.width {
                let out = (y * width / image.width) * width + x * width / image.width
                counts[out] += 1
                for channel in 0..<channels {
                    let sample: Int
                    if image.bitDepth == 1 {
                        // PNG lineart: 0 = black.
                        sample = (image.pixels[y * rowBytes + x / 8] >> (7 - UInt8(x % 8))) & 1 == 1 ? 255 : 0
                    } else {
                        sample = Int(image.pixels[y * rowBytes + x * channels + channel])
                    }
                    sums[out * channels + channel] += sample
                }
            }
        }
        let pixels = sums.indices.map { UInt8((sums[$0] + counts[$0 / channels] / 2) / counts[$0 / channels]) }
        return DecodedImage(width: width, height: height, channels: channels, bitDepth: 8, pixels: pixels, dpi: 0)
    }
}
