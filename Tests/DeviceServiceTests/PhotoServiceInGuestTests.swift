import Attachments
import Cameras
import CounterKitTestSupport
import Foundation
import Sealing
import Testing

@testable import DeviceService

/// `POST /v1/photos` and camera devices on a real service against the kernel's vivid driver.
/// Runs only inside the test VM (the host's `VMHarnessTests` starts it), one test at a time.
@Suite(.serialized, .enabled(if: insideTestVM, "runs in the test VM (scripts/vm-run)"))
struct PhotoServiceInGuestTests {
    static let vivid = "v4l2:platform:vivid-000"
    /// A clean, small picture: colour bars without the text overlay.
    static let clean = #""controls":{"osd_text_mode":"None","test_pattern":"75% Colorbar","percentage_of_dropped_buffers":0}"#

    init() throws { try VividModule.load() }

    func fetchImage(_ service: RunningService, _ manifest: AttachmentManifest) async throws -> DecodedImage {
        let reply = try await service.get("/v1/attachments/\(manifest.id)")
        #expect(reply.status == 200)
        if manifest.format == .png {
            let path = service.directory.path("photo.png")
            try Data(reply.body).write(to: URL(fileURLWithPath: path))
            return try DecodedImage.png(atPath: path)
        }
        return try DecodedImage.jpeg(reply.body)
    }

    @Test func camerasAreListedAndDescribedLive() async throws {
        let service = try await RunningService.start()
        let devices = try await service.get("/v1/devices?refresh=true").decode(DeviceList.self).devices
        let camera = try #require(devices.first { $0.kind == .camera })
        #expect(camera.id == Self.vivid && camera.vendor == "vivid" && camera.type == "video camera" && !camera.busy)
        #expect(devices.filter { $0.kind == .camera }.count == 1, "vivid's output and VBI nodes are not listed")

        for id in [Self.vivid, "%2Fdev%2Fvideo0"] {
            let reply = try await service.get("/v1/devices/\(id)")
            #expect(reply.status == 200, "\(id)")
            let detail = try reply.decode(CameraDetail.self)
            #expect(detail.device.id == Self.vivid && detail.camera.path == "/dev/video0")
            #expect(detail.camera.formats.count == 83)
            #expect(detail.camera.controls.contains { $0.name == "brightness" })
        }
        try await service.stop()
    }

