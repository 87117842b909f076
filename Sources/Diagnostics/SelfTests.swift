import Attachments
import Cameras
import DeviceHub
import Foundation
import Scanning
import SignaturePads

/// An image a self-test saved (a scan, a photo, a rendered signature), for the bundle and its report.
public struct SelfTestImage: Codable, Sendable, Equatable {
    /// An image file and what it shows.
    public init(label: String, path: String) {
        self.label = label
        self.path = path
    }

    /// What the image shows, such as "scan at 75 dpi" or "photo YUYV 3840x2160".
    public var label: String
    /// The image file.
    public var path: String
}

/// One device's self-test: a line per step, the figures measured, and the images saved.
public struct SelfTestResult: Codable, Sendable {
    /// The device id.
    public var device: String
    /// The device's family.
    public var family: DeviceFamily
    /// Whether the test went through the service's socket.
    public var viaService: Bool
    /// A line per step (open, options, scan, each format, frame rate, brightness, reports…).
    public var steps: [DiagnosticCheck]
    /// Figures by name: `timeToFirstLineMs`, `throughputKiBps`, `framesPerSecond`, `meanBrightness`, `reportsPerSecond`…
    public var measurements: [String: Double]
    /// Images the test saved.
    public var images: [SelfTestImage]

    /// A result with its steps, figures and images.
    public init(
        device: String, family: DeviceFamily, viaService: Bool, steps: [DiagnosticCheck] = [],
        measurements: [String: Double] = [:], images: [SelfTestImage] = []
    ) {
        self.device = device
        self.family = family
        self.viaService = viaService
        self.steps = steps
        self.measurements = measurements
        self.images = images
    }

    /// The worst step.
    public var status: DiagnosticCheck.Status { steps.map(\.status).max() ?? .pass }

    /// The result as one doctor line (`test.DEVICE`), naming the steps that did not pass.
    public var check: DiagnosticCheck {
        let section: DiagnosticCheck.Section =
            switch family {
            case .scanner: .scanners;
            case .camera: .cameras;
            case .pad: .pads
            }
        let figures = measurements.sorted { $0.key < $1.key }.map { "\($0.key) \(Self.formatted($0.value))" }.joined(separator: ", ")
        let bad = steps.filter { $0.status != .pass }
        let message =
            bad.isEmpty
            ? "self-test passed (\(steps.count) steps): \(figures)"
            : bad.map { "\($0.id): \($0.message)" }.joined(separator: "; ")
        return DiagnosticCheck(id: "test.\(device)", section: section, status: status, message: message, hint: bad.compactMap(\.hint).first)
    }

    /// A figure as text: whole numbers without decimals, others with one.
    public static func formatted(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e9 ? String(Int(value)) : String(format: "%.1f", value)
    }
}

/// The device self-tests (`counterkit test DEVICE`, `counterkit doctor --deep`), through a device hub: one that opens
/// the devices in this process, or a running service's (so a self-test never fights the service for a device).
public struct SelfTests: Sendable {
    /// How devices are reached.
    public var hub: any DeviceHub
    /// Whether the hub is the service's.
    public var viaService: Bool
    /// Camera formats to test (FourCC names); nil tests every format the camera offers.
    public var cameraFormats: Set<String>?
    /// How long frames are counted.
    public var frameRateDuration: Duration = .seconds(3)
    /// How long the pad is watched.
    public var padDuration: Duration = .seconds(5)
    /// Where the test images (copies of the captures, the pad's trace) are written.
    public var imageDirectory = FileManager.default.temporaryDirectory

    /// Self-tests through `hub`.
    public init(hub: any DeviceHub, viaService: Bool = false, cameraFormats: Set<String>? = nil) {
        self.hub = hub
        self.viaService = viaService
        self.cameraFormats = cameraFormats
    }

    /// The family a device id belongs to: `v4l2:` and `/dev/video` are cameras, `usb:` pads, anything else a SANE name.
    public static func family(of device: String) -> DeviceFamily {
        switch DeviceKind(guessingFrom: device) {
        case .camera: .camera
        case .signaturePad: .pad
        case .scanner: .scanner
        }
    }

    /// Runs the test for `device`'s family; `live` receives the pad's samples as they arrive.
    public func run(_ device: String, live: @escaping @Sendable ([PenSample]) -> Void = { _ in }) async -> SelfTestResult {
        var result =
            switch Self.family(of: device) {
            case .scanner: await scanner(device)
            case .camera: await camera(device)
            case .pad: await pad(device, live: live)
            }
        // Each step belongs to its device's section (a scanner's steps are not "system" lines).
        let section = result.check.section
        result.steps = result.steps.map { step in
            var step = step
            step.section = section
            return step
        }
        return result
    }

