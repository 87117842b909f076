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
        var testDescription: String { name }
    }

    /// The backend pauses 100 ms after each buffer it writes to its pipe: a scan of about a second.
    static func slow(_ bytes: Int) -> [String: String] {
        ["read-delay": "yes", "read-delay-duration": "100000", "read-limit": "yes", "read-limit-size": String(bytes)]
    }
    static let cases: [Case] = [
        Case(name: "colour", mode: .color, options: ["test-picture": "Color pattern"].merging(slow(2048)) { $1 }),
        Case(name: "gray", mode: .gray, options: ["test-picture": "Color pattern"].merging(slow(1024)) { $1 }),
        Case(name: "lineart", mode: .lineart, options: ["test-picture": "Grid"].merging(slow(128)) { $1 }, resolution: 300),
        Case(name: "three-pass colour", mode: .color, options: ["three-pass": "yes", "test-picture": "Color pattern"].merging(slow(1024)) { $1 }),
        Case(
            name: "unknown height (hand scanner)", mode: .color,
            options: ["hand-scanner": "yes", "test-picture": "Color pattern"].merging(slow(2048)) { $1 }),
    ]

    @Test(arguments: cases)
    func rowsArriveWhileScanningAndStitchToThePage(_ scanCase: Case) async throws {
        let directory = try TemporaryDirectory()
        let store = try AttachmentStore(directory: directory.url)
        let hub = LocalDeviceHub(store: store, scanner: SANEScanner(store: store, worker: SANETestEnvironment.launcher))
        var request = ScanRequest(
            device: "test:0", mode: scanCase.mode, resolution: scanCase.resolution, area: ScanArea(x: 0, y: 0, width: 100, height: 80),
            options: scanCase.options, format: .png)
        request.live = LiveRowsRequest(width: 120)
        let job = try await hub.submit(.scan(request), queue: false)
        var bands: [LiveRowsEvent] = []
        var final: JobEvent?
        for try await event in try await hub.jobEvents(job.id) {
            if let rows = event.rows {
                #expect(event.name == .rows)
                bands.append(rows)
            }
            if event.isFinal { final = event }
        }
        let ended = try #require(final)
        #expect(ended.name == .completed, "\(String(describing: ended.job.error))")
        // (How many bands a subscriber gets depends on when it reads; aSlowSubscriber… checks that part on its own.)

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

    /// The job side alone, with bands reported at a steady pace (20 bands, 40 ms apart): a subscriber that pauses 300 ms
    /// after each band it gets receives fewer, larger bands than one that reads at once, the same rows and no gap.
    @Test func aSlowSubscriberGetsFewerLargerBandsAndStillTheWholePage() async throws {
        let jobs = JobManager(limits: HubLimits())
        let started = AsyncStream<Void>.makeStream()
        let job = try await jobs.submit(kind: .scan, device: "test:0", queue: false, liveRows: true) { reporter async throws(JobError) in
            for await _ in started.stream { break }
            for index in 0..<20 {
                reporter.rows(
                    ScanRowsBand(
                        page: 1, y: index * 5, width: 40, lines: 5, format: .gray8,
                        pixels: Data(repeating: UInt8(index * 10), count: 40 * 5)))
                try? await Task.sleep(for: .milliseconds(40))
            }
            return JobOutcome(pages: 1, settings: [:], attachments: [])
        }
        let fast = try await jobs.subscribe(job.id), slow = try await jobs.subscribe(job.id)
        started.continuation.yield()
        func collect(_ events: JobEvents, pause: Duration) async -> [LiveRowsEvent] {
            var bands: [LiveRowsEvent] = []
            for await event in events {
                guard let rows = event.rows else { continue }
                bands.append(rows)
                try? await Task.sleep(for: pause)
            }
            return bands
        }
        let begun = ContinuousClock.now
        async let quick = collect(fast, pause: .zero)
        async let sluggish = collect(slow, pause: .milliseconds(300))
        let (quickBands, slowBands) = await (quick, sluggish)
        let elapsed = ContinuousClock.now - begun
        let total = { (bands: [LiveRowsEvent]) in bands.reduce(0) { $0 + $1.lines } }
        #expect(total(quickBands) == 100 && total(slowBands) == 100, "both got every row")
        let (quickCount, slowCount) = (quickBands.count, slowBands.count)
        #expect(quickCount >= 5, "the quick one got the bands about as they came: \(quickCount)")
        // At most one band per pause (plus the first and the drain at the end), however long a loaded machine made it.
        let pauses = Int(elapsed / .milliseconds(300))
        #expect(
            slowCount < quickCount && slowCount <= pauses + 2,
            "the slow one got fewer bands: \(slowCount) against \(quickCount), in \(elapsed)")
        for bands in [quickBands, slowBands] {
            #expect(zip(bands, bands.dropFirst()).allSatisfy { $0.y + $0.lines == $1.y }, "no gap")
            // Each band's JPEG holds its rows: the last row of the slow one's last band is the last band's gray.
            let last = try DecodedImage.jpeg(Array(try #require(bands.last).image))
            #expect(abs(Int(last.pixels.last ?? 0) - 190) <= 3)
        }
    }

    /// Bands appended one by one come out as one JPEG of all their rows; a second subscriber at the same place gets
    /// that same JPEG (the same bytes in memory: made once), and a subscriber with nothing new gets nothing.
    @Test func subscribersAtTheSamePlaceShareOneJPEGOfTheBandsSoFar() throws {
        let buffer = LiveRowsBuffer()
        buffer.append(ScanRowsBand(page: 1, y: 0, width: 16, lines: 8, format: .gray8, pixels: Data(repeating: 60, count: 128)))
        buffer.append(ScanRowsBand(page: 1, y: 8, width: 16, lines: 8, format: .gray8, pixels: Data(repeating: 200, count: 128)))
        // Not the page's next rows: ignored.
        buffer.append(ScanRowsBand(page: 1, y: 40, width: 16, lines: 1, format: .gray8, pixels: Data(repeating: 0, count: 16)))
        var first = LiveRowsBuffer.Cursor(), second = LiveRowsBuffer.Cursor()
        let a = try #require(buffer.band(after: &first)), b = try #require(buffer.band(after: &second))
        #expect(a.page == 1 && a.y == 0 && a.lines == 16 && a.width == 16 && a == b)
        #expect(a.image.withUnsafeBytes { x in b.image.withUnsafeBytes { y in x.baseAddress == y.baseAddress } }, "made once")
        let decoded = try DecodedImage.jpeg(Array(a.image))
        #expect(decoded.height == 16 && abs(Int(decoded.pixels[16 * 2]) - 60) <= 3 && abs(Int(decoded.pixels[16 * 13]) - 200) <= 3)
        #expect(buffer.band(after: &first) == nil)
        buffer.append(ScanRowsBand(page: 1, y: 16, width: 16, lines: 2, format: .gray8, pixels: Data(repeating: 120, count: 32)))
        let next = try #require(buffer.band(after: &first))
        #expect(next.y == 16 && next.lines == 2)
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
