import Attachments
import Foundation

/// A page scanned into memory: what it is, and its rows, packed (`image.bytesPerRow` bytes each).
package struct ScannedPage: Sendable {
    /// The page's format, size and resolution.
    package let image: ImageDescription
    /// The rows, top to bottom.
    package let rows: [UInt8]
}

/// Where a scan's pages go: the store (`ScanOutput`), or the caller's memory (`MemoryPages`).
protocol ScanDestination: PageSink {
    /// Attachments committed so far.
    var committed: [AttachmentManifest] { get }
    /// Completes the output after the last page.
    func finish() throws(ScanError) -> [AttachmentManifest]
    /// Drops whatever is unfinished.
    func abandon()
    /// Deletes the pages already committed (a cancelled scan stores nothing).
    func discardCommitted()
}

extension ScanOutput: ScanDestination {}

/// Pages handed to the caller as they end, for work that needs the whole page in memory anyway (the document stages):
/// the rows go straight into one buffer a page, with no file written and read back; nothing is stored.
final class MemoryPages: ScanDestination {
    private let deliver: (ScannedPage) throws(ScanError) -> Void
    private var page: MemoryRows?

    init(deliver: @escaping (ScannedPage) throws(ScanError) -> Void) { self.deliver = deliver }

    var committed: [AttachmentManifest] { [] }

    func beginPage(_ image: ImageDescription) throws(ScanError) -> RowEncoder {
        let rows = MemoryRows(image)
        page = rows
        return rows
    }

    func endPage(_ image: ImageDescription) throws(ScanError) {
        guard let page else { throw ScanError(.backendCrashed, "a page ended that had not begun") }
        self.page = nil
        try deliver(ScannedPage(image: image, rows: page.rows))
    }

    func finish() throws(ScanError) -> [AttachmentManifest] { [] }

    func abandon() { page = nil }

    func discardCommitted() {}
}

/// A page's rows collected in memory.
final class MemoryRows: RowEncoder {
    let image: ImageDescription
    private(set) var rowsWritten = 0
    private(set) var rows: [UInt8] = []

    init(_ image: ImageDescription) {
        self.image = image
        if image.height > 0 { rows.reserveCapacity(image.bytesPerRow * image.height) }
    }

    func write(row: UnsafeRawBufferPointer) throws(AttachmentError) {
        guard row.count >= image.bytesPerRow else {
            throw AttachmentError(.invalidImage, "a row of \(row.count) bytes where \(image.bytesPerRow) are needed")
        }
        rows.append(contentsOf: row.prefix(image.bytesPerRow))
        rowsWritten += 1
    }

    func finish() throws(AttachmentError) {}
}
