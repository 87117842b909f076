import Attachments
import CounterKitTestSupport
import Foundation
import Testing

@Suite(.ownThreads) struct AttachmentStoreTests {
    private func writePNG(_ store: AttachmentStore, device: String = "test:0") throws -> AttachmentManifest {
        let pending = try store.begin()
        let image = ImageDescription(format: .gray8, width: 8, height: 8, dpi: 300)
        let encoder = try PNGEncoder(image: image, output: pending.file)
        for y in 0..<8 { try [UInt8](repeating: UInt8(y * 30), count: 8).withUnsafeBytes { try encoder.write(row: $0) } }
        try encoder.finish()
        return try store.commit(
            pending,
            metadata: AttachmentMetadata(
                kind: .scan, format: .png, pixelWidth: 8, pixelHeight: 8, dpi: 300, pages: 1, device: device,
                settings: ["mode": "gray"]))
    }

    @Test func commitPublishesFileAndManifestWithSHA256() throws {
        let directory = try TemporaryDirectory()
        let store = try AttachmentStore(directory: directory.url)
        let manifest = try writePNG(store)
        let path = try store.fileURL(id: manifest.id).path
        let sha = try runCommand(["sha256sum", path]).output.prefix(64)
        #expect(manifest.sha256 == String(sha))
        #expect(manifest.byteCount == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int))
        #expect(manifest.mediaType == "image/png" && manifest.kind == .scan && manifest.device == "test:0")
        let onDisk = try AttachmentManifest.makeDecoder().decode(
            AttachmentManifest.self, from: Data(contentsOf: directory.url.appendingPathComponent("\(manifest.id).manifest.json")))
        #expect(onDisk == manifest)
        #expect(store.list().map(\.id) == [manifest.id])
    }

    @Test func pendingWritesAreNeverListed() throws {
        let directory = try TemporaryDirectory()
        let store = try AttachmentStore(directory: directory.url)
        let pending = try store.begin()
        try pending.file.write("half a file")
        #expect(store.list().isEmpty)
        #expect(try AttachmentStore(directory: directory.url).list().isEmpty)
        store.discard(pending)
        #expect(!FileManager.default.fileExists(atPath: pending.file.path))
    }

    @Test func indexSurvivesRestartAndDropsDamagedEntries() throws {
        let directory = try TemporaryDirectory()
        let first = try AttachmentStore(directory: directory.url)
        let kept = try writePNG(first)
        let truncated = try writePNG(first)
        let orphanData = try writePNG(first)
        // Damage: a truncated file, a data file whose manifest is gone, a stray manifest.
        truncate(try first.fileURL(id: truncated.id).path, 3)
        unlink(directory.url.appendingPathComponent("\(orphanData.id).manifest.json").path)
        try Data("{".utf8).write(to: directory.url.appendingPathComponent("\(UUID().uuidString.lowercased()).manifest.json"))

        let reopened = try AttachmentStore(directory: directory.url, verifyHashes: true)
        #expect(reopened.list().map(\.id) == [kept.id])
        #expect(try reopened.manifest(id: kept.id) == kept)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.url.path).sorted()
        #expect(names == ["\(kept.id).manifest.json", "\(kept.id).png", "tmp"].sorted())
    }

    @Test func tempFilesOfAKilledWriterAreCleanedAtStart() throws {
        let directory = try TemporaryDirectory()
        _ = try AttachmentStore(directory: directory.url)
        let tmp = directory.url.appendingPathComponent("tmp").path
        // A real writer process that dies by SIGKILL halfway through its file.
        let script = "head -c 100000 /dev/urandom > \(tmp)/$$-\(UUID().uuidString.lowercased()).part; kill -KILL $$"
        let result = try runCommand(["sh", "-c", script])
        #expect(result.status != 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp).count == 1)
        // A live writer's file (this process) is left alone.
        let live = try AttachmentStore(directory: directory.url).begin()
        let reopened = try AttachmentStore(directory: directory.url)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp) == [URL(fileURLWithPath: live.file.path).lastPathComponent])
        #expect(reopened.list().isEmpty)
    }

    @Test func tempFilesOfAnEarlierBootAreCleanedEvenWhenTheirPidIsAliveAgain() throws {
        let directory = try TemporaryDirectory()
        _ = try AttachmentStore(directory: directory.url)
        let tmp = directory.url.appendingPathComponent("tmp")
        let boot = try String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8).filter(\.isHexDigit)
        #expect(boot.count == 32)
        // pid 1 is alive now; a power cut's leftover carries the boot it was written in, which is not this one.
        let earlierBoot = "1@" + String(repeating: "0", count: 32) + "-\(UUID().uuidString.lowercased()).part"
        let thisBoot = "1@\(boot)-\(UUID().uuidString.lowercased()).part"
        for name in [earlierBoot, thisBoot] {
            try Data("half a page".utf8).write(to: tmp.appendingPathComponent(name))
        }
        _ = try AttachmentStore(directory: directory.url)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == [thisBoot])
        // This store's own temp files carry this boot.
        let pending = try AttachmentStore(directory: directory.url).begin()
        #expect(URL(fileURLWithPath: pending.file.path).lastPathComponent.hasPrefix("\(getpid())@\(boot)-"))
    }

    @Test func retentionByAgeAndTotalBytes() throws {
        let directory = try TemporaryDirectory()
        let store = try AttachmentStore(directory: directory.url, retention: .keepAll)
        let a = try writePNG(store), b = try writePNG(store), c = try writePNG(store)
        let bySize = try AttachmentStore(directory: directory.url, retention: RetentionPolicy(maxTotalBytes: b.byteCount + c.byteCount))
        #expect(bySize.list().map(\.id) == [b.id, c.id])
        #expect(!FileManager.default.fileExists(atPath: directory.url.appendingPathComponent(a.fileName).path))
        let byAge = try AttachmentStore(directory: directory.url, retention: RetentionPolicy(maxAge: 60))
        #expect(byAge.applyRetention(now: Date().addingTimeInterval(3600)).sorted() == [b.id, c.id].sorted())
        #expect(byAge.list().isEmpty)
    }

    @Test func idsAreValidatedAndDeleteRemovesBoth() throws {
        let directory = try TemporaryDirectory()
        let store = try AttachmentStore(directory: directory.url)
        for bad in ["../../etc/passwd", "", "ABCDEF", String(repeating: "a", count: 36)] {
            #expect(throws: AttachmentError.self) { try store.manifest(id: bad) }
        }
        #expect(throws: AttachmentError(.notFound, "no attachment 00000000-0000-0000-0000-000000000000")) {
            try store.manifest(id: "00000000-0000-0000-0000-000000000000")
        }
        let manifest = try writePNG(store)
        try store.delete(id: manifest.id)
        #expect(store.list().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path) == ["tmp"])
    }

    @Test func symlinkedSpoolIsRefused() throws {
        let directory = try TemporaryDirectory()
        let link = directory.path("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: directory.url.path)
        #expect(throws: AttachmentError.self) { try AttachmentStore(directory: URL(fileURLWithPath: link)) }
    }
}
