import Attachments
import ChildProcesses
import CounterKitTestSupport
import Foundation
import Synchronization
import Testing

@testable import Cameras
@testable import DeviceService

/// `GET /v1/devices/{id}/preview` and photos from a running preview, on a real service against the kernel's vivid
/// driver. Runs only inside the test VM (the host's `VMHarnessTests` starts it), one test at a time.
@Suite(.serialized, .enabled(if: insideTestVM, "runs in the test VM (scripts/vm-run)"))
struct PreviewInGuestTests {
    static let vivid = "v4l2:platform:vivid-000"
    static let clean = #""controls":{"osd_text_mode":"None","test_pattern":"75% Colorbar","percentage_of_dropped_buffers":0}"#

    init() throws {
        try VividModule.load()
        // Colour bars without the text overlay, so frames can be checked by their colours.
        let device = try V4L2Device(path: VividModule.capturePath)
        let controls = device.controls()
        for (name, value) in [("osd_text_mode", Int64(2)), ("test_pattern", 0)] {
            if let control = controls.first(where: { $0.name == name }) { try? device.setControl(control, to: value) }
        }
    }

    /// Frames read by one viewer: decoded, until `count` or the stream's end.
    final class Viewer: Sendable {
        let frames = Locked<[(headers: [String: String], image: DecodedImage?)]>([])
        let ended = Locked<String?>(nil)
        let task: Task<Void, Never>

        init(_ service: RunningService, _ path: String, count: Int = .max) {
            let frames = self.frames, ended = self.ended
            task = Task {
                do {
                    let reply = try await service.client.parts(path) { headers, body in
                        frames.withLock { $0.append((headers, try? DecodedImage.jpeg(body))) }
                        return frames.withLock { $0.count } < count && !Task.isCancelled
                    }
                    ended.withLock { $0 = reply.error.map { "\($0.code): \($0.message)" } ?? "ended (HTTP \(reply.status))" }
                } catch {
                    ended.withLock { $0 = "\(error)" }
                }
            }
        }

        var count: Int { frames.withLock { $0.count } }

