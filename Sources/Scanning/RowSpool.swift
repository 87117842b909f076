import Attachments
import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Rows kept in an unlinked temp file (never in memory) until they can be encoded: pages of unknown height, and the
/// planes of three-pass colour. Each row is encrypted (AES-256-GCM) under a key that exists only in this object's
/// memory, so no plaintext scan row reaches the disk, not even in a spool that keeps no plaintext; a row read back
/// altered fails its tag.
final class RowSpool {
    let rowBytes: Int
    private(set) var rows = 0
    private let fd: Int32
    private let key = SymmetricKey(size: .bits256)
    /// A stored row: its ciphertext and tag (the nonce is the row's index).
    private var storedBytes: Int { rowBytes + 16 }

    init(rowBytes: Int) throws(ScanError) {
        self.rowBytes = rowBytes
        var template = Array((FileManager.default.temporaryDirectory.path + "/counterkit-rows-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw ScanError(.ioError, "cannot create a temp file for scan rows") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.fd = fd
    }

    deinit { close(fd) }

    /// The file's descriptor, for tests that check what reached the disk.
    var descriptorForTests: Int32 { fd }

    func append(_ row: UnsafeRawBufferPointer) throws(ScanError) {
        guard row.count == rowBytes else { throw ScanError(.ioError, "a row of \(row.count) bytes for a spool of \(rowBytes)-byte rows") }
        let sealed: AES.GCM.SealedBox
        do { sealed = try AES.GCM.seal(row, using: key, nonce: Self.nonce(rows)) } catch {
            throw ScanError(.ioError, "encrypting a scan row failed: \(error)")
        }
        var stored = [UInt8](sealed.ciphertext)
        stored += sealed.tag
        let written = stored.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(rows * storedBytes)) }
        guard written == storedBytes else { throw ScanError(.ioError, "writing scan rows to disk failed (disk full?)") }
        rows += 1
    }

    func read(row index: Int, into buffer: UnsafeMutableRawBufferPointer) throws(ScanError) {
        var stored = [UInt8](repeating: 0, count: storedBytes)
        let count = stored.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(index * storedBytes)) }
        guard count == storedBytes else { throw ScanError(.ioError, "reading scan rows back failed") }
        do {
            let box = try AES.GCM.SealedBox(nonce: Self.nonce(index), ciphertext: stored[..<rowBytes], tag: stored[rowBytes...])
            let row = try AES.GCM.open(box, using: key)
            row.withUnsafeBytes { buffer.copyMemory(from: $0) }
        } catch {
            throw ScanError(.ioError, "a scan row read back from the temp file does not decrypt: the file was changed")
        }
    }

    /// The nonce of row `index`: unique per row under this spool's own key.
    private static func nonce(_ index: Int) throws -> AES.GCM.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        withUnsafeBytes(of: UInt64(index).bigEndian) { bytes.replaceSubrange(4..<12, with: $0) }
        return try AES.GCM.Nonce(data: bytes)
    }
}
