import Attachments
import CounterKitTestSupport
import Foundation
import Testing

/// An OutputFile counts and hashes every byte on its way out, through `write` and through its stdio
/// stream alike (the way libjpeg and libpng write), so a commit need not read the file back.
@Suite struct OutputFileTests {
    @Test func theDigestIsTheFilesSHA256WhicheverWayTheBytesWent() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("a.bin")
        let file = try OutputFile(creating: path)
        #expect(file.digest == nil)
        try file.write("header\n")
        #expect(file.offset == 7)
        let block = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(block.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file.stream) } == block.count)
        #expect(file.offset == 7 + block.count)
        try block.withUnsafeBytes { try file.write($0) }
        try file.sync()
        try file.close()
        let digest = try #require(file.digest)
        let onDisk = try AttachmentStore.hashFile(atPath: path)
        #expect(digest.byteCount == 7 + 2 * block.count && digest.byteCount == onDisk.size)
        #expect(digest.sha256 == onDisk.sha256)
    }

    @Test func anEmptyFileHasTheEmptyDigest() throws {
        let directory = try TemporaryDirectory()
        let file = try OutputFile(creating: directory.path("empty"))
        try file.close()
        #expect(file.digest?.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(file.digest?.byteCount == 0)
    }

    @Test func writingAfterCloseIsAnError() throws {
        let directory = try TemporaryDirectory()
        let file = try OutputFile(creating: directory.path("b"))
        try file.write([UInt8](repeating: 1, count: 10))
        try file.close()
        #expect(throws: AttachmentError.self) { try file.write([1]) }
        #expect(file.digest?.byteCount == 10)
    }
}
