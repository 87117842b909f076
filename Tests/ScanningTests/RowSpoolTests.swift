import Foundation
import Testing

@testable import Scanning

/// The row spool (pages of unknown height, three-pass planes) keeps rows on disk only encrypted, under a key that lives
/// in memory: what the file holds is not the rows, they read back exactly, and a changed byte is caught.
@Suite struct RowSpoolTests {
    @Test func rowsReachTheDiskOnlyEncryptedAndReadBackExactly() throws {
        let rowBytes = 300
        let spool = try RowSpool(rowBytes: rowBytes)
        let rows = (0..<40).map { index in (0..<rowBytes).map { UInt8(truncatingIfNeeded: $0 * 7 + index) } }
        for row in rows { try row.withUnsafeBytes { try spool.append($0) } }
        #expect(spool.rows == rows.count)
        // What is on disk: 16 bytes more a row (the tag), and no row's bytes anywhere in it.
        var file = [UInt8](repeating: 0, count: rows.count * (rowBytes + 16) + 64)
        let size = file.withUnsafeMutableBytes { pread(spool.descriptorForTests, $0.baseAddress, $0.count, 0) }
        #expect(size == rows.count * (rowBytes + 16))
        let disk = Data(file.prefix(size))
        for row in rows { #expect(disk.range(of: Data(row.prefix(32))) == nil, "a row's bytes are on disk in the clear") }
        // Read back in any order, exactly.
        var buffer = [UInt8](repeating: 0, count: rowBytes)
        for index in [39, 0, 17] {
            try buffer.withUnsafeMutableBytes { try spool.read(row: index, into: $0) }
            #expect(buffer == rows[index])
        }
        // A byte changed on disk: that row fails to open, with a clear error.
        var byte: UInt8 = 0
        _ = pread(spool.descriptorForTests, &byte, 1, off_t(5 * (rowBytes + 16) + 3))
        byte ^= 0x40
        _ = pwrite(spool.descriptorForTests, &byte, 1, off_t(5 * (rowBytes + 16) + 3))
        do {
            try buffer.withUnsafeMutableBytes { try spool.read(row: 5, into: $0) }
            Issue.record("a changed row was read back")
        } catch let error as ScanError {
            #expect(error.code == .ioError && error.message.contains("does not decrypt"), "\(error.message)")
        }
    }
}