        func waitFor(_ count: Int, timeout: Duration = .seconds(20)) async throws {
            let deadline = ContinuousClock.now + timeout
            while self.count < count {
                if let ended = ended.withLock({ $0 }) { throw TimeoutError(what: "the preview ended after \(self.count) frames: \(ended)") }
                guard ContinuousClock.now < deadline else { throw TimeoutError(what: "\(self.count) of \(count) preview frames") }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    static func preview(_ size: String) -> String { "/v1/devices/\(vivid)/preview?size=\(size)" }

    @Test func twoViewersShareOneStreamAtTheRequestedSize() async throws {
        let service = try await RunningService.start()
        let first = Viewer(service, Self.preview("320x180"), count: 15)
        try await first.waitFor(3)
        let second = Viewer(service, Self.preview("320x180"), count: 15)
        let during = String(decoding: try await service.get("/metrics").body, as: UTF8.self)
        #expect(during.contains("counterkit_previews_running 1"), "one stream for both viewers")
        await first.task.value
        await second.task.value
        for viewer in [first, second] {
            let frames = viewer.frames.withLock { $0 }
            #expect(frames.count == 15, "\(String(describing: viewer.ended.withLock { $0 }))")
            for frame in frames {
                let image = try #require(frame.image, "every part is a JPEG that decodes")
                #expect(image.width == 320 && image.height == 180 && frame.headers["content-type"] == "image/jpeg")
                #expect(close(image.barPixel(5), colourBars75[5], tolerance: 20), "bar 5 is red: \(Array(image.barPixel(5)))")
            }
        }
        // One capture loop: the second viewer joined the running stream (its frame numbers go on from the first's
        // rather than starting again at 1, as a stream opened for it would).
        let firstNumbers = first.frames.withLock { $0.compactMap { $0.headers["x-frame-sequence"].flatMap(Int.init) } }
        let secondNumbers = second.frames.withLock { $0.compactMap { $0.headers["x-frame-sequence"].flatMap(Int.init) } }
        #expect(
            (secondNumbers.min() ?? 0) > 3 && (firstNumbers.min() ?? 0) >= 1,
            "the second viewer shares the first's stream: \(firstNumbers) / \(secondNumbers)")
        // After the linger the stream stops, and the metrics count it with the frames it took.
        var after = ""
        for _ in 0..<100 where !after.contains(#"counterkit_previews_total{outcome="ended"} 1"#) {
            try await Task.sleep(for: .milliseconds(100))
            after = String(decoding: try await service.get("/metrics").body, as: UTF8.self)
        }
        #expect(after.contains(#"counterkit_previews_total{outcome="ended"} 1"#) && after.contains("counterkit_previews_running 0"), "\(after)")
        let taken = after.split(separator: "\n").first { $0.hasPrefix("counterkit_preview_frames_total ") }
        #expect((taken?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 15, "frames taken: \(String(describing: taken))")
        try await service.stop()
    }

    @Test func aPhotoDuringThePreviewIsInstantAndTheRequestedSizeAndTheCameraIsReleasedAfter() async throws {
        let service = try await RunningService.start()
        let viewer = Viewer(service, Self.preview("640x360"))
        try await viewer.waitFor(5)

        // Same format and size as the preview: taken from the running stream.
        var started = ContinuousClock.now
        let instant = try service.job(try await service.post("/v1/photos?wait=true", #"{"size":"640x360","pixelFormat":"YUYV"}"#))
        let instantTime = ContinuousClock.now - started
        #expect(instant.state == .completed, "\(String(describing: instant.error))")
        #expect(instant.settings?["fromPreview"] == "true" && instant.settings?["previewSwitched"] == nil)
        let manifest = try #require(instant.attachments.first)
        #expect(manifest.pixelWidth == 640 && manifest.pixelHeight == 360 && manifest.settings["fromPreview"] == "true")
        let image = try DecodedImage.jpeg(try await service.get("/v1/attachments/\(manifest.id)").body)
        #expect(image.width == 640 && image.height == 360 && close(image.barPixel(5), colourBars75[5], tolerance: 14))

        // A larger size: the stream switches for the photo and back; the viewer only pauses.
        let before = viewer.count
        let larger = try service.job(try await service.post("/v1/photos?wait=true", #"{"size":"1280x720","pixelFormat":"YUYV"}"#))
        #expect(larger.state == .completed && larger.settings?["previewSwitched"] == "true" && larger.settings?["size"] == "1280x720")
        try await viewer.waitFor(before + 5)
        #expect(viewer.ended.withLock { $0 } == nil, "the viewer's stream went on")
        let afterSwitch = try #require(viewer.frames.withLock { $0.last?.image })
        #expect(afterSwitch.width == 640 && afterSwitch.height == 360)

        started = ContinuousClock.now
        let again = try service.job(try await service.post("/v1/photos?wait=true", #"{"size":"640x360","pixelFormat":"YUYV"}"#))
        let againTime = ContinuousClock.now - started
        #expect(again.settings?["fromPreview"] == "true")

        // With document stages the frame goes from the running stream into memory and through the stages: the stages'
        // file is the one attachment stored (the frame itself is never written).
        let listed = try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.count
        let staged = try service.job(
            try await service.post(
                "/v1/photos?wait=true", #"{"size":"640x360","pixelFormat":"YUYV","quality":95,"document":{"crop":"none","color":"auto"}}"#))
        #expect(staged.state == .completed && staged.settings?["fromPreview"] == "true", "\(String(describing: staged.error))")
        let page = try #require(staged.attachments.first)
        #expect(staged.attachments.count == 1 && page.format == .jpeg && page.pixelWidth == 640 && page.pixelHeight == 360)
        #expect(page.settings["fromPreview"] == "true" && page.settings["document.color"] == "color (auto)", "\(page.settings)")
        let stagedImage = try DecodedImage.jpeg(try await service.get("/v1/attachments/\(page.id)").body)
        #expect(stagedImage.width == 640 && close(stagedImage.barPixel(5), colourBars75[5], tolerance: 20))
        #expect(try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.count == listed + 1, "the frame is not kept")

        // The viewer leaves; after the linger the camera is free for a program that opens it directly.
        viewer.task.cancel()
        await viewer.task.value
        // The event that frees the camera: the stream has stopped (the metrics say no preview runs).
        #expect(
            try await eventually(within: .seconds(30)) {
                String(decoding: try await service.get("/metrics").body, as: UTF8.self).contains("counterkit_previews_running 0")
            }, "the preview stopped after its linger")
        let store = try AttachmentStore(directory: service.directory.url.appendingPathComponent("direct"))
        let direct = try PhotoCamera(store: store).capture(
            PhotoRequest(
                device: "/dev/video0", size: FrameSize(width: 640, height: 360),
                pixelFormat: FourCC("YUYV")), cancellation: nil)
        #expect(direct.size.width == 640)
        // The same photo through the service with no preview running: a cold one.
        started = ContinuousClock.now
        let cold = try service.job(try await service.post("/v1/photos?wait=true", #"{"size":"640x360","pixelFormat":"YUYV"}"#))
        let coldTime = ContinuousClock.now - started
        #expect(cold.state == .completed && cold.settings?["fromPreview"] == nil)
        print("photo from the preview: \(instantTime), again \(againTime); cold: \(coldTime)")
        #expect(min(instantTime, againTime) < coldTime, "a photo from the stream (\(instantTime)) is faster than a cold one (\(coldTime))")
        try await service.stop()
    }

    /// `counterkit serve --preview-linger-ms` on a real service process: after the last viewer leaves, the camera stays
    /// streaming that long (6 s here, three times the default), then stops.
    @Test func servesPreviewLingerFlagKeepsTheStreamThatLong() async throws {
        let served = try await ServeFlagsTests.Served.start(["--preview-linger-ms", "6000"])
        func previewsRunning() async throws -> String? {
            let metrics = try await served.curl([], path: "/metrics").body
            return metrics.split(separator: "\n").first { $0.hasPrefix("counterkit_previews_running ") }.map { String($0.split(separator: " ").last!) }
        }
        // A viewer (curl) reads the stream for 2 s and leaves.
        let frames = served.directory.path("preview.multipart")
        let viewer = try await runCommandAsync([
            "curl", "-s", "--max-time", "2", "-o", frames, "--unix-socket", served.socket,
            "http://localhost\(Self.preview("640x360"))",
        ])
        let left = ContinuousClock.now
        let received = (try? Data(contentsOf: URL(fileURLWithPath: frames))) ?? Data()
        #expect(
            viewer.status == 28 && received.count > 5_000 && received.range(of: Data([0xFF, 0xD8, 0xFF])) != nil,
            "the viewer got JPEG frames until it left (curl status \(viewer.status), \(received.count) bytes: \(String(decoding: received.prefix(200), as: UTF8.self)))"
        )
        var stopped = false, seen: String?
        while ContinuousClock.now - left < .seconds(30) {
            seen = try await previewsRunning()
            if let value = seen, Double(value) == 0 { stopped = true; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let lingered = ContinuousClock.now - left
        #expect(stopped, "the stream stopped after its linger (previews running: \(seen ?? "not in /metrics"))")
        // It cannot stop before its linger is over; the default (2 s) would have stopped it well before 5.5 s.
        #expect(lingered >= .milliseconds(5500), "the stream lingered \(lingered) after the viewer left")
        print("preview linger of 6000 ms: the stream stopped \(lingered) after the viewer left")
        await served.stop()
    }

    @Test func aViewerThatStopsReadingDoesNotGrowTheServicesMemory() async throws {
        // Noise, which JPEG cannot shrink: frames of tens of KiB, so a queue without bound would show at once (the
        // clean colour bars make frames of some 2.5 KiB, and 10 s of them are little more than the allocator's steps).
        let device = try V4L2Device(path: VividModule.capturePath)
        let pattern = try #require(device.controls().first { $0.name == "test_pattern" })
        let noise = try #require(pattern.menu?.first { $0.name == "Noise" }, "\(String(describing: pattern.menu))")
        try device.setControl(pattern, to: Int64(noise.index))
        device.close()
        defer { if let again = try? V4L2Device(path: VividModule.capturePath) { try? again.setControl(pattern, to: 0); again.close() } }
        // A real `counterkit serve`, so that its resident memory is the service's alone.
        let directory = try TemporaryDirectory("ck-preview")
        let socket = directory.path("api.sock")
        let process = try ChildProcess(
            executable: SANETestEnvironment.counterkitExecutable,
            arguments: ["serve", "--socket", socket, "--spool", directory.path("spool"), "--log-level", "error"],
            environment: SANETestEnvironment.environment, pipeInput: false, pipeOutput: false, discardErrors: true)
        defer { process.signal(SIGKILL); _ = process.wait() }  // blocking: SIGKILL ends it at once
        #expect(await eventually(within: .seconds(20)) { ServiceClient.isServing(at: socket) })
        let client = ServiceClient(socketPath: socket)
        let reading = Locked((frames: 0, bytes: 0))
        let reader = Task {
            _ = try? await client.parts(Self.preview("320x180")) { _, body in
                reading.withLock {
                    $0.frames += 1; $0.bytes += body.count
                }
                return !Task.isCancelled
            }
        }
        // A viewer that sends its request and never reads a byte.
        let stalled = try #require(UnixSocket.connect(socket))
        defer { Glibc.close(stalled) }
        let request = "GET \(Self.preview("320x180")) HTTP/1.1\r\nHost: localhost\r\n\r\n"
        _ = request.withCString { Glibc.write(stalled, $0, strlen($0)) }
        // Settled once the reading viewer has had 20 frames; then measured until it has read 16 MiB more of vivid's
        // noise, which the stalled viewer would have queued as well, unbounded.
        #expect(await eventually(within: .seconds(60)) { reading.withLock { $0.frames } >= 20 }, "the reading viewer gets frames")
        let settled = residentKiB(of: process.pid), before = reading.withLock { $0 }
        let window = await eventually(within: .seconds(120)) { reading.withLock { $0.bytes } >= before.bytes + 16 << 20 }
        let after = residentKiB(of: process.pid), read = reading.withLock { $0 }
        let frames = read.frames - before.frames, queuedKiB = (read.bytes - before.bytes) / 1024
        reader.cancel()
        print(
            "preview memory: \(settled) KiB once settled, \(after) KiB \(frames) frames later; the reading viewer got "
                + "\(queuedKiB) KiB meanwhile")
        #expect(window, "the reading viewer kept getting frames: \(frames)")
        // Unbounded, the stalled viewer would have held every frame the reading one got (tens of MiB of noise). Bounded,
        // resident memory stays flat but for the allocator's occasional step (up to 2 MiB was seen in the guest, where
        // 1 MiB, the limit this test first had, failed once), so the limit is a third of what it would have held.
        #expect(queuedKiB >= 16 * 1024, "enough read to tell the two apart: \(queuedKiB) KiB")
        #expect(
            after - settled < queuedKiB / 3,
            "resident memory grew \(after - settled) KiB while a viewer did not read (it would have held \(queuedKiB) KiB)")
    }

    @Test func theCommandSavesFramesThatDecodeEitherWay() async throws {
        let service = try await RunningService.start()
        for (name, connection) in [("direct", ["--direct"]), ("service", ["--socket", service.socket])] {
            let directory = service.directory.path("frames-\(name)")
            let run = try await runCommandAsync(
                [
                    SANETestEnvironment.counterkitExecutable, "preview", "--size", "320x180", "--seconds", "2",
                    "--output-dir", directory, "--spool", service.directory.path("cli-spool"), "--json",
                ] + connection,
                environment: SANETestEnvironment.environment)
            #expect(run.status == 0, "\(name): \(run.output)")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            #expect(files.count >= 5 && files.first == "frame-000001.jpg", "\(name): \(files.count) frames")
            for file in files {
                let image = try DecodedImage.jpeg(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))))
                #expect(image.width == 320 && image.height == 180, "\(name) \(file)")
            }
            #expect(run.output.contains("\"frames\" : \(files.count)"), "\(name): \(run.output)")
        }
        try await service.stop()
    }

    @Test func aDisconnectEndsEveryViewerAndTheServiceKeepsServing() async throws {
        let service = try await RunningService.start()
        let viewers = [Viewer(service, Self.preview("320x180")), Viewer(service, Self.preview("320x180"))]
        for viewer in viewers { try await viewer.waitFor(3) }
        let other = try V4L2Device(path: VividModule.capturePath)
        let disconnect = try #require(other.controls().first { $0.name == "disconnect" })
        try other.setControl(disconnect, to: 1)
        other.close()
        for viewer in viewers {
            let deadline = ContinuousClock.now + .seconds(10)
            while viewer.ended.withLock({ $0 }) == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(viewer.ended.withLock { $0 } != nil, "the stream ended")
        }
        #expect(try await service.get("/v1/devices").status == 200, "the service still answers")
        // Once the driver is back, a new preview works without a restart (the module unloads once the service has let
        // go of the device).
        #expect(await eventually(within: .seconds(30)) { (try? VividModule.reload()) != nil }, "vivid reloaded")
        let again = Viewer(service, Self.preview("320x180"), count: 3)
        await again.task.value
        #expect(again.count == 3, "\(String(describing: again.ended.withLock { $0 }))")
        try await service.stop()
    }
}

/// A process's resident memory in KiB (VmRSS).
func residentKiB(of pid: pid_t) -> Int {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

/// A value behind a lock, shareable between tasks.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
