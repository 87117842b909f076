import Attachments
import CV4L2
import CounterKitCore
import Foundation
import Synchronization

/// Cancels a photo in progress from another thread (the one `CancellationToken` type); the capture stops within
/// about 100 ms and releases the camera.
public typealias PhotoCancellation = CancellationToken

/// Takes still photos from V4L2 cameras into an attachment store.
///
/// One capture opens the device, negotiates format and size, applies controls,
/// streams through memory-mapped buffers, lets the camera settle, and saves one
/// frame: MJPEG frames are stored as they are (Huffman tables added when missing),
/// raw frames are converted row by row straight into the JPEG or PNG encoder.
/// The device is released on every path, success or failure.
public final class PhotoCamera: Sendable {
    /// Where photos are stored.
    public let store: AttachmentStore
    /// How cameras are found.
    public let discovery: CameraDiscovery
    /// Driver-flagged or invalid frames replaced before giving up with `corrupt_frame`.
    public let corruptFrameRetries = 5

    /// A camera front-end over `store`.
    public init(store: AttachmentStore, discovery: CameraDiscovery = CameraDiscovery()) {
        self.store = store
        self.discovery = discovery
    }

    /// Takes a photo on a dedicated thread; Task cancellation cancels it.
    public func capture(_ request: PhotoRequest, progress: (@Sendable (CaptureProgress) -> Void)? = nil) async throws(CameraError) -> PhotoResult {
        let cancellation = PhotoCancellation()
        let outcome: Result<PhotoResult, CameraError> = await withTaskCancellationHandler {
            await BlockingCalls.shared.runOnOwnThread(named: "counterkit-photo") { () throws(CameraError) in
                try self.capture(request, cancellation: cancellation, progress: progress)
            }
        } onCancel: {
            cancellation.cancel()
        }
        return try outcome.get()
    }

    /// Takes a photo, as an `AsyncSequence`: `.progress` by stage and frames, then `.completed`.
    /// Each iteration is one capture. Stopping the iteration early, or cancelling its task, cancels the capture and
    /// stores nothing (a photo stored meanwhile is deleted); a failure is thrown as a `CameraError`.
    public func updates(_ request: PhotoRequest) -> CaptureUpdates<CaptureProgress, PhotoResult> {
        CaptureUpdates(
            undo: { [store] photo in try? store.delete(id: photo.attachment.id) },
            work: { progress in
                try await self.capture(request, progress: progress)
            })
    }

    /// Takes a photo, blocking the calling thread until it is stored or fails.
    public func capture(
        _ request: PhotoRequest, cancellation: PhotoCancellation? = nil,
        progress: ((CaptureProgress) -> Void)? = nil
    ) throws(CameraError) -> PhotoResult {
        try take(request, keeping: .store, cancellation: cancellation, progress: progress).stored
    }

    /// Takes a photo into memory on a thread of its own, for work that needs its pixels anyway (the document stages):
    /// nothing is stored, nothing written and read back. Task cancellation cancels it.
    package func captureImage(_ request: PhotoRequest, progress: (@Sendable (CaptureProgress) -> Void)? = nil) async throws(CameraError) -> PhotoImage {
        let cancellation = PhotoCancellation()
        let outcome: Result<PhotoImage, CameraError> = await withTaskCancellationHandler {
            await BlockingCalls.shared.runOnOwnThread(named: "counterkit-photo") { () throws(CameraError) in
                try self.take(request, keeping: .memory, cancellation: cancellation, progress: progress).image
            }
        } onCancel: {
            cancellation.cancel()
        }
        return try outcome.get()
    }

    /// Opens the camera, takes one photo and keeps it as `keeping` says.
    func take(
        _ request: PhotoRequest, keeping: PhotoKeeping, cancellation: PhotoCancellation?,
        progress: ((CaptureProgress) -> Void)?
    ) throws(CameraError) -> TakenPhoto {
        try request.validate()
        progress?(.photo(stage: "opening", framesReceived: 0))
        let (camera, device, choice, negotiatedFormat) = try open(request)
        defer { device.close() }
        var negotiated = negotiatedFormat
        let reported = try applyControls(device, camera, request.controls)
        // Controls can change colorimetry (vivid's YCbCr and HSV encoding controls): read it again before streaming.
        if !reported.isEmpty { readColorimetry(device, into: &negotiated) }

        var stream: CaptureStream
        do {
            stream = try CaptureStream(device: device)
        } catch  where error.code == .ioError {
            // A failed STREAMON (a transient driver error) gets one more try from fresh buffers.
            stream = try CaptureStream(device: device)
        }
        defer { stream.stop() }

        return try shoot(
            from: stream, camera: camera, negotiated: negotiated, framesPerSecond: choice.framesPerSecond,
            request: request, controls: reported, warmUp: request.warmUp, keeping: keeping,
            cancelled: { cancellation?.isCancelled ?? false }, progress: progress)
    }

