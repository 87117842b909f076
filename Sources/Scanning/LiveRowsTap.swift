import Attachments
import Foundation

/// What a scan's live view asks for: its rows, shrunk to `width` pixels, while the scan runs.
public struct LiveRowsRequest: Sendable, Equatable, Codable {
    /// Width of the live view in pixels, 16…4096 (a page narrower than this keeps its own width).
    public var width: Int

    /// A live view `width` pixels wide.
    public init(width: Int) { self.width = width }

    func validate() throws(ScanError) {
        guard (16...4096).contains(width) else { throw ScanError(.invalidValue, "live.width must be 16…4096, not \(width)") }
    }
}

/// Rows of a page as they were scanned, shrunk for a live view: the band starting at row `y` of the page's live view.
public struct ScanRowsBand: Sendable, Equatable {
    /// The page (1-based).
    public var page: Int
    /// The band's first row, in live-view pixels.
    public var y: Int
    /// Pixels per row.
    public var width: Int
    /// Rows in the band.
    public var lines: Int
    /// `.gray8` or `.rgb8`.
    public var format: PixelFormat
    /// The rows, tightly packed.
    public var pixels: Data

    /// A band.
    public init(page: Int, y: Int, width: Int, lines: Int, format: PixelFormat, pixels: Data) {
        self.page = page
        self.y = y
        self.width = width
        self.lines = lines
        self.format = format
        self.pixels = pixels
    }
}

/// Shrinks a scan's rows as they arrive and hands them on in bands, at most one every `interval` (and the rest
/// when a page ends), so a live view costs the scan little.
///
/// It runs on the scan's thread, beside the attachment's encoder. (Shrinking on a thread of its own was measured and
/// gained nothing on a two-core machine: copying each row over for it cost what the shrinking saved.)
final class LiveRowsTap {
    private let request: LiveRowsRequest
    private let emit: @Sendable (ScanRowsBand) -> Void
    private let interval: Duration
    private var downscaler: RowDownscaler?
    private var page = 0
    private var bandStart = 0
    private var rowsOut = 0
    private var pending = Data()
    /// Bytes reserved for `pending` when it was last empty.
    private var reserved = 0
    /// Output rows the page will have, when its height is known.
    private var expectedRows: Int?
    private var lastEmit = ContinuousClock.now
    private var rowsSinceCheck = 0

    init(_ request: LiveRowsRequest, interval: Duration = .milliseconds(100), emit: @escaping @Sendable (ScanRowsBand) -> Void) {
        self.request = request
        self.interval = interval
        self.emit = emit
    }

    /// A page of this format and width begins; `height` is its rows, when known.
    func beginPage(format: PixelFormat, width: Int, height: Int?) {
        page += 1
        let downscaler = RowDownscaler(sourceFormat: format, sourceWidth: width, width: request.width)
        self.downscaler = downscaler
        expectedRows = height.map { ($0 - 1) * downscaler.width / max(width, 1) + 1 }
        bandStart = 0
        rowsOut = 0
        pending = Data()
        reserved = 0
        lastEmit = ContinuousClock.now
    }

    /// One row of the page, as the attachment will hold it.
    func add(_ row: UnsafeRawBufferPointer) {
        guard let downscaler else { return }
        downscaler.add(row) { append($0) }
        // The clock is read every 16 rows: often enough for a band every `interval`, cheap enough per row.
        rowsSinceCheck += 1
        if rowsSinceCheck >= 16 {
            rowsSinceCheck = 0
            if ContinuousClock.now - lastEmit >= interval { flush() }
        }
    }

    /// The page's rows are all added: its last band goes out. Called before the attachment's encoder finishes, so
    /// the band's subscribers compress it meanwhile. Once per page; later calls do nothing.
    func endPage() {
        guard let downscaler else { return }
        downscaler.finish { append($0) }
        flush()
        self.downscaler = nil
    }

    private func append(_ row: UnsafeRawBufferPointer) {
        if pending.isEmpty, let expected = expectedRows {
            // Room for the rest of the page at once, rather than growing (and copying) it row by row.
            reserved = max(expected - rowsOut, 1) * row.count
            pending.reserveCapacity(reserved)
        }
        pending.append(contentsOf: row)
        rowsOut += 1
    }

    private func flush() {
        lastEmit = ContinuousClock.now
        guard let downscaler, rowsOut > bandStart else { return }
        // A band cut before the page's end would keep the whole page's room alive in the job's live view for as long
        // as the band is kept: it goes out in a buffer of its own size. (The last band, usually the only one of a fast
        // scan, fills its room and goes as it is.)
        let pixels = pending.count * 2 < reserved ? pending.withUnsafeBytes { Data($0) } : pending
        emit(
            ScanRowsBand(
                page: page, y: bandStart, width: downscaler.width, lines: rowsOut - bandStart,
                format: downscaler.format, pixels: pixels))
        bandStart = rowsOut
        pending = Data()
        reserved = 0
    }
}
