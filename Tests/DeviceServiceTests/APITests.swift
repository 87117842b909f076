import Attachments
import CounterKitTestSupport
import Foundation
import Scanning
import Testing

@testable import DeviceService

@Suite("Service API against the SANE test backend")
struct APITests {
    @Test("health, devices and a device's capabilities")
    func devices() async throws {
        let service = try await RunningService.start()
        let health = try await service.get("/v1/health")
        #expect(health.status == 200)
        #expect(try health.decode(Health.self).status == "ok")

        let list = try await service.get("/v1/devices?refresh=true")
        #expect(list.status == 200)
        let devices = try list.decode(DeviceList.self).devices
        #expect(devices.map(\.id).contains("test:0"))
        #expect(devices.allSatisfy { $0.kind == .scanner && !$0.busy })

        let detail = try await service.get("/v1/devices/test:0")
        #expect(detail.status == 200)
        let device = try detail.decode(DeviceDetail.self)
        #expect(device.device.id == "test:0")
        #expect(device.capabilities.modes.contains(.color))
        #expect(device.capabilities.sources.contains(.flatbed))
        #expect(device.options.contains { $0.name == "resolution" })
        #expect(device.values["mode"] != nil)

        let missing = try await service.get("/v1/devices/nonesuch:9")
        #expect(missing.status == 404)
        #expect(missing.error?.code == "device_not_found")
        try await service.stop()
    }

