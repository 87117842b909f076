import Attachments
import CounterKitTestSupport
import Foundation
import Testing

@testable import DeviceService

/// A spool on a small file system that fills during a page (a tmpfs mounted in the test VM, where the tests run as
/// root): the job fails `disk_full`, nothing partial is left or listed, the service keeps answering, the scanner is
/// released, and once space is freed the same scan works.
@Suite(.serialized, .enabled(if: insideTestVM, "runs in the test VM (scripts/vm-run)"))
struct DiskFullInGuestTests {
    @Test func aDiskThatFillsDuringAPageFailsTheJobAndTheNextScanWorksOnceThereIsRoom() async throws {
        let directory = try TemporaryDirectory("ck-full")
        let small = directory.path("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        let mounted = try await runCommandAsync(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", small])
        try #require(mounted.status == 0, "mount: \(mounted.output)")
        defer { _ = try? runCommand(["umount", small]) }  // blocking: a defer cannot await; umount of a tmpfs returns at once
        let service = try await RunningService.start(spool: URL(fileURLWithPath: small + "/spool"))
        // Leave about 1 MiB; an uncompressed page of the whole bed at 150 dpi is over 4 MiB.
        var info = statvfs()
        #expect(statvfs(small, &info) == 0)
        let free = Int(info.f_bavail) * Int(info.f_frsize)
        let filler = small + "/filler"
        #expect(FileManager.default.createFile(atPath: filler, contents: Data(count: max(0, free - (1 << 20)))))
        let page = #"{"device":"test:0","resolution":150,"format":"pnm"}"#

        let failed = try service.job(try await service.post("/v1/scans?wait=true", page))
        #expect(failed.state == .failed && failed.error?.code == .diskFull && failed.attachments.isEmpty, "\(failed)")
        #expect(try await service.get("/v1/health").status == 200, "the service keeps answering")
        #expect(try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.isEmpty, "nothing partial is listed")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: small + "/spool/tmp")
        #expect(leftovers.isEmpty, "no partial file: \(leftovers)")
        #expect(
            try await service.get("/v1/devices").decode(DeviceList.self).devices.first { $0.id == "test:0" }?.busy == false,
            "the scanner is released")

        try FileManager.default.removeItem(atPath: filler)
        let done = try service.job(try await service.post("/v1/scans?wait=true", page))
        #expect(done.state == .completed && done.attachments.count == 1, "\(done)")
        let manifest = try #require(done.attachments.first)
        #expect(try AttachmentStore.hashFile(atPath: small + "/spool/" + manifest.fileName).sha256 == manifest.sha256)
        try await service.stop()
    }
}