    /// `POST /v1/devices/{id}/frame-rate`'s body: `seconds` sets how long frames are counted (the default is 3 s), and
    /// a value out of range or an unknown field is refused with its code before the camera is touched.
    @Test func theFrameRateBodySetsHowLongFramesAreCounted() async throws {
        let service = try await RunningService.start()
        let path = "/v1/devices/\(Self.vivid)/frame-rate"
        func measure(_ body: String) async throws -> FrameRateMeasurement {
            let reply = try await service.post(path, body)
            #expect(reply.status == 200, "\(body): \(String(decoding: reply.body, as: UTF8.self))")
            return try reply.decode(FrameRateMeasurement.self)
        }
        // The counting time is what the body says: 1 s and 5 s bracket the default of 3 s, whatever the frame rate. The
        // probe counts until the first frame at or after that time, so it spans the time asked for and at most about
        // one frame's interval more (the guest's emulated vivid gives a few frames a second).
        let short = try await measure(#"{"seconds":1}"#), long = try await measure(#"{"seconds":5}"#), plain = try await measure("{}")
        for (measured, asked) in [(short, 1.0), (long, 5.0), (plain, 3.0)] {
            let interval = measured.seconds / Double(max(measured.frames - 1, 1))
            #expect(
                measured.seconds >= asked - 0.01 && measured.seconds <= asked + 2 * interval + 0.2,
                "asked \(asked) s: counted \(measured.seconds) s over \(measured.frames) frames")
            #expect(measured.frames >= 3 && measured.flaggedFrames == 0 && measured.size.width > 0, "\(measured)")
        }
        #expect(long.frames > short.frames, "more frames in 5 s than in 1 s: \(long.frames) vs \(short.frames)")
        for (body, code) in [
            (#"{"seconds":0.1}"#, "invalid_value"), (#"{"seconds":31}"#, "invalid_value"),
            (#"{"seconds":"3"}"#, "invalid_type"), (#"{"second":3}"#, "unknown_field"),
        ] {
            let reply = try await service.post(path, body)
            #expect(
                reply.status >= 400 && reply.status < 500 && reply.error?.code == code,
                "\(body): \(reply.status) \(String(decoding: reply.body, as: UTF8.self))")
        }
        try await service.stop()
    }

    @Test func aPhotoJobHasTheScanShapeAndItsAttachmentDecodes() async throws {
        let service = try await RunningService.start()
        let reply = try await service.post(
            "/v1/photos?wait=true",
            #"{"size":"640x360","pixelFormat":"YUYV","skip":1,"quality":92,\#(Self.clean)}"#)
        #expect(reply.status == 200)
        let job = try service.job(reply)
        #expect(job.kind == .photo && job.state == .completed && job.device == Self.vivid && job.pages == 1)
        let settings = try #require(job.settings)
        #expect(settings["size"] == "640x360" && settings["pixelFormat"] == "YUYV" && settings["quality"] == "92")
        #expect(settings["framesSkipped"] == "1" && settings["control.test_pattern"] == "75% Colorbar")
        let manifest = try #require(job.attachments.first)
        #expect(manifest.kind == .photo && manifest.pixelWidth == 640 && manifest.pixelHeight == 360)
        let image = try await fetchImage(service, manifest)
        #expect(image.width == 640 && image.height == 360)
        for bar in [0, 2, 5] { #expect(close(image.barPixel(bar), colourBars75[bar], tolerance: 14), "bar \(bar)") }

        let png = try service.job(
            try await service.post(
                "/v1/photos?wait=true",
                #"{"size":"320x180","format":"png","skip":0,\#(Self.clean)}"#))
        #expect(png.state == .completed && png.attachments.first?.format == .png)
        let decoded = try await fetchImage(service, try #require(png.attachments.first))
        #expect(decoded.width == 320 && close(decoded.barPixel(6), colourBars75[6], tolerance: 14))
        try await service.stop()
    }

    /// `"document"` on a real camera's photo: vivid's colour bars are colour (auto), the file is under its limit, and
    /// with cropping on, the crop stage says what it found either way.
    @Test func aPhotoThroughTheDocumentStages() async throws {
        // Sealed: photos through the document stages are signed like every other capture.
        let key = try CounterKey.generate(.p256)
        let service = try await RunningService.start(signer: CounterSealer(key: key))
        let job = try service.job(
            try await service.post(
                "/v1/photos?wait=true",
                #"{"size":"640x360","pixelFormat":"YUYV","skip":1,"quality":95,"document":{"crop":"none","color":"auto","maxBytes":4000},\#(Self.clean)}"#))
        #expect(job.state == .completed, "\(String(describing: job.error))")
        let manifest = try #require(job.attachments.first)
        #expect(job.attachments.count == 1 && manifest.format == .jpeg && manifest.byteCount <= 4_000)
        #expect(manifest.settings["document.color"] == "color (auto)" && manifest.settings["document.maxBytes"] == "4000")
        let lowered = (Int(manifest.settings["quality"] ?? "") ?? 100) < 95 || (Double(manifest.settings["document.scale"] ?? "") ?? 1) < 1
        #expect(lowered, "the quality or the size was lowered to fit: \(manifest.settings)")
        let image = try await fetchImage(service, manifest)
        #expect(image.width == manifest.pixelWidth && image.height == manifest.pixelHeight)
        for bar in [0, 2, 5] { #expect(close(image.barPixel(bar), colourBars75[bar], tolerance: 30), "bar \(bar)") }

        let cropped = try service.job(
            try await service.post(
                "/v1/photos?wait=true",
                #"{"size":"640x360","format":"png","skip":0,"document":{"crop":"auto"},\#(Self.clean)}"#))
        let page = try #require(cropped.attachments.first)
        #expect(cropped.state == .completed && page.format == .png)
        #expect(["found", "no_document: kept uncropped"].contains(page.settings["document.crop"] ?? ""), "\(page.settings)")
        #expect(try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.count == 2, "the captured frames are not kept")
        #expect(manifest.keyId == key.keyID && page.keyId == key.keyID)
        let problems = try await service.sealProblems([manifest.id, page.id], key: key)
        #expect(problems.isEmpty, "\(problems)")
        try await service.stop()
    }

    @Test func oneCaptureAtATimePerCameraAndQueueing() async throws {
        let service = try await RunningService.start()
        let slow = #"{"size":"320x180","settle":1500,\#(Self.clean)}"#
        let first = try service.job(try await service.post("/v1/photos", slow))
        #expect(first.state == .queued || first.state == .running)
        let refused = try await service.post("/v1/photos", slow)
        #expect(refused.status == 409 && refused.error?.code == "device_busy")
        let busy = try await service.get("/v1/devices").decode(DeviceList.self).devices.first { $0.id == Self.vivid }
        #expect(busy?.busy == true)
        let queued = try service.job(try await service.post("/v1/photos?queue=true", #"{"size":"320x180","skip":0}"#))
        #expect(queued.state == .queued)
        #expect(try await service.waitForJob(first.id).state == .completed)
        let second = try await service.waitForJob(queued.id)
        #expect(second.state == .completed, "\(second.error?.message ?? "")")
        #expect(second.startedAt! >= (try await service.waitForJob(first.id)).finishedAt!)
        try await service.stop()
    }

    @Test func eventsReportTheStagesAndCancellingReleasesTheCamera() async throws {
        let service = try await RunningService.start()
        let job = try service.job(try await service.post("/v1/photos", #"{"size":"320x180","settle":20000,\#(Self.clean)}"#))
        var stages: [String] = []
        var cancelSent = false
        try await service.client.events("/v1/jobs/\(job.id)/events") { event in
            let snapshot = try AttachmentManifest.makeDecoder().decode(JobSnapshot.self, from: Data(event.data.utf8))
            if let stage = snapshot.progress?.stage, stages.last != stage { stages.append(stage) }
            // One cancel: a DELETE per later frame event used to open a connection each, in a burst that could fill
            // the socket's listen backlog (EAGAIN on connect, seen once in a loaded guest).
            if (snapshot.progress?.framesReceived ?? 0) >= 3 && !cancelSent {
                cancelSent = true
                Task { _ = try await service.delete("/v1/jobs/\(job.id)") }
            }
            return !snapshot.state.isFinished
        }
        // "opening" may be over before the subscription starts; the order never goes back.
        #expect(stages.contains("streaming") && stages == ["opening", "streaming"].filter(stages.contains), "\(stages)")
        let cancelled = try await service.waitForJob(job.id)
        #expect(cancelled.state == .cancelled && cancelled.error?.code == .cancelled)
        #expect(try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.isEmpty, "nothing half-written is kept")

        let after = try service.job(try await service.post("/v1/photos?wait=true", #"{"size":"320x180","skip":0}"#))
        #expect(after.state == .completed, "the camera was released: \(after.error?.message ?? "")")
        try await service.stop()
    }

    @Test func cameraErrorsEndTheJobWithTheirCode() async throws {
        let service = try await RunningService.start()
        let badControl = try service.job(try await service.post("/v1/photos?wait=true", #"{"controls":{"brightness":999}}"#))
        #expect(badControl.state == .failed && badControl.error?.code == .invalidControl)
        let badFormat = try service.job(try await service.post("/v1/photos?wait=true", #"{"pixelFormat":"H264"}"#))
        #expect(badFormat.state == .failed && badFormat.error?.code == .unsupportedFormat)
        #expect(try await service.get("/v1/devices/v4l2:platform:nonesuch").error?.code == "device_not_found")
        try await service.stop()
    }

    @Test func theCLIGoesThroughARunningService() async throws {
        let service = try await RunningService.start()
        let output = service.directory.path("cli-photo.jpg")
        let run = try await runCommandAsync([
            SANETestEnvironment.counterkitExecutable, "photo", "--socket", service.socket,
            "--size", "320x180", "--skip", "0", "--control", "osd_text_mode=None", "--output", output,
        ])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("the service at"))
        let image = try DecodedImage.jpeg(Array(try Data(contentsOf: URL(fileURLWithPath: output))))
        #expect(image.width == 320 && image.height == 180)
        let jobs = try await service.get("/v1/jobs").decode(JobList.self).jobs
        #expect(jobs.count == 1 && jobs.first?.kind == .photo)
        try await service.stop()
    }

    /// `counterkit photo` and `counterkit devices` give the same answer through the service and directly, with a
    /// camera (and the test scanner) present.
    @Test func photoAndDevicesGiveTheSameAnswerEitherWay() async throws {
        let service = try await RunningService.start()
        struct Output: Decodable { var device: String; var settings: [String: String]; var attachment: AttachmentManifest }
        var photos: [Output] = []
        for way in [["--socket", service.socket], ["--direct", "--spool", service.directory.path("cli-spool")]] {
            let output = service.directory.path("photo-\(way[0].dropFirst(2)).jpg")
            let run = try await runCommandAsync(
                [
                    SANETestEnvironment.counterkitExecutable, "photo", "--device", Self.vivid, "--size", "320x180",
                    "--skip", "0", "--control", "osd_text_mode=None", "--output", output, "--json",
                ] + way)
            #expect(run.status == 0, "\(way): \(run.output)")
            let photo = try AttachmentManifest.makeDecoder().decode(Output.self, from: Data(run.output.utf8))
            #expect(try AttachmentStore.hashFile(atPath: output).sha256 == photo.attachment.sha256, "the file is the attachment")
            let image = try DecodedImage.jpeg(Array(try Data(contentsOf: URL(fileURLWithPath: output))))
            #expect(image.width == 320 && image.height == 180)
            photos.append(photo)
        }
        #expect(photos[0].device == photos[1].device)
        for key in ["size", "pixelFormat", "passthrough", "control.osd_text_mode"] {
            #expect(photos[0].settings[key] == photos[1].settings[key], "\(key): \(photos[0].settings[key] ?? "-") vs \(photos[1].settings[key] ?? "-")")
        }
        #expect(photos[0].attachment.mediaType == photos[1].attachment.mediaType)

        var listings: [String] = []
        for way in [["--socket", service.socket], ["--direct"]] {
            let run = try await runCommandAsync(
                [SANETestEnvironment.counterkitExecutable, "devices", "--json"] + way,
                environment: SANETestEnvironment.environment)
            #expect(run.status == 0, "\(way): \(run.output)")
            listings.append(run.output.split(separator: "\n").filter { !$0.contains("\"discoveredAt\"") }.joined(separator: "\n"))
        }
        #expect(listings[0] == listings[1], "through the service:\n\(listings[0])\ndirect:\n\(listings[1])")
        #expect(listings[0].contains(Self.vivid))
        try await service.stop()
    }
}
