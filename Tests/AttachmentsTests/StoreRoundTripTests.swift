import Attachments
import CounterKitTestSupport
import Foundation
import SignaturePads
import Testing

/// Whatever an attachment's format, what is committed is what is listed and read back, byte for byte, with the
/// SHA-256 its manifest states, before and after the store is opened again; and no data file ever shares a name
/// with a manifest (a JSON attachment once had its data overwritten by its own manifest).
@Suite struct StoreRoundTripTests {
    private static let seeds: [UInt64] = Array(1...6)

    private func checkReadBack(_ store: AttachmentStore, _ expected: [String: (manifest: AttachmentManifest, bytes: [UInt8])]) throws {
        #expect(Set(store.list().map(\.id)) == Set(expected.keys))
        for (id, sample) in expected {
            let manifest = try store.manifest(id: id)
            #expect(manifest == sample.manifest)
            let bytes = [UInt8](try Data(contentsOf: store.fileURL(id: id)))
            #expect(bytes == sample.bytes, "attachment \(id) (\(manifest.format)) changed on disk")
            #expect(bytes.count == manifest.byteCount)
            #expect(try AttachmentStore.hashFile(atPath: store.fileURL(id: id).path).sha256 == manifest.sha256)
            let onDisk = try AttachmentManifest.makeDecoder().decode(AttachmentManifest.self, from: Data(contentsOf: store.manifestURL(id: id)))
            #expect(onDisk == manifest)
            #expect(try store.manifestURL(id: id) != store.fileURL(id: id))
        }
    }

    @Test(arguments: AttachmentFormat.allCases)
    func everyFormatReadsBackIdenticalBeforeAndAfterReopening(_ format: AttachmentFormat) throws {
        let directory = try TemporaryDirectory()
        let store = try AttachmentStore(directory: directory.url, retention: .keepAll)
        var expected: [String: (manifest: AttachmentManifest, bytes: [UInt8])] = [:]
        for seed in Self.seeds {
            let sample = try storeSampleAttachment(format, seed: seed, in: store)
            #expect(sample.manifest.format == format && sample.manifest.fileName.hasSuffix("." + format.fileExtension))
            expected[sample.manifest.id] = sample
        }
        try checkReadBack(store, expected)
        let reopened = try AttachmentStore(directory: directory.url, retention: .keepAll, verifyHashes: true)
        #expect(reopened.migration == SpoolMigration())
        try checkReadBack(reopened, expected)
        // Each attachment is exactly its two files.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.url.path).filter { $0 != "tmp" }
        #expect(names.count == 2 * Self.seeds.count)
    }

    @Test func aSignatureJSONDocumentKeepsItsStrokes() throws {
        let directory = try TemporaryDirectory()
        let store = try AttachmentStore(directory: directory.url)
        let signature = seededSignature(seed: 7)
        let sample = try storeSampleAttachment(.json, seed: 7, in: store)
        let reopened = try AttachmentStore(directory: directory.url, verifyHashes: true)
        let strokes = try SignatureJSON.decodeStrokes(Data(contentsOf: reopened.fileURL(id: sample.manifest.id)))
        #expect(strokes.flatMap { $0 }.count == signature.samples.count)
        #expect(strokes.flatMap { $0 }.map(\.time) == signature.samples.map(\.time))
    }