    private static func failed(_ id: String, _ error: any Error, hint: String? = nil) -> DiagnosticCheck {
        let code = (error as? CounterKitError)?.codeName
        let message = code.map { "\($0): \((error as? CounterKitError)?.message ?? "")" } ?? "\(error)"
        return DiagnosticCheck(id: id, status: .fail, message: message, hint: hint ?? "run `counterkit doctor` for the device's access and configuration")
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    // MARK: Scanner

    /// Opens the scanner, reads its options, and makes a small 75 dpi colour scan of an ID-1 card area:
    /// time to the first line and throughput.
    public func scanner(_ device: String) async -> SelfTestResult {
        var result = SelfTestResult(device: device, family: .scanner, viaService: viaService, steps: [], measurements: [:], images: [])
        let clock = ContinuousClock()
        let opened = clock.now
        do {
            let count = try await hub.scanner(device).options.count
            let elapsed = Self.milliseconds(clock.now - opened)
            result.steps.append(
                DiagnosticCheck(
                    id: "options", status: count > 0 ? .pass : .warn,
                    message: "\(count) option descriptors read in \(Int(elapsed)) ms"))
            result.measurements["optionCount"] = Double(count)
        } catch {
            result.steps.append(Self.failed("options", error))
            return result
        }
        let firstLine = FirstArrival()
        let started = clock.now
        var bytes = 0
        let counter = ByteCounter()
        do {
            let request = ScanRequest(device: device, mode: .color, resolution: 75, paper: .id1, format: .png)
            let capture = try await hub.scan(request) { progress in
                if progress.bytesReceived > 0 { firstLine.mark() }
                counter.set(progress.bytesReceived)
            }
            let files = try await images(of: capture)
            let finished = clock.now
            bytes = counter.value
            guard let first = firstLine.instant else {
                result.steps.append(
                    DiagnosticCheck(
                        id: "scan", status: .fail, message: "the scan returned no data",
                        hint: "check the scanner's cover, paper and cable; try `scanimage -d \(device) -T`"))
                return result
            }
            let toFirst = Self.milliseconds(first - started)
            let whole = Self.milliseconds(finished - started) / 1000
            result.measurements["timeToFirstLineMs"] = toFirst.rounded()
            // Over the whole scan (progress arrives in chunks, so the time after the first line alone can be near zero).
            if whole > 0 { result.measurements["throughputKiBps"] = (Double(bytes) / 1024 / whole).rounded() }
            result.steps.append(
                DiagnosticCheck(
                    id: "scan", status: .pass,
                    message: "75 dpi colour ID-1 scan: \(bytes / 1024) KiB, first line after \(Int(toFirst.rounded())) ms"))
            result.images += files.map { SelfTestImage(label: "scan, 75 dpi colour, ID-1 area", path: $0.path) }
        } catch {
            result.steps.append(Self.failed("scan", error))
        }
        return result
    }

    // MARK: Camera

    /// Each format at its largest size, frames per second over a few seconds, the mean brightness of a frame,
    /// and the controls' values.
    public func camera(_ device: String) async -> SelfTestResult {
        var result = SelfTestResult(device: device, family: .camera, viaService: viaService, steps: [], measurements: [:], images: [])
        let info: CameraInfo
        do { info = try await hub.camera(device).camera } catch {
            result.steps.append(Self.failed("open", error))
            return result
        }
        let unreadable = info.controls.filter { $0.value == nil && !$0.inactive && $0.kind != .button }
        result.steps.append(
            DiagnosticCheck(
                id: "controls", status: unreadable.isEmpty ? .pass : .warn,
                message: "\(info.controls.count) controls"
                    + (unreadable.isEmpty ? ", all readable" : "; unreadable: " + unreadable.map(\.name).joined(separator: ", ")),
                hint: unreadable.isEmpty ? nil : "the driver refuses to read these controls; update the camera's firmware or kernel"))
        let formats = info.formats.filter { $0.savable && (cameraFormats?.contains($0.pixelFormat.name) ?? true) }
        guard !formats.isEmpty else {
            result.steps.append(
                DiagnosticCheck(
                    id: "formats", status: .fail, message: "no format to test among \(info.formats.map(\.pixelFormat.name))",
                    hint: "use a UVC camera that offers MJPEG or YUYV"))
            return result
        }
        var brightnessSource: URL?
        for format in formats {
            guard let largest = format.sizes.max(by: { $0.width * $0.height < $1.width * $1.height }) else { continue }
            let id = "format.\(format.pixelFormat.name)"
            do {
                let request = PhotoRequest(
                    device: info.id, size: FrameSize(width: largest.width, height: largest.height),
                    pixelFormat: format.pixelFormat, skipFrames: 1, settleMilliseconds: 0, format: .jpeg)
                guard let file = try await images(of: try await hub.photo(request)).first else {
                    throw DeviceHubError(.attachmentFailed, "the photo stored nothing")
                }
                result.steps.append(DiagnosticCheck(id: id, status: .pass, message: "photo at \(largest)"))
                if brightnessSource == nil {
                    brightnessSource = file
                    result.images.append(SelfTestImage(label: "photo \(format.pixelFormat.name) \(largest)", path: file.path))
                }
            } catch {
                result.steps.append(Self.failed(id, error))
            }
        }
        // The preferred format (MJPEG for JPEG output, else YUYV…) at the largest size, as photos use it.
        do {
            let measured = try await hub.measureFrameRate(PhotoRequest(device: info.id), duration: frameRateDuration)
            let nominal = measured.nominalFramesPerSecond
            let slow = nominal.map { measured.framesPerSecond < 0.5 * $0 } ?? false
            result.measurements["framesPerSecond"] = (measured.framesPerSecond * 10).rounded() / 10
            result.steps.append(
                DiagnosticCheck(
                    id: "framerate", status: slow || measured.flaggedFrames > 0 ? .warn : .pass,
                    message: String(
                        format: "%.1f frames/s (%@ %@, driver promises %@) over %.1f s, %d flagged bad", measured.framesPerSecond,
                        measured.pixelFormat.name, measured.size.description, nominal.map { String(format: "%.0f", $0) } ?? "?",
                        measured.seconds, measured.flaggedFrames),
                    hint: slow ? "too few frames: use a USB 2/3 port of its own (not a hub), or more light (auto-exposure lengthens frames)" : nil))
        } catch {
            result.steps.append(Self.failed("framerate", error))
        }
        if let brightnessSource {
            do {
                let mean = try ImageBrightness.mean(jpegFile: brightnessSource)
                result.measurements["meanBrightness"] = mean.rounded()
                let status: DiagnosticCheck.Status = mean < 16 || mean > 240 ? .warn : .pass
                result.steps.append(
                    DiagnosticCheck(
                        id: "brightness", status: status, message: "mean brightness \(Int(mean)) of 255",
                        hint: mean < 16
                            ? "the frame is black: remove the lens cap, add light, or check `exposure`"
                            : mean > 240 ? "the frame is blown out: less light, or lower `exposure`/`brightness`" : nil))
            } catch {
                result.steps.append(Self.failed("brightness", error))
            }
        }
        return result
    }

    // MARK: Pad

    /// Reads the pad's facts and watches it while the technician signs: report rate, lost reports, and how much of
    /// the area the pen covered. Saves the trace as a PNG.
    public func pad(_ device: String, live: @escaping @Sendable ([PenSample]) -> Void) async -> SelfTestResult {
        var result = SelfTestResult(device: device, family: .pad, viaService: viaService, steps: [], measurements: [:], images: [])
        let capture: PadCapture
        do { capture = try await capturePad(device, live: live) } catch {
            result.steps.append(Self.failed("open", error))
            return result
        }
        let pad = capture.pad
        result.steps.append(DiagnosticCheck(id: "information", status: .pass, message: DeviceChecks.describe(pad)))
        let samples = capture.samples
        guard samples.count > 1, let first = samples.first?.time, let last = samples.last?.time, last > first else {
            result.steps.append(
                DiagnosticCheck(
                    id: "reports", status: .warn, message: "no pen reports in \(padDuration)",
                    hint: "sign on the pad while the test runs; if nothing arrives, replug the pad and check `dmesg | tail`"))
            return result
        }
        let rate = Double(samples.count - 1) / ((last - first) / 1000)
        result.measurements["reportsPerSecond"] = rate.rounded()
        result.measurements["lostReports"] = Double(capture.lostReports)
        let promised = pad.reportRate.map(Double.init)
        let slow = promised.map { rate < 0.8 * $0 } ?? false
        result.steps.append(
            DiagnosticCheck(
                id: "reports", status: capture.lostReports > 0 || slow ? .warn : .pass,
                message: "\(samples.count) reports, \(Int(rate.rounded())) per second" + (promised.map { " (pad promises \(Int($0)))" } ?? "")
                    + ", \(capture.lostReports) lost",
                hint: capture.lostReports > 0 || slow ? "connect the pad directly (not through a hub) and close other programs using it" : nil))
        let inked = samples.filter(\.touching)
        if inked.isEmpty {
            result.steps.append(
                DiagnosticCheck(
                    id: "coverage", status: .warn, message: "the pen was near but never touched the surface",
                    hint: "press the pen on the pad; if touches do not register, the pen tip may be worn"))
        } else {
            let xs = inked.map(\.x), ys = inked.map(\.y)
            let width = (xs.max()! - xs.min()!) / max(pad.areaWidth, 1) * 100
            let height = (ys.max()! - ys.min()!) / max(pad.areaHeight, 1) * 100
            result.measurements["coveredWidthPercent"] = width.rounded()
            result.measurements["coveredHeightPercent"] = height.rounded()
            result.steps.append(
                DiagnosticCheck(
                    id: "coverage", status: .pass,
                    message: String(
                        format: "ink from x %.1f to %.1f mm, y %.1f to %.1f mm (%.0f%% x %.0f%% of the area)",
                        xs.min()!, xs.max()!, ys.min()!, ys.max()!, width, height)))
            let signature = Signature(
                device: device, model: pad.model, areaWidth: pad.areaWidth, areaHeight: pad.areaHeight,
                capturedAt: Date(), samples: samples, lostReports: capture.lostReports)
            let file = imageDirectory.appendingPathComponent("pen-trace-\(device.map { $0.isLetter || $0.isNumber ? $0 : "-" }.map(String.init).joined()).svg")
            if let svg = try? SignatureRenderer().svg(signature), (try? Data(svg.utf8).write(to: file, options: .atomic)) != nil {
                result.images.append(SelfTestImage(label: "pen trace", path: file.path))
            }
        }
        return result
    }
}

extension SelfTests {
    /// Copies a capture's attachments into `imageDirectory`, through the hub (a local store or the service).
    func images(of capture: Capture) async throws -> [URL] {
        var files: [URL] = []
        for attachment in capture.attachments {
            let file = imageDirectory.appendingPathComponent("selftest-\(attachment.fileName)")
            try await hub.export(attachment, to: file.path)
            files.append(file)
        }
        return files
    }

