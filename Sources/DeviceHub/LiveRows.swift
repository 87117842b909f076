import Attachments
import Foundation
import Scanning
import Synchronization

/// A band of a scan's live view as a subscriber receives it: `image` is a JPEG of rows `y ..< y + lines` of page `page`,
/// `width` pixels wide. Stitched in order, a page's bands show the page as its attachment shows it, shrunk.
public struct LiveRowsEvent: Sendable, Equatable, Codable {
    /// The page (1-based).
    public var page: Int
    /// The band's first row, in live-view pixels.
    public var y: Int
    /// Pixels per row.
    public var width: Int
    /// Rows in the band.
    public var lines: Int
    /// The band as a JPEG (base64 in JSON).
    public var image: Data
}

/// The rows of a scan's live view, kept for the job's subscribers: each takes what is new since its own cursor when it
/// is ready for more, so a slow subscriber gets fewer, larger bands and nothing queues without bound. Only the current
/// and the previous page are kept (a subscriber more than a page behind resumes at the oldest kept page).
public final class LiveRowsBuffer: Sendable {
    private struct Page {
        var width: Int
        var format: PixelFormat
        var rows = 0
        var pixels = Data()
    }

    /// Where a subscriber is.
    public struct Cursor: Sendable, Equatable {
        var page = 1
        var y = 0
        /// A fresh cursor, at the first page's first row.
        public init() {}
    }

    private let pages = Mutex<[Int: Page]>([:])

    /// An empty buffer.
    public init() {}

    /// Adds a band from the scanner.
    public func append(_ band: ScanRowsBand) {
        pages.withLock { pages in
            var page = pages[band.page] ?? Page(width: band.width, format: band.format)
            guard page.width == band.width, page.format == band.format, band.y == page.rows else { return }
            page.pixels.append(band.pixels)
            page.rows += band.lines
            pages[band.page] = page
            for old in pages.keys where old < band.page - 1 { pages.removeValue(forKey: old) }
        }
    }

    /// Everything after `cursor` on its page (or, once that page is fully taken and a later one has begun, on the
    /// next), as one JPEG band; nil when there is nothing new. Moves the cursor past what it returns.
    public func band(after cursor: inout Cursor) -> LiveRowsEvent? {
        let taken: (Int, Int, Int, PixelFormat, Data)? = pages.withLock { pages in
            if pages[cursor.page] == nil, let oldest = pages.keys.min(), oldest > cursor.page {
                cursor = Cursor()
                cursor.page = oldest
            }
            while let page = pages[cursor.page], cursor.y >= page.rows, pages[cursor.page + 1] != nil {
                cursor.page += 1
                cursor.y = 0
            }
            guard let page = pages[cursor.page], page.rows > cursor.y else { return nil }
            let rowBytes = page.format.bytesPerRow(width: page.width)
            let slice = page.pixels.subdata(in: (cursor.y * rowBytes)..<(page.rows * rowBytes))
            defer { cursor.y = page.rows }
            return (cursor.page, cursor.y, page.width, page.format, slice)
        }
        guard let (page, y, width, format, pixels) = taken else { return nil }
        let lines = pixels.count / format.bytesPerRow(width: width)
        let image: Data? = try? pixels.withUnsafeBytes { bytes throws(AttachmentError) in
            try JPEGMemoryEncoder(quality: 90, subsampling: .s444).encode(bytes, format: format, width: width, height: lines)
        }
        guard let image else { return nil }
        return LiveRowsEvent(page: page, y: y, width: width, lines: lines, image: image)
    }
}

/// A job's events for one subscriber: the job's state changes as they happen, and, for a scan with a live view, `rows`
/// events whose bands are cut when the subscriber asks for its next event. Every row is delivered before the final event.
public struct JobEvents: AsyncSequence, Sendable {
    public typealias Element = JobEvent
    public typealias Failure = Never
    let base: AsyncStream<JobEvent>
    let live: LiveRowsBuffer?

    public func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator(), live: live) }

    /// Walks the events.
    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncStream<JobEvent>.Iterator
        let live: LiveRowsBuffer?
        var cursor = LiveRowsBuffer.Cursor()
        var held: JobEvent?

        public mutating func next() async -> JobEvent? {
            if let held {
                // The final event, once the last rows are out.
                if let live, let band = live.band(after: &cursor) { return JobEvent(name: .rows, job: held.job, rows: band) }
                self.held = nil
                return held
            }
            while let event = await base.next() {
                guard let live else { return event }
                if event.name == .rows {
                    guard let band = live.band(after: &cursor) else { continue }
                    return JobEvent(name: .rows, job: event.job, rows: band)
                }
                if event.isFinal, let band = live.band(after: &cursor) {
                    held = event
                    return JobEvent(name: .rows, job: event.job, rows: band)
                }
                return event
            }
            return nil
        }
    }
}
