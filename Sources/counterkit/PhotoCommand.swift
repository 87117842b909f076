import ArgumentParser
import Attachments
import Cameras
import DeviceHub
import DeviceService
import Foundation

extension PhotoFormat: ExpressibleByArgument {}

struct PhotoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "photo",
        abstract: "Take a photo from a V4L2 camera into an attachment and copy it to --output.",
        discussion: """
            With an MJPEG camera and JPEG output, the camera's own JPEG is stored untouched (no decode, no re-encode). \
            Raw formats are converted row by row into the encoder. The camera is released on every failure.
            When a service is running, the photo is taken through it (see --socket and --direct).
            On failure the exit status is non-zero and stderr says `error: CODE: message`.
            """)

    @Option(help: "Camera id or /dev/videoN from `counterkit devices` (default: the first camera).")
    var device: String?

    @Option(help: "Frame size WIDTHxHEIGHT (default: the largest the camera offers).")
    var size: String?

    @Option(help: "V4L2 pixel format to capture in, e.g. MJPG, YUYV, NV12 (default: MJPG for JPEG output, else YUYV).")
    var pixelFormat: String?

    @Option(help: "Frames to discard first so auto-exposure settles (default: 2 frames and 500 ms).")
    var skip: Int?

    @Option(help: "Milliseconds to let the camera settle after streaming starts.")
    var settle: Int?

    @Option(
        name: .customLong("control"),
        help: ArgumentHelp(
            "A camera control NAME=VALUE (repeatable): brightness, focus, exposure, white_balance, or any key `counterkit devices --json` lists.",
            valueName: "NAME=VALUE"))
    var controls: [String] = []

    @Option(help: "Output format: jpeg or png (default: from the --output extension, else jpeg).")
    var format: PhotoFormat?

    @Option(help: "JPEG quality 1-100 for converted frames (default 90).")
    var quality: Int?

    @Option(help: "Seconds to wait for a frame.")
    var timeout: Double?

    @Option(help: "Where to write the photo.")
    var output: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var spool: SpoolOptions

    @OptionGroup var service: ServiceConnection

    func run() async throws {
        let request = try makeRequest()
        let hub = try service.hub(spool: spool)
        let capture = try await interruptible { try await hub.photo(request) }
        let manifest = capture.attachments[0]
        try await OutputTarget.export(manifest, to: output, through: hub)
        try report(device: capture.device, attachment: manifest, settings: capture.settings, location: hub.location)
    }

    /// Prints what was written, from the settings the camera actually used (the same keys directly and through the service).
    private func report(device: String, attachment manifest: AttachmentManifest, settings: [String: String], location: String) throws {
        if json {
            struct Output: Encodable { var path: String; var device: String; var settings: [String: String]; var attachment: AttachmentManifest }
            try printJSON(Output(path: output, device: device, settings: settings, attachment: manifest))
            return
        }
        let size = settings["size"] ?? "\(manifest.pixelWidth ?? 0)x\(manifest.pixelHeight ?? 0)"
        print("wrote \(output): \(manifest.mediaType), \(size) px, \(manifest.byteCount) bytes")
        let replaced = Int(settings["corruptFramesRetried"] ?? "") ?? 0
        print(
            "  from \(device) in \(settings["pixelFormat"] ?? "?")\(settings["passthrough"] == "true" ? " (camera JPEG kept as is)" : ""), "
                + "\(settings["framesSkipped"] ?? "0") frame(s) skipped" + (replaced > 0 ? ", \(replaced) bad frame(s) replaced" : ""))
        let controls = settings.filter { $0.key.hasPrefix("control.") }.sorted { $0.key < $1.key }
        if !controls.isEmpty {
            print("  controls: " + controls.map { "\($0.key.dropFirst(8))=\($0.value)" }.joined(separator: " "))
        }
        print("  attachment \(manifest.id) in \(location) (sha256 \(manifest.sha256))")
    }

    /// The request from the options, checked before any device is touched.
    private func makeRequest() throws -> PhotoRequest {
        let target = OutputTarget(path: output)
        let format = try target.format(given: format, fallback: .jpeg, allowed: PhotoFormat.allCases)
        try target.check(mayHaveSeveralPages: false)
        var request = PhotoRequest(
            device: device, skipFrames: skip, settleMilliseconds: settle, format: format,
            quality: quality, timeoutSeconds: timeout)
        if let size {
            guard let parsed = FrameSize(parsing: size) else { throw fail(.invalidValue, "--size expects WIDTHxHEIGHT, got '\(size)'") }
            request.size = parsed
        }
        if let pixelFormat {
            guard let code = FourCC(pixelFormat) else { throw fail(.invalidValue, "--pixel-format expects a code like YUYV or MJPG, got '\(pixelFormat)'") }
            request.pixelFormat = code
        }
        for entry in controls {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw fail(.invalidControl, "--control expects NAME=VALUE, got '\(entry)'")
            }
            request.controls[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        do { try request.validate() } catch { throw fail(error.code, error.message) }
        return request
    }
}