    /// Watches the pad through a signature session for `padDuration`, handing each batch of samples to `live`, then
    /// cancels the session (nothing is stored; the pad is released).
    func capturePad(_ device: String, live: @escaping @Sendable ([PenSample]) -> Void) async throws -> PadCapture {
        let seconds = Double(padDuration.components.seconds) + 30
        let session = try await hub.startSignature(SignatureRequest(device: device, timeout: min(3600, seconds)))
        let hub = self.hub
        let watcher = Task {
            for try await event in try await hub.signatureEvents(session.id) { if case .points(let samples) = event { live(samples) } }
        }
        try? await Task.sleep(for: padDuration)
        // The session is cancelled (the pad released) whether or not reading it back works.
        let read = await Result { try await hub.signature(session.id, samples: true) }
        _ = try? await hub.cancelSignature(session.id)
        watcher.cancel()
        _ = await watcher.result
        let snapshot = try read.get()
        if snapshot.state == .failed, let error = snapshot.error { throw error }
        return PadCapture(pad: snapshot.pad, samples: snapshot.sampleData ?? [], lostReports: snapshot.lostReports)
    }
}

/// What a pad self-test captured: the pad's facts, every sample, and the reports lost on the way.
struct PadCapture: Sendable {
    var pad: PadDescription
    var samples: [PenSample]
    var lostReports: Int
}

extension Result where Failure == any Error {
    /// The outcome of an async body.
    init(_ body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// The first moment something happened, recorded from any thread.
final class FirstArrival: @unchecked Sendable {
    private let lock = NSLock()
    private var first: ContinuousClock.Instant?
    func mark() { lock.withLock { if first == nil { first = ContinuousClock.now } } }
    var instant: ContinuousClock.Instant? { lock.withLock { first } }
}

/// A count updated from a progress callback.
final class ByteCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func set(_ value: Int) { lock.withLock { count = max(count, value) } }
    var value: Int { lock.withLock { count } }
}

/// The mean luma of an image, for "black or blown-out" checks.
public enum ImageBrightness: Sendable {
    /// The mean luma (0…255) of a JPEG file.
    public static func mean(jpegFile: URL) throws -> Double {
        let bytes = try [UInt8](Data(contentsOf: jpegFile))
        return try bytes.withUnsafeBytes { raw throws -> Double in
            let frame = try JPEGFrame(raw)
            let meter = LumaMeter(ImageDescription(format: .gray8, width: frame.header.width, height: frame.header.height))
            try frame.decode(into: meter)
            return meter.mean
        }
    }
}

/// A row sink that sums luma instead of encoding.
final class LumaMeter: RowEncoder {
    let image: ImageDescription
    private(set) var rowsWritten = 0
    private var total = 0

    init(_ image: ImageDescription) { self.image = image }

    func write(row: UnsafeRawBufferPointer) throws(AttachmentError) {
        for byte in row { total += Int(byte) }
        rowsWritten += 1
    }

    func finish() throws(AttachmentError) {}

    var mean: Double { rowsWritten == 0 ? 0 : Double(total) / Double(rowsWritten * image.width) }
}
