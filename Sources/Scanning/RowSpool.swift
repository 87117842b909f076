import Attachments
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Rows kept in an unlinked temp file (never in memory) until they can be
/// encoded: pages of unknown height, and the planes of three-pass colour.
final class RowSpool {
    let rowBytes: Int
    private(set) var rows = 0
    private let fd: Int32

    init(rowBytes: Int) throws(ScanError) {
        self.rowBytes = rowBytes
        var template = Array((FileManager.default.temporaryDirectory.path + "/counterkit-rows-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw ScanError(.ioError, "cannot create a temp file for scan rows") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.fd = fd
    }

    deinit { close(fd) }

    func append(_ row: UnsafeRawBufferPointer) throws(ScanError) {
        guard row.count == rowBytes else { throw ScanError(.ioError, "a row of \(row.count) bytes for a spool of \(rowBytes)-byte rows") }
        let written = pwrite(fd, row.baseAddress, rowBytes, off_t(rows * rowBytes))
        guard written == rowBytes else { throw ScanError(.ioError, "writing scan rows to disk failed (disk full?)") }
        rows += 1
    }

    func read(row index: Int, into buffer: UnsafeMutableRawBufferPointer) throws(ScanError) {
        let count = pread(fd, buffer.baseAddress, rowBytes, off_t(index * rowBytes))
        guard count == rowBytes else { throw ScanError(.ioError, "reading scan rows back failed") }
    }
}