    /// Takes frames from a running stream until one is kept (stored, or held in memory as `keeping` says): the first
    /// `warmUp` frames and milliseconds are skipped, frames the driver flags or that do not decode are replaced up to
    /// `corruptFrameRetries` times.
    func shoot(
        from stream: CaptureStream, camera: CameraInfo, negotiated: Negotiated, framesPerSecond: Double?,
        request: PhotoRequest, controls reported: [String: String], warmUp: (frames: Int, milliseconds: Int),
        extraSettings: [String: String] = [:], keeping: PhotoKeeping = .store, cancelled: () -> Bool,
        progress: ((CaptureProgress) -> Void)?
    ) throws(CameraError) -> TakenPhoto {
        let started = ContinuousClock.now
        let frameInterval = framesPerSecond.map { 1.0 / $0 } ?? 0.2
        let timeout = Duration.seconds(request.timeoutSeconds ?? max(5, 3 * frameInterval))
        var received = 0, skipped = 0, corrupt = 0
        while true {
            guard let frame = try stream.next(timeout: timeout, cancelled: cancelled) else {
                throw CameraError(.timeout, "no frame from \(camera.path) within \(timeout) (\(received) received)")
            }
            received += 1
            progress?(.photo(stage: "streaming", framesReceived: received))
            let settled = ContinuousClock.now - started >= .milliseconds(warmUp.milliseconds)
            if !frame.flaggedError, skipped < warmUp.frames || !settled {
                skipped += 1
                try stream.requeue(frame)
                continue
            }
            if !frame.flaggedError {
                progress?(.photo(stage: "saving", framesReceived: received))
                do {
                    let taken: TakenPhoto
                    switch keeping {
                    case .store:
                        let manifest = try save(
                            frame.bytes, negotiated: negotiated, camera: camera, request: request, controls: reported,
                            extraSettings: extraSettings)
                        taken = .stored(
                            PhotoResult(
                                attachment: manifest, device: camera.id,
                                size: FrameSize(width: manifest.pixelWidth ?? negotiated.width, height: manifest.pixelHeight ?? negotiated.height),
                                pixelFormat: negotiated.pixelFormat, passthrough: negotiated.isJPEG && request.format == .jpeg,
                                framesSkipped: skipped, corruptFramesRetried: corrupt, controls: reported))
                    case .memory:
                        let pixels = try Self.pixels(of: frame.bytes, negotiated: negotiated)
                        var settings = reported.reduce(into: extraSettings) { $0["control." + $1.key] = $1.value }
                        settings["pixelFormat"] = negotiated.pixelFormat.name
                        settings["size"] = FrameSize(width: pixels.image.width, height: pixels.image.height).description
                        settings["framesSkipped"] = String(skipped)
                        settings["corruptFramesRetried"] = String(corrupt)
                        taken = .image(PhotoImage(pixels: pixels, device: camera.id, settings: settings))
                    }
                    try? stream.requeue(frame)
                    return taken
                } catch  where error.code == .corruptFrame {
                    // Not a valid image: treated like a frame the driver flagged.
                }
            }
            corrupt += 1
            if corrupt > corruptFrameRetries {
                throw CameraError(.corruptFrame, "\(corrupt) bad frames in a row from \(camera.path)")
            }
            try stream.requeue(frame)
        }
    }

    /// The converter of a raw frame in the negotiated format; a frame shorter than the format says is corrupt.
    static func converter(for bytes: UnsafeRawBufferPointer, negotiated: Negotiated) throws(CameraError) -> FrameConverter {
        guard let layout = PixelLayout.of(negotiated.pixelFormat) else {
            throw CameraError(.unsupportedFormat, "no converter for \(negotiated.pixelFormat.name)")
        }
        let converter = FrameConverter(
            layout: layout, width: negotiated.width, height: negotiated.height,
            bytesPerLine: negotiated.bytesPerLine, matrix: negotiated.matrix, hueRange: negotiated.hueRange)
        guard bytes.count >= converter.frameSize else {
            throw CameraError(.corruptFrame, "frame of \(bytes.count) bytes, expected \(converter.frameSize)")
        }
        return converter
    }

