import ArgumentParser
import Attachments
import Cameras
import DeviceHub
import DeviceService
import Foundation

struct PreviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preview",
        abstract: "Watch a camera's live picture for a while and save its frames as JPEG files (for technicians).",
        discussion: """
            Frames are written to --output-dir as frame-000001.jpg, frame-000002.jpg, … and a summary is printed: frames \
            saved, the rate they came at, their size. When a service is running, the preview is watched through it \
            (sharing the camera with any other viewer); else the camera is opened here and released at the end.
            """)

    @Option(help: "Camera id or /dev/videoN from `counterkit devices` (default: the first camera).")
    var device: String?

    @Option(help: "Picture size WIDTHxHEIGHT (default: 640x480 or the nearest the camera offers above it).")
    var size: String?

    @Option(help: "Frames per second to deliver (default: as fast as the camera goes).")
    var fps: Double?

    @Option(help: "Seconds to watch.")
    var seconds: Double = 5

    @Option(help: "Directory to write the frames into (created if missing).")
    var outputDir: String

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @OptionGroup var spool: SpoolOptions

    @OptionGroup var service: ServiceConnection

    func run() async throws {
        var request = PreviewRequest(device: device, framesPerSecond: fps)
        if let size {
            guard let parsed = FrameSize(parsing: size) else { throw fail(.invalidValue, "--size expects WIDTHxHEIGHT, got '\(size)'") }
            request.size = parsed
        }
        do { try request.validate() } catch { throw fail(error.code, error.message) }
        guard seconds > 0, seconds <= 3600 else { throw fail(.invalidValue, "--seconds must be above 0 and at most 3600") }
        do {
            try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        } catch {
            throw fail(.ioError, "cannot create \(outputDir): \(error.localizedDescription)")
        }
        let hub = try service.hub(spool: spool)
        let directory = outputDir, duration = Duration.milliseconds(Int(seconds * 1000))
        let summary = try await interruptible { [request] () async throws -> Summary in
            var summary = Summary(directory: directory)
            let frames = try await hub.preview(request)
            let started = ContinuousClock.now
            for try await frame in frames {
                let path = (directory as NSString).appendingPathComponent(String(format: "frame-%06d.jpg", summary.frames + 1))
                guard FileManager.default.createFile(atPath: path, contents: frame.jpeg) else {
                    throw DeviceHubError(.ioError, "cannot write \(path)")
                }
                summary.frames += 1
                summary.bytes += frame.jpeg.count
                summary.size = "\(frame.width)x\(frame.height)"
                summary.passthrough = frame.passthrough
                summary.seconds = (ContinuousClock.now - started).seconds
                if ContinuousClock.now - started >= duration { break }
            }
            return summary
        }
        if json {
            try printJSON(summary)
        } else {
            let rate = summary.seconds > 0 ? Double(max(summary.frames - 1, 0)) / summary.seconds : 0
            print(
                "wrote \(summary.frames) frames (\(summary.size), \(summary.bytes) bytes) to \(directory) in "
                    + String(format: "%.1f s, %.1f frames/s", summary.seconds, rate) + (summary.passthrough ? ", camera JPEG kept as is" : ""))
        }
    }

    struct Summary: Encodable, Sendable {
        var directory: String
        var frames = 0
        var bytes = 0
        var size = ""
        var passthrough = false
        var seconds = 0.0
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
