import Attachments
import CounterKitTestSupport
import Foundation
import Testing

@testable import DeviceService

/// Every attachment format, served through `GET /v1/attachments/{id}`: the bytes, media type, ETag and manifest are
/// the ones committed, before and after a restart of the service (a JSON attachment was once served as its manifest).
@Suite struct AttachmentReadBackTests {
    private func checkServed(_ service: RunningService, _ samples: [(manifest: AttachmentManifest, bytes: [UInt8])]) async throws {
        let listed = try await service.get("/v1/attachments").decode(AttachmentList.self).attachments
        #expect(Set(listed.map(\.id)) == Set(samples.map(\.manifest.id)))
        for sample in samples {
            let manifest = sample.manifest
            let served = try await service.get("/v1/attachments/\(manifest.id)")
            #expect(served.status == 200)
            #expect(served.body == sample.bytes, "\(manifest.format) attachment served different bytes")
            #expect(served.headers.first(name: "Content-Type") == manifest.format.mediaType)
            #expect(served.headers.first(name: "ETag") == "\"\(manifest.sha256)\"")
            #expect(try AttachmentStore.hashFile(atPath: service.spool.appendingPathComponent(manifest.fileName).path).sha256 == manifest.sha256)
            let servedManifest = try await service.get("/v1/attachments/\(manifest.id)/manifest").decode(AttachmentManifest.self)
            // Equal to the committed manifest, dates to the millisecond (a decoded date once printed a millisecond early).
            #expect(servedManifest == manifest)
        }
    }

    @Test func everyFormatIsServedAsStoredBeforeAndAfterARestart() async throws {
        let directory = try TemporaryDirectory("ck-svc")
        let spool = directory.url.appendingPathComponent("spool")
        var samples: [(manifest: AttachmentManifest, bytes: [UInt8])] = []
        do {
            let store = try AttachmentStore(directory: spool)
            for format in AttachmentFormat.allCases {
                for seed in UInt64(1)...3 { samples.append(try storeSampleAttachment(format, seed: seed, in: store)) }
            }
        }
        let first = try await RunningService.start(in: directory)
        try await checkServed(first, samples)
        try await first.stop()
        let second = try await RunningService.start(in: directory)
        try await checkServed(second, samples)
        let json = try #require(samples.first { $0.manifest.format == .json }?.manifest)
        #expect(try await second.delete("/v1/attachments/\(json.id)").status == 204)
        #expect(try await second.get("/v1/attachments/\(json.id)").status == 404)
        try await second.stop()
    }
}