    /// A frame as pixels in memory: the camera's JPEG decoded, or its raw frame converted to RGB.
    static func pixels(of bytes: UnsafeRawBufferPointer, negotiated: Negotiated) throws(CameraError) -> ImageRows {
        if negotiated.isJPEG {
            let frame: JPEGFrame
            do { frame = try JPEGFrame(bytes) } catch { throw CameraError(.corruptFrame, error.message) }
            let rows = MemoryRows(
                ImageDescription(
                    format: frame.header.components == 1 ? .gray8 : .rgb8, width: frame.header.width, height: frame.header.height))
            do throws(AttachmentError) { try frame.decode(into: rows) } catch { throw CameraError(.corruptFrame, error.message) }
            return rows.imageRows
        }
        let converter = try Self.converter(for: bytes, negotiated: negotiated)
        let rows = MemoryRows(converter.image)
        let row = RowBuffer(count: converter.image.bytesPerRow)
        do throws(AttachmentError) {
            for y in 0..<negotiated.height {
                converter.convertRow(y, of: bytes, into: row.bytes)
                try rows.write(row: UnsafeRawBufferPointer(row.bytes))
            }
        } catch {
            throw CameraError(.corruptFrame, error.message)
        }
        return rows.imageRows
    }

    // MARK: Steps

    /// Resolves and opens the camera, chooses the format and size (with the size's fastest rate) and sets it.
    /// The device closes itself if a later step throws.
    func open(_ request: PhotoRequest) throws(CameraError) -> (CameraInfo, V4L2Device, FormatChoice, Negotiated) {
        let camera = try discovery.resolve(request.device, frameRates: false)
        let device = try V4L2Device(path: camera.path)
        var choice = try chooseFormat(camera, request)
        choice.framesPerSecond = device.frameRates(choice.pixelFormat, choice.size.width, choice.size.height).max()
        return (camera, device, choice, try negotiate(device, choice))
    }

    struct FormatChoice {
        var pixelFormat: FourCC
        var size: FrameSize
        /// Filled in once the format is chosen (only that size's rates are queried).
        var framesPerSecond: Double? = nil
    }

    struct Negotiated {
        var pixelFormat: FourCC
        var width: Int
        var height: Int
        var bytesPerLine: Int
        var matrix: YCbCrMatrix
        var hueRange: Int
        var isJPEG: Bool { pixelFormat == .mjpeg || pixelFormat == .jpeg }
    }

    /// Picks pixel format and size: the request's, else MJPEG (for JPEG output) or YUYV or the
    /// first convertible format, at the requested or the largest size.
    func chooseFormat(_ camera: CameraInfo, _ request: PhotoRequest) throws(CameraError) -> FormatChoice {
        let offered = camera.formats.map(\.pixelFormat.name).joined(separator: ", ")
        var candidates: [CameraFormat]
        if let wanted = request.pixelFormat {
            guard let format = camera.formats.first(where: { $0.pixelFormat == wanted }) else {
                throw CameraError(.unsupportedFormat, "\(camera.path) does not offer \(wanted.name); it offers \(offered)")
            }
            guard format.savable else {
                throw CameraError(.unsupportedFormat, "CounterKit cannot convert \(wanted.name) frames; use one of \(savableNames(camera))")
            }
            candidates = [format]
        } else {
            let savable = camera.formats.filter(\.savable)
            let jpeg = savable.filter(\.isJPEG)
            let yuyv = savable.filter { $0.pixelFormat == FourCC("YUYV")! }
            let rest = savable.filter { !jpeg.contains($0) && !yuyv.contains($0) }
            // JPEG output keeps the camera's own JPEG; PNG output prefers raw frames and decodes JPEG only as a last resort.
            candidates = request.format == .jpeg ? jpeg + yuyv + rest : yuyv + rest + jpeg
            guard !candidates.isEmpty else {
                throw CameraError(.unsupportedFormat, "\(camera.path) offers no format CounterKit can save (\(offered))")
            }
        }
        let target: FrameSize
        if let size = request.size {
            target = size
        } else {
            guard let largest = candidates.flatMap(\.sizes).max(by: { $0.width * $0.height < $1.width * $1.height }) else {
                throw CameraError(.unsupportedFormat, "\(camera.path) reports no frame sizes")
            }
            target = largest
        }
        for format in candidates {
            if let size = format.sizes.first(where: { $0.width == target.width && $0.height == target.height }) {
                return FormatChoice(pixelFormat: format.pixelFormat, size: size)
            }
        }
        // Stepwise drivers list only the ends of their range: let VIDIOC_S_FMT decide.
        return FormatChoice(pixelFormat: candidates[0].pixelFormat, size: target)
    }