    @Test("a scan with ?wait=true gives the finished job; its attachment is served with ETag, ranges and 304")
    func scanAndAttachment() async throws {
        let service = try await RunningService.start()
        let reply = try await service.post("/v1/scans?wait=true", #"{"device":"test:0","resolution":75,"paper":"ID1","format":"png"}"#)
        #expect(reply.status == 200)
        let job = try service.job(reply)
        #expect(job.state == .completed)
        #expect(job.pages == 1)
        #expect(job.settings?["paper"] == "ID1")
        let manifest = try #require(job.attachments.first)
        #expect(manifest.mediaType == "image/png")

        let bytes = try await service.get("/v1/attachments/\(manifest.id)")
        #expect(bytes.status == 200)
        #expect(bytes.headers.first(name: "Content-Type") == "image/png")
        #expect(bytes.headers.first(name: "ETag") == "\"\(manifest.sha256)\"")
        #expect(bytes.headers.first(name: "Content-Length") == String(manifest.byteCount))
        #expect(bytes.body.count == manifest.byteCount)
        let copy = service.directory.path("served.png")
        try Data(bytes.body).write(to: URL(fileURLWithPath: copy))
        let image = try DecodedImage.png(atPath: copy)
        #expect(image.width == manifest.pixelWidth && image.height == manifest.pixelHeight)

        let range = try await service.get("/v1/attachments/\(manifest.id)", headers: [("Range", "bytes=10-29")])
        #expect(range.status == 206)
        #expect(range.body == Array(bytes.body[10...29]))
        #expect(range.headers.first(name: "Content-Range") == "bytes 10-29/\(manifest.byteCount)")
        let suffix = try await service.get("/v1/attachments/\(manifest.id)", headers: [("Range", "bytes=-8")])
        #expect(suffix.body == Array(bytes.body.suffix(8)))
        let beyond = try await service.get("/v1/attachments/\(manifest.id)", headers: [("Range", "bytes=\(manifest.byteCount)-")])
        #expect(beyond.status == 416)
        #expect(beyond.error?.code == "range_not_satisfiable")
        let cached = try await service.get("/v1/attachments/\(manifest.id)", headers: [("If-None-Match", "\"\(manifest.sha256)\"")])
        #expect(cached.status == 304)
        #expect(cached.body.isEmpty)

        let stored = try await service.get("/v1/attachments/\(manifest.id)/manifest")
        #expect(try stored.decode(AttachmentManifest.self) == manifest)
        let listed = try await service.get("/v1/attachments")
        #expect(try listed.decode(AttachmentList.self).attachments.map(\.id) == [manifest.id])

        #expect(try await service.delete("/v1/attachments/\(manifest.id)").status == 204)
        let gone = try await service.get("/v1/attachments/\(manifest.id)")
        #expect(gone.status == 404)
        #expect(gone.error?.code == "not_found")
        #expect(try await service.delete("/v1/attachments/\(manifest.id)").status == 404)
        try await service.stop()
    }

    @Test("a PDF of an ADF's pages through the API")
    func feederToPDF() async throws {
        let service = try await RunningService.start()
        let reply = try await service.post(
            "/v1/scans?wait=true",
            #"{"device":"test:0","source":"adf","resolution":50,"format":"pdf","maxPages":3}"#)
        let job = try service.job(reply)
        #expect(job.state == .completed)
        #expect(job.pages == 3)
        #expect(job.attachments.count == 1)
        #expect(job.attachments.first?.pages == 3)
        #expect(job.attachments.first?.mediaType == "application/pdf")
        try await service.stop()
    }

    @Test("events: state first, progress while running, completed last; a late subscriber gets the final state")
    func eventStream() async throws {
        let service = try await RunningService.start()
        let accepted = try await service.post("/v1/scans", slowScan)
        #expect(accepted.status == 202)
        let job = try service.job(accepted)
        #expect(accepted.headers.first(name: "Location") == "/v1/jobs/\(job.id)")
        var names: [String] = []
        var last: JobSnapshot?
        let reply = try await service.client.events("/v1/jobs/\(job.id)/events") { event in
            names.append(event.name)
            last = try AttachmentManifest.makeDecoder().decode(JobSnapshot.self, from: Data(event.data.utf8))
            return true
        }
        #expect(reply.status == 200)
        #expect(reply.headers.first(name: "Content-Type") == "text/event-stream")
        #expect(names.first == "state")
        #expect(names.contains("progress"))
        #expect(names.last == "completed")
        #expect(last?.state == .completed)
        #expect(last?.attachments.count == 1)

        var late: [String] = []
        try await service.client.events("/v1/jobs/\(job.id)/events") { event in
            late.append(event.name)
            return true
        }
        #expect(late == ["state", "completed"], "a late subscriber gets the final event too")

        let metrics = String(decoding: try await service.get("/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"counterkit_jobs_total{kind="scan",outcome="completed"} 1"#))
        #expect(metrics.contains(#"counterkit_devices_present{kind="scanner"} 2"#))
        #expect(metrics.contains("counterkit_job_duration_seconds_count{kind=\"scan\"} 1"))
        try await service.stop()
    }

    @Test("one job per device: 409 device_busy, ?queue=true waits its turn, another device works meanwhile")
    func busyDevices() async throws {
        let service = try await RunningService.start()
        let first = try service.job(try await service.post("/v1/scans", longScan))
        let busy = try await service.post("/v1/scans", #"{"device":"test:0","resolution":50}"#)
        #expect(busy.status == 409)
        #expect(busy.error?.code == "device_busy")
        let listed = try await service.get("/v1/devices").decode(DeviceList.self)
        #expect(listed.devices.first { $0.id == "test:0" }?.busy == true)

        let queued = try service.job(try await service.post("/v1/scans?queue=true", #"{"device":"test:0","resolution":50}"#))
        #expect(queued.state == .queued)
        let other = try service.job(try await service.post("/v1/scans", #"{"device":"test:1","resolution":50}"#))
        #expect(other.state == .running)

        let otherDone = try await service.waitForJob(other.id)
        let firstDone = try await service.waitForJob(first.id)
        let queuedDone = try await service.waitForJob(queued.id)
        #expect(otherDone.state == .completed && firstDone.state == .completed && queuedDone.state == .completed)
        // The other device finished while the first was still scanning; the queued job started after the first ended.
        #expect(otherDone.finishedAt! < firstDone.finishedAt!)
        #expect(queuedDone.startedAt! >= firstDone.finishedAt!)
        try await service.stop()
    }

    @Test("DELETE cancels a running job and releases the device; queued jobs cancel at once")
    func cancellation() async throws {
        let service = try await RunningService.start()
        let running = try service.job(try await service.post("/v1/scans", longScan))
        let queued = try service.job(try await service.post("/v1/scans?queue=true", slowScan))
        let cancelledQueued = try service.job(try await service.delete("/v1/jobs/\(queued.id)"))
        #expect(cancelledQueued.state == .cancelled)
        try await Task.sleep(for: .milliseconds(500))
        let cancelling = try await service.delete("/v1/jobs/\(running.id)")
        #expect(cancelling.status == 202 && (try? cancelling.decode(JobSnapshot.self))?.state == .cancelling)
        let done = try await service.waitForJob(running.id, timeout: .seconds(10))
        #expect(done.state == .cancelled)
        #expect(done.error?.code == .cancelled)
        #expect(done.attachments.isEmpty)

        // Idempotent: asked again once it has ended, it answers with the job as it is.
        let again = try await service.delete("/v1/jobs/\(running.id)")
        #expect(again.status == 200 && (try? again.decode(JobSnapshot.self))?.state == .cancelled)
        let next = try service.job(try await service.post("/v1/scans?wait=true", #"{"device":"test:0","resolution":50}"#))
        #expect(next.state == .completed)
        #expect(try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.count == 1)
        try await service.stop()
    }

    @Test("a scanner error fails the job with the scanning code and the device is usable again")
    func failedJob() async throws {
        let service = try await RunningService.start()
        let failed = try service.job(
            try await service.post(
                "/v1/scans?wait=true",
                #"{"device":"test:0","resolution":50,"options":{"read-return-value":"SANE_STATUS_JAMMED"}}"#))
        #expect(failed.state == .failed)
        #expect(failed.error?.code == .jammed)
        // An option the scanner does not have is refused before it becomes a job (HonestAnswersTests has more).
        let unsupported = try await service.post("/v1/scans?wait=true", #"{"device":"test:0","options":{"no-such-option":1}}"#)
        #expect(unsupported.status == 400 && unsupported.error?.code == "unsupported_option")
        let next = try service.job(try await service.post("/v1/scans?wait=true", #"{"device":"test:0","resolution":50}"#))
        #expect(next.state == .completed)
        let metrics = String(decoding: try await service.get("/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"counterkit_jobs_total{kind="scan",outcome="failed"} 1"#))
        try await service.stop()
    }

    @Test("a restart keeps the attachments and the jobs; the socket file is removed on stop")
    func restart() async throws {
        let directory = try TemporaryDirectory("ck-svc")
        let first = try await RunningService.start(in: directory)
        let job = try first.job(try await first.post("/v1/scans?wait=true", #"{"device":"test:0","resolution":50}"#))
        let manifest = try #require(job.attachments.first)
        try await first.stop()
        #expect(!FileManager.default.fileExists(atPath: first.socket))

        let second = try await RunningService.start(in: directory)
        let bytes = try await second.get("/v1/attachments/\(manifest.id)")
        #expect(bytes.status == 200)
        #expect(try AttachmentStore.hashFile(atPath: second.spool.appendingPathComponent(manifest.fileName).path).sha256 == manifest.sha256)
        #expect(bytes.body.count == manifest.byteCount)
        // The job journal keeps the job across the restart, as it ended.
        let knownJob = try await second.get("/v1/jobs/\(job.id)")
        #expect(knownJob.status == 200 && (try? knownJob.decode(JobSnapshot.self)) == job)
        try await second.stop()
    }
}