    @Test func aJSONAttachmentThatLooksLikeAManifestStaysData() throws {
        let directory = try TemporaryDirectory()
        let store = try AttachmentStore(directory: directory.url)
        let other = try storeSampleAttachment(.png, seed: 1, in: store).manifest
        // The worst case for telling data from manifests: a JSON attachment whose content is a manifest.
        let pending = try store.begin()
        let content = try AttachmentManifest.makeEncoder().encode(other)
        try pending.file.write([UInt8](content))
        let stored = try store.commit(pending, metadata: AttachmentMetadata(kind: .scan, format: .json))
        let reopened = try AttachmentStore(directory: directory.url, verifyHashes: true)
        #expect(reopened.migration == SpoolMigration())
        #expect(try Data(contentsOf: reopened.fileURL(id: stored.id)) == content)
        #expect(try reopened.manifest(id: stored.id) == stored)
        try reopened.delete(id: stored.id)
        #expect(reopened.list().map(\.id) == [other.id])
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.url.path).sorted()
                == ["\(other.id).manifest.json", other.fileName, "tmp"].sorted())
    }

    /// A spool as the earlier release left it: manifests at `<id>.json`, and every JSON attachment's data
    /// overwritten by its manifest.
    @Test func aSpoolOfTheEarlierLayoutIsMigratedAndItsLostDocumentsReportedOnce() throws {
        let directory = try TemporaryDirectory()
        var kept: [String: (manifest: AttachmentManifest, bytes: [UInt8])] = [:]
        var lost: [AttachmentManifest] = []
        do {
            let store = try AttachmentStore(directory: directory.url, retention: .keepAll)
            for format in AttachmentFormat.allCases {
                let sample = try storeSampleAttachment(format, seed: 3, in: store)
                if format == .json { lost.append(sample.manifest) } else { kept[sample.manifest.id] = sample }
            }
            // A stroke document whose manifest was never written (killed between the two renames).
            let orphan = try storeSampleAttachment(.json, seed: 4, in: store).manifest
            unlink(try store.manifestURL(id: orphan.id).path)
            // A PNG whose bytes changed on disk but not its size: listed by size alone, it must not survive migration.
            let damaged = try storeSampleAttachment(.png, seed: 5, in: store)
            var bytes = damaged.bytes
            bytes[bytes.count / 2] ^= 0xFF
            try Data(bytes).write(to: store.fileURL(id: damaged.manifest.id))
            lost.append(damaged.manifest)
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.url.path) where name.hasSuffix(".manifest.json") {
            let id = String(name.dropLast(".manifest.json".count))
            #expect(rename(directory.url.appendingPathComponent(name).path, directory.url.appendingPathComponent("\(id).json").path) == 0)
        }

        // Opened without hash verification, as the service opens it: migration checks the hashes itself.
        let migrated = try AttachmentStore(directory: directory.url, retention: .keepAll)
        #expect(migrated.migration.migrated == kept.count)
        #expect(Set(migrated.migration.lost.map(\.id)) == Set(lost.map(\.id)))
        try checkReadBack(migrated, kept)
        let lines = SpoolMigrationReport.lines(migrated.migration, spool: directory.url)
        #expect(lines.count == 3 && lines.dropFirst().allSatisfy { $0.contains("cannot be recovered") })
        #expect(lines.contains { $0.contains(lost[0].id) && $0.contains("overwritten by its manifest") })
        #expect(lines.contains { $0.contains(lost[1].id) && $0.contains("no longer has the bytes") })
        // The lost attachment's manifest is kept for the record, not deleted.
        let record = directory.url.appendingPathComponent("lost/\(lost[0].id).manifest.json")
        #expect(try AttachmentManifest.makeDecoder().decode(AttachmentManifest.self, from: Data(contentsOf: record)) == lost[0])

        let again = try AttachmentStore(directory: directory.url, retention: .keepAll, verifyHashes: true)
        #expect(again.migration == SpoolMigration())
        #expect(SpoolMigrationReport.lines(again.migration, spool: directory.url).isEmpty)
        try checkReadBack(again, kept)
    }
}

@Suite struct PixelSizeTextTests {
    @Test(arguments: [("640x480", 640, 480), ("0640X0480", 640, 480), ("1x1", 1, 1), ("16384x16384", 16384, 16384)])
    func sizesAreRead(text: String, width: Int, height: Int) {
        let size = PixelSizeText.parse(text, maximum: 16384)
        #expect(size?.width == width && size?.height == height)
    }

    @Test(arguments: ["", "640", "640x", "x480", "0x480", "16385x1", "+640x480", " 640x480", "640x480x2", "６４０x480", "1e3x1"])
    func otherTextIsRefused(text: String) {
        #expect(PixelSizeText.parse(text, maximum: 16384) == nil)
    }
}