    private func savableNames(_ camera: CameraInfo) -> String {
        camera.formats.filter(\.savable).map(\.pixelFormat.name).joined(separator: ", ")
    }

    /// Sets the format (refusing a size or format the driver changes) and the fastest frame rate.
    func negotiate(_ device: V4L2Device, _ choice: FormatChoice) throws(CameraError) -> Negotiated {
        var format = v4l2_format()
        format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        format.fmt.pix.width = UInt32(choice.size.width)
        format.fmt.pix.height = UInt32(choice.size.height)
        format.fmt.pix.pixelformat = choice.pixelFormat.rawValue
        format.fmt.pix.field = V4L2_FIELD_NONE.rawValue
        // Without the magic the V4L2 core zeroes the colorimetry fields (ycbcr_enc/hsv_enc, quantization) on return.
        format.fmt.pix.priv = UInt32(V4L2_PIX_FMT_PRIV_MAGIC)
        try device.check(ck_vidioc_s_fmt, &format, "VIDIOC_S_FMT")
        // Colorimetry as the driver will produce it (read back: some drivers fill it only in G_FMT).
        var current = v4l2_format()
        current.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        current.fmt.pix.priv = UInt32(V4L2_PIX_FMT_PRIV_MAGIC)
        if device.ioctl(ck_vidioc_g_fmt, &current) == 0, current.fmt.pix.pixelformat == format.fmt.pix.pixelformat { format = current }
        let pix = format.fmt.pix
        guard pix.pixelformat == choice.pixelFormat.rawValue else {
            throw CameraError(
                .unsupportedFormat, "the driver would not capture \(choice.pixelFormat.name) (it chose \(FourCC(rawValue: pix.pixelformat).name))")
        }
        guard Int(pix.width) == choice.size.width, Int(pix.height) == choice.size.height else {
            throw CameraError(
                .unsupportedFormat, "the camera cannot capture \(choice.size) in \(choice.pixelFormat.name) (nearest: \(pix.width)x\(pix.height))")
        }
        if let fps = choice.framesPerSecond, fps > 0 {
            var parameters = v4l2_streamparm()
            parameters.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            parameters.parm.capture.timeperframe = v4l2_fract(numerator: 1000, denominator: UInt32((fps * 1000).rounded()))
            device.ioctl(ck_vidioc_s_parm, &parameters)  // best effort: the driver keeps its rate when it cannot
        }
        var negotiated = Negotiated(
            pixelFormat: choice.pixelFormat, width: Int(pix.width), height: Int(pix.height),
            bytesPerLine: Int(pix.bytesperline), matrix: .bt601Limited, hueRange: 180)
        Self.applyColorimetry(pix, to: &negotiated)
        return negotiated
    }

    /// Reads the colorimetry the driver will produce now (VIDIOC_G_FMT) into `negotiated`.
    func readColorimetry(_ device: V4L2Device, into negotiated: inout Negotiated) {
        var current = v4l2_format()
        current.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        current.fmt.pix.priv = UInt32(V4L2_PIX_FMT_PRIV_MAGIC)
        guard device.ioctl(ck_vidioc_g_fmt, &current) == 0, current.fmt.pix.pixelformat == negotiated.pixelFormat.rawValue else { return }
        Self.applyColorimetry(current.fmt.pix, to: &negotiated)
    }

    private static func applyColorimetry(_ pix: v4l2_pix_format, to negotiated: inout Negotiated) {
        let hsv256: UInt32 = 129  // V4L2_HSV_ENC_256; the field is shared with ycbcr_enc
        negotiated.matrix = YCbCrMatrix.forFormat(encoding: pix.ycbcr_enc, quantization: pix.quantization)
        negotiated.hueRange = pix.ycbcr_enc == hsv256 ? 256 : 180
    }

