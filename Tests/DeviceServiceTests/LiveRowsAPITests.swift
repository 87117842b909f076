import Attachments
import CounterKitTestSupport
import Foundation
import Testing

@testable import DeviceService

/// `"live"` on `POST /v1/scans`: `rows` events on the job's event stream, over the socket, from the SANE test backend.
@Suite struct LiveRowsAPITests {
    struct Band: Decodable { var page: Int; var y: Int; var width: Int; var lines: Int; var image: Data }

    @Test func rowsEventsCarryJPEGBandsBeforeTheJobCompletes() async throws {
        let service = try await RunningService.start()
        let body =
            #"{"device":"test:0","resolution":100,"format":"png","live":{"width":160},"area":{"x":0,"y":0,"width":80,"height":60},"#
            + #""options":{"test-picture":"Color pattern","read-delay":true,"read-delay-duration":100000,"read-limit":true,"read-limit-size":2048}}"#
        // The live scan waits behind a slow one until this subscriber is there (its first event), however loaded the
        // machine: a subscriber that came after the end would rightly get no rows.
        let blocker = try service.job(try await service.post("/v1/scans", slowScan))
        let job = try service.job(try await service.post("/v1/scans?queue=true", body))
        var names: [String] = [], rows = 0
        try await service.client.events("/v1/jobs/\(job.id)/events") { event in
            if names.isEmpty { Task { _ = try? await service.delete("/v1/jobs/\(blocker.id)") } }
            names.append(event.name)
            if event.name == "rows" {
                let band = try JSONDecoder().decode(Band.self, from: Data(event.data.utf8))
                let image = try DecodedImage.jpeg(Array(band.image))
                #expect(band.page == 1 && band.y == rows && band.width == 160 && image.width == 160 && image.height == band.lines)
                rows += band.lines
            }
            return true
        }
        #expect(names.last == "completed" && names.contains("rows"))
        #expect((names.lastIndex(of: "rows") ?? .max) < (names.lastIndex(of: "completed") ?? -1))
        let finished = try await service.job(service.get("/v1/jobs/\(job.id)"))
        let height = try #require(finished.attachments.first?.pixelHeight), width = try #require(finished.attachments.first?.pixelWidth)
        #expect(rows == (height - 1) * 160 / width + 1, "the bands cover the page: \(rows) rows")

        let refused = try await service.post("/v1/scans", #"{"device":"test:0","live":{"width":8}}"#)
        #expect(refused.status == 400 && refused.error?.code == "invalid_value")
        let unknown = try await service.post("/v1/scans", #"{"device":"test:0","live":{"width":100,"height":5}}"#)
        #expect(unknown.status == 400 && unknown.error?.code == "unknown_field")
        try await service.stop()
    }

    @Test func aBandsDirectJSONIsTheEncodersByteForByte() throws {
        let image = Data((0..<1000).map { UInt8($0 % 251) }).base64EncodedString()
        let band = try JSONDecoder().decode(
            LiveRowsEvent.self,
            from: Data(
                #"{"page":2,"y":417,"width":600,"lines":33,"image":"\#(image)"}"#.utf8))
        #expect(band.image.count == 1000)
        let direct = String(decoding: ServerSentEvents.event(band, id: 7).readableBytesView, as: UTF8.self)
        let encoded = String(decoding: try JSONEncoder.api.encode(band), as: UTF8.self)
        #expect(direct == "id: 7\nevent: rows\ndata: \(encoded)\n\n")
        let event = String(
            decoding: ServerSentEvents.format(name: "rows", data: Data("{}".utf8), id: 7).readableBytesView,
            as: UTF8.self)
        #expect(event == "id: 7\nevent: rows\ndata: {}\n\n")
    }
}
