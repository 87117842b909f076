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
/// and the previous page are kept (a subscriber more than a page behind resumes at the oldest kept page). Subscribers
/// that ask for the same rows share one JPEG.
package final class LiveRowsBuffer: Sendable {
    private struct Page {
        var width: Int
        var format: PixelFormat
        var rows = 0
        /// The bands as they came (kept as they are, not copied together), with their first rows.
        var bands: [(y: Int, pixels: Data)] = []
    }

    /// Where a subscriber is.
    public struct Cursor: Sendable, Equatable {
        var page = 1
        var y = 0
        /// A fresh cursor, at the first page's first row.
        public init() {}
    }

    /// The compressor (one at a time) and the band it made last.
    private struct Encoding: ~Copyable {
        var encoder: JPEGMemoryEncoder?
        var last: LiveRowsEvent?
    }

    private let pages = Mutex<[Int: Page]>([:])
    private let encoding = Mutex(Encoding())

    /// An empty buffer.
    public init() {}

    /// Adds a band from the scanner.
    public func append(_ band: ScanRowsBand) {
        pages.withLock { pages in
            var page = pages[band.page] ?? Page(width: band.width, format: band.format)
            guard page.width == band.width, page.format == band.format, band.y == page.rows,
                band.pixels.count == band.lines * band.format.bytesPerRow(width: band.width)
            else { return }
            page.bands.append((band.y, band.pixels))
            page.rows += band.lines
            pages[band.page] = page
            for old in pages.keys where old < band.page - 1 { pages.removeValue(forKey: old) }
        }
    }

    /// Everything after `cursor` on its page (or, once that page is fully taken and a later one has begun, on the
    /// next), as one JPEG band; nil when there is nothing new. Moves the cursor past what it returns.
    public func band(after cursor: inout Cursor) -> LiveRowsEvent? {
        let taken: (page: Int, y: Int, lines: Int, width: Int, format: PixelFormat, bands: [Data])? = pages.withLock { pages in
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
            let from = cursor.y
            let bands = page.bands.compactMap { band -> Data? in
                let end = band.y + band.pixels.count / rowBytes
                guard end > from else { return nil }
                // (A cursor stops only where a band ends, so this cut is for safety.)
                return band.y >= from ? band.pixels : band.pixels.dropFirst((from - band.y) * rowBytes)
            }
            cursor.y = page.rows
            return (cursor.page, from, page.rows - from, page.width, page.format, bands)
        }
        guard let taken else { return nil }
        return encoding.withLock { (encoding) -> LiveRowsEvent? in
            if let last = encoding.last, last.page == taken.page, last.y == taken.y, last.lines == taken.lines { return last }
            if encoding.encoder == nil { encoding.encoder = try? JPEGMemoryEncoder(quality: 90, subsampling: .s444) }
            guard let encoder = encoding.encoder,
                let image = try? encoder.encode(bands: taken.bands, format: taken.format, width: taken.width)
            else { return nil }
            let event = LiveRowsEvent(page: taken.page, y: taken.y, width: taken.width, lines: taken.lines, image: image)
            encoding.last = event
            return event
        }
    }
}