    /// Applies the requested controls and returns their values as the driver reports them afterwards.
    func applyControls(_ device: V4L2Device, _ camera: CameraInfo, _ requests: [String: String]) throws(CameraError) -> [String: String] {
        guard !requests.isEmpty else { return [:] }
        let plan = try ControlPlan(requests: requests, controls: camera.controls)
        var reported: [String: String] = [:]
        for (control, value) in plan.writes {
            try device.setControl(control, to: value)
            if control.kind == .button || control.writeOnly {
                reported[control.name] = "pressed"
            } else {
                reported[control.name] = control.describe((try? device.controlValue(control)) ?? value)
            }
        }
        return reported
    }

    /// Stores one frame: passed through for JPEG formats, converted and encoded otherwise.
    func save(
        _ bytes: UnsafeRawBufferPointer, negotiated: Negotiated, camera: CameraInfo, request: PhotoRequest,
        controls: [String: String], extraSettings: [String: String] = [:]
    ) throws(CameraError) -> AttachmentManifest {
        var settings = controls.reduce(into: extraSettings) { $0["control." + $1.key] = $1.value }
        settings["pixelFormat"] = negotiated.pixelFormat.name
        let pending: PendingAttachment
        do { pending = try store.begin() } catch { throw error.whileStoring() }
        do {
            let width: Int, height: Int
            let format: AttachmentFormat
            if negotiated.isJPEG {
                let frame: JPEGFrame
                do { frame = try JPEGFrame(bytes) } catch { throw CameraError(.corruptFrame, error.message) }
                (width, height) = (frame.header.width, frame.header.height)
                if request.format == .png {
                    // The one case that decodes: a PNG from a camera that only gives JPEG.
                    try Self.decodeToPNG(frame, output: pending.file)
                    format = .png
                } else {
                    try frame.write(to: pending.file)
                    format = .jpeg
                    settings["passthrough"] = "true"
                    settings["huffmanTablesAdded"] = frame.huffmanInsertionOffset != nil ? "true" : "false"
                }
            } else {
                let converter = try Self.converter(for: bytes, negotiated: negotiated)
                let quality = request.quality ?? 90
                var options = JPEGOptions(quality: quality)
                // A camera's BT.601 Y'CbCr goes into the JPEG as it is (range-scaled), not through RGB and back.
                let tables = request.format == .jpeg && converter.convertsToYCbCr ? converter.ycbcrTables : nil
                options.rowsAreYCbCr = tables != nil
                let encoding: ImageFileFormat = request.format == .png ? .png(.default) : .jpeg(options)
                let encoder = try encoding.makeEncoder(image: converter.image, output: pending.file)
                let row = RowBuffer(count: converter.image.bytesPerRow)
                for y in 0..<negotiated.height {
                    if let tables {
                        converter.convertRowToYCbCr(y, of: bytes, into: row.bytes, tables: tables)
                    } else {
                        converter.convertRow(y, of: bytes, into: row.bytes)
                    }
                    try encoder.write(row: UnsafeRawBufferPointer(row.bytes))
                }
                try encoder.finish()
                (width, height, format) = (negotiated.width, negotiated.height, request.format == .png ? .png : .jpeg)
                if request.format == .jpeg { settings["quality"] = String(quality) }
            }
            return try store.commit(
                pending,
                metadata: AttachmentMetadata(
                    kind: .photo, format: format, pixelWidth: width, pixelHeight: height, pages: 1, device: camera.id,
                    settings: settings))
        } catch let error as CounterKitError {
            store.discard(pending)
            throw error.whileStoring()
        } catch {
            store.discard(pending)
            throw CameraError(.ioError, "\(error)")
        }
    }

    /// A JPEG frame decoded into a PNG; a frame that does not decode counts as corrupt (the next one is tried).
    private static func decodeToPNG(_ frame: JPEGFrame, output: OutputFile) throws(CameraError) {
        let image = ImageDescription(
            format: frame.header.components == 1 ? .gray8 : .rgb8,
            width: frame.header.width, height: frame.header.height)
        do throws(AttachmentError) {
            let encoder = try ImageFileFormat.png(.default).makeEncoder(image: image, output: output)
            try frame.decode(into: encoder)
            try encoder.finish()
        } catch {
            throw error.code == .invalidImage ? CameraError(.corruptFrame, error.message) : error.whileStoring()
        }
    }
}
