import Attachments
import Foundation

/// A page scanned into memory: its image and rows.
package typealias ScannedPage = ImageRows

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
