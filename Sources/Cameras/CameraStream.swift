import Attachments
import CV4L2
import CounterKitCore
import Foundation
import Synchronization

/// What live picture to stream from a camera.
public struct PreviewRequest: Sendable, Equatable, Codable {
    /// Camera id or device path; nil picks the first camera found.
    public var device: String?
    /// Picture size; nil takes 640x480 or the size nearest above it. A size the camera does not offer is captured at
    /// the nearest larger one and shrunk while converting.
    public var size: FrameSize?
    /// Frames per second to deliver (at most what the camera gives); nil: as fast as the camera goes.
    public var framesPerSecond: Double?
    /// JPEG quality of frames CounterKit compresses (1…100, default 80); an MJPEG camera's own frames pass unchanged.
    public var quality: Int?

    /// A request.
    public init(device: String? = nil, size: FrameSize? = nil, framesPerSecond: Double? = nil, quality: Int? = nil) {
        self.device = device
        self.size = size
        self.framesPerSecond = framesPerSecond
        self.quality = quality
    }

    /// Checks the values that need no device.
    public func validate() throws(CameraError) {
        if let size, !(16...8192).contains(size.width) || !(16...8192).contains(size.height) {
            throw CameraError(.invalidValue, "a preview size must be 16…8192 pixels each way, not \(size)")
        }
        if let framesPerSecond, !(framesPerSecond >= 0.1 && framesPerSecond <= 240) {
            throw CameraError(.invalidValue, "fps must be 0.1…240, not \(framesPerSecond)")
        }
        if let quality, !(1...100).contains(quality) { throw CameraError(.invalidValue, "quality must be 1…100, not \(quality)") }
    }

    /// The size used when none is asked for.
    public static let defaultSize = FrameSize(width: 640, height: 480)
}

/// One picture of a camera's live stream, as a JPEG file's bytes.
public struct PreviewFrame: Sendable, Equatable {
    /// The JPEG.
    public var jpeg: Data
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// The frame's number in the stream (1-based; gaps are frames skipped for the rate asked).
    public var sequence: Int
    /// True when the camera's own JPEG passed unchanged (Huffman tables added where missing).
    public var passthrough: Bool

    /// A frame.
    public init(jpeg: Data, width: Int, height: Int, sequence: Int, passthrough: Bool) {
        self.jpeg = jpeg
        self.width = width
        self.height = height
        self.sequence = sequence
        self.passthrough = passthrough
    }
}

/// A camera streaming its live picture on a thread of its own, until `stop()` or a failure.
///
/// Frames go to `frames` as they are made (MJPEG passed through, raw formats converted and compressed at the preview
/// size). `photo(_:)` takes a still from the running stream: at once when the photo wants the stream's format and size,
/// else by switching the stream to the photo's format and size for one frame and back, so the preview only pauses.
/// The device is released when the stream ends, on every path.
public final class CameraStream: Sendable {
    /// The camera streaming.
    public let camera: CameraInfo
    /// The preview's size.
    public let size: FrameSize
    /// The pixel format the camera delivers for the preview.
    public let pixelFormat: FourCC

    fileprivate struct PendingPhoto: @unchecked Sendable {
        var request: PhotoRequest
        var keeping: PhotoKeeping
        var done: CheckedContinuation<Result<TakenPhoto, CameraError>, Never>
    }

    private struct State {
        var stopping = false
        var ended: CameraError?? = nil
        var photos: [PendingPhoto] = []
        var framesCaptured = 0
    }

    private let state = Mutex(State())

    /// Opens the camera and starts streaming; `frames` gets each preview frame, `ended` the reason the stream stopped
    /// (nil after `stop()`). Fails at once when the camera cannot be opened or does not stream the size.
    public init(
        camera photoCamera: PhotoCamera, request: PreviewRequest,
        frames: @escaping @Sendable (PreviewFrame) -> Void,
        ended: @escaping @Sendable (CameraError?) -> Void
    ) throws(CameraError) {
        try request.validate()
        let loop = try PreviewLoop(photoCamera, request)
        camera = loop.camera
        size = FrameSize(width: loop.output.width, height: loop.output.height)
        pixelFormat = loop.negotiated.pixelFormat
        BlockingCalls.shared.start(named: "counterkit-preview") { [self] in
            let failure = loop.run(self, frames: frames)
            let pending = state.withLock { state in
                state.ended = .some(failure)
                defer { state.photos = [] }
                return state.photos
            }
            let error = failure ?? CameraError(.cancelled, "the preview of \(camera.path) stopped")
            for photo in pending { photo.done.resume(returning: .failure(error)) }
            ended(failure)
        }
    }

    /// Stops streaming; the device is closed shortly after (the thread finishes its current frame).
    public func stop() { state.withLock { $0.stopping = true } }

    /// Whether the stream has ended.
    public var hasEnded: Bool { state.withLock { $0.ended != nil } }

    /// Good frames received from the driver so far.
    public var framesCaptured: Int { state.withLock { $0.framesCaptured } }

    /// Takes a photo from the running stream (see the type's description); its manifest's settings say
    /// `fromPreview: true`, and `previewSwitched: true` when the stream had to change format or size for it.
    public func photo(_ request: PhotoRequest) async throws(CameraError) -> PhotoResult {
        try await take(request, keeping: .store).stored
    }

    /// Takes a photo from the running stream into memory (for the document stages); nothing is stored.
    package func photoImage(_ request: PhotoRequest) async throws(CameraError) -> PhotoImage {
        try await take(request, keeping: .memory).image
    }

    private func take(_ request: PhotoRequest, keeping: PhotoKeeping) async throws(CameraError) -> TakenPhoto {
        try request.validate()
        let result: Result<TakenPhoto, CameraError> = await withCheckedContinuation { continuation in
            let refused: CameraError? = state.withLock { state in
                if state.ended != nil || state.stopping { return CameraError(.deviceBusy, "the preview of \(camera.path) has ended") }
                state.photos.append(PendingPhoto(request: request, keeping: keeping, done: continuation))
                return nil
            }
            if let refused { continuation.resume(returning: .failure(refused)) }
        }
        return try result.get()
    }

    fileprivate func nextCommand() -> (stop: Bool, photo: PendingPhoto?) {
        state.withLock { state in
            if state.stopping { return (true, nil) }
            return (false, state.photos.isEmpty ? nil : state.photos.removeFirst())
        }
    }

    fileprivate func counted() { state.withLock { $0.framesCaptured += 1 } }
}

/// The stream's device and buffers, owned by its thread once it starts.
private final class PreviewLoop: @unchecked Sendable {
    let photoCamera: PhotoCamera
    let request: PreviewRequest
    let camera: CameraInfo
    let device: V4L2Device
    let choice: PhotoCamera.FormatChoice
    var negotiated: PhotoCamera.Negotiated
    var stream: CaptureStream?
    /// The size frames are delivered at.
    let output: FrameSize
    private var encoder: JPEGMemoryEncoder?
    private var converter: FrameConverter?
    /// Set when the camera's Y'CbCr goes to libjpeg as it is (no RGB round trip).
    private var ycbcrTables: YCbCrTables?
    private var picture: RowBuffer?
    private var sourceRow: RowBuffer?

    init(_ photoCamera: PhotoCamera, _ request: PreviewRequest) throws(CameraError) {
        self.photoCamera = photoCamera
        self.request = request
        camera = try photoCamera.discovery.resolve(request.device, frameRates: false)
        device = try V4L2Device(path: camera.path)
        var (picked, output) = try Self.choose(camera, request.size ?? PreviewRequest.defaultSize)
        picked.framesPerSecond = device.frameRates(picked.pixelFormat, picked.size.width, picked.size.height).max()
        if let fps = request.framesPerSecond, let fastest = picked.framesPerSecond, fps < fastest {
            // The slowest offered rate still at least as fast as asked: less work for the camera and the bus.
            let rates = device.frameRates(picked.pixelFormat, picked.size.width, picked.size.height)
            picked.framesPerSecond = rates.filter { $0 >= fps }.min() ?? fastest
        }
        choice = picked
        self.output = output
        negotiated = try photoCamera.negotiate(device, picked)
        try startStreaming()
    }

    /// The camera's own JPEG at exactly the size, else a raw format at exactly the size (YUYV first), else the
    /// smallest raw size at least as large (shrunk while converting), else the largest there is.
    static func choose(_ camera: CameraInfo, _ wanted: FrameSize) throws(CameraError) -> (PhotoCamera.FormatChoice, FrameSize) {
        let savable = camera.formats.filter(\.savable)
        let yuyv = FourCC("YUYV")!
        let raw = savable.filter { !$0.isJPEG }.sorted { ($0.pixelFormat == yuyv ? 0 : 1) < ($1.pixelFormat == yuyv ? 0 : 1) }
        let jpeg = savable.filter(\.isJPEG)
        let exact = { (size: FrameSize) in size.width == wanted.width && size.height == wanted.height }
        for format in jpeg + raw {
            if let size = format.sizes.first(where: exact) {
                return (PhotoCamera.FormatChoice(pixelFormat: format.pixelFormat, size: size), FrameSize(width: size.width, height: size.height))
            }
        }
        let offered: [(CameraFormat, FrameSize)] = raw.flatMap { format in format.sizes.map { (format, $0) } }
        let covering = offered.filter { $0.1.width >= wanted.width && $0.1.height >= wanted.height }
        let larger = covering.min { $0.1.width * $0.1.height < $1.1.width * $1.1.height }
        if let (format, size) = larger {
            return (PhotoCamera.FormatChoice(pixelFormat: format.pixelFormat, size: size), FrameSize(width: wanted.width, height: wanted.height))
        }
        let every: [(CameraFormat, FrameSize)] = (raw + jpeg).flatMap { format in format.sizes.map { (format, $0) } }
        guard let (format, size) = every.max(by: { $0.1.width * $0.1.height < $1.1.width * $1.1.height }) else {
            throw CameraError(.unsupportedFormat, "\(camera.path) offers no format CounterKit can preview")
        }
        // Smaller than asked: delivered at the camera's size (raw) or as the camera makes it (JPEG).
        return (PhotoCamera.FormatChoice(pixelFormat: format.pixelFormat, size: size), FrameSize(width: size.width, height: size.height))
    }

    private func startStreaming() throws(CameraError) {
        do {
            stream = try CaptureStream(device: device)
        } catch  where error.code == .ioError {
            stream = try CaptureStream(device: device)
        }
        converter = nil
        if !negotiated.isJPEG {
            guard let layout = PixelLayout.of(negotiated.pixelFormat) else {
                throw CameraError(.unsupportedFormat, "no converter for \(negotiated.pixelFormat.name)")
            }
            let converter = FrameConverter(
                layout: layout, width: negotiated.width, height: negotiated.height,
                bytesPerLine: negotiated.bytesPerLine, matrix: negotiated.matrix, hueRange: negotiated.hueRange)
            self.converter = converter
            ycbcrTables = converter.convertsToYCbCr ? converter.ycbcrTables : nil
            let format = converter.image.format
            sourceRow = RowBuffer(count: format.bytesPerRow(width: negotiated.width))
            picture = RowBuffer(count: format.bytesPerRow(width: output.width) * output.height)
        }
    }

    /// Streams until stopped or failed; returns the failure (nil when stopped).
    func run(_ owner: CameraStream, frames: @Sendable (PreviewFrame) -> Void) -> CameraError? {
        defer {
            stream?.stop()
            device.close()
        }
        let interval = request.framesPerSecond.map { Duration.milliseconds(Int(1000 / $0)) - .milliseconds(5) }
        var lastDelivered: ContinuousClock.Instant?
        var sequence = 0
        var silentSince = ContinuousClock.now
        do throws(CameraError) {
            while true {
                let command = owner.nextCommand()
                if command.stop { return nil }
                if let photo = command.photo {
                    let result = Result { () throws(CameraError) in try takePhoto(photo.request, keeping: photo.keeping) }
                    photo.done.resume(returning: result)
                    if case .failure(let error) = result, error.code == .deviceDisconnected || error.code == .ioError { return error }
                    silentSince = ContinuousClock.now
                    continue
                }
                guard let stream else { return CameraError(.ioError, "the preview stream of \(camera.path) is not running") }
                guard let frame = try stream.next(timeout: .milliseconds(200), cancelled: { false }) else {
                    if ContinuousClock.now - silentSince > .seconds(10) {
                        return CameraError(.timeout, "\(camera.path) sent no frame for 10 s")
                    }
                    continue
                }
                silentSince = ContinuousClock.now
                defer { try? stream.requeue(frame) }
                guard !frame.flaggedError else { continue }
                owner.counted()
                sequence += 1
                if let interval, let lastDelivered, ContinuousClock.now - lastDelivered < interval { continue }
                guard let made = makeFrame(frame.bytes, sequence: sequence) else { continue }
                lastDelivered = ContinuousClock.now
                frames(made)
            }
        } catch {
            return error
        }
    }

    /// The preview picture of one driver frame; nil for a frame that is not a valid image.
    private func makeFrame(_ bytes: UnsafeRawBufferPointer, sequence: Int) -> PreviewFrame? {
        if negotiated.isJPEG {
            guard let jpeg = try? JPEGFrame(bytes) else { return nil }
            return PreviewFrame(
                jpeg: Data(jpeg.fileBytes()), width: jpeg.header.width, height: jpeg.header.height,
                sequence: sequence, passthrough: true)
        }
        guard let converter, let picture, let sourceRow, bytes.count >= converter.frameSize else { return nil }
        let format = converter.image.format
        let channels = format.channels
        let rowBytes = format.bytesPerRow(width: output.width)
        let scaled = output.width != negotiated.width || output.height != negotiated.height
        let tables = ycbcrTables
        func convert(_ row: Int, into target: UnsafeMutableRawBufferPointer) {
            if let tables {
                converter.convertRowToYCbCr(row, of: bytes, into: target, tables: tables)
            } else {
                converter.convertRow(row, of: bytes, into: target)
            }
        }
        for y in 0..<output.height {
            let target = UnsafeMutableRawBufferPointer(rebasing: picture.bytes[(y * rowBytes)..<((y + 1) * rowBytes)])
            if !scaled {
                convert(y, into: target)
                continue
            }
            // Only the rows and pixels the smaller picture shows are converted and kept.
            convert(y * negotiated.height / output.height, into: sourceRow.bytes)
            for x in 0..<output.width {
                let from = (x * negotiated.width / output.width) * channels
                for channel in 0..<channels { target[x * channels + channel] = sourceRow.bytes[from + channel] }
            }
        }
        do {
            if encoder == nil { encoder = try JPEGMemoryEncoder(quality: request.quality ?? 80) }
            let jpeg = try encoder!.encode(
                UnsafeRawBufferPointer(picture.bytes), format: format, width: output.width, height: output.height,
                ycbcr: tables != nil)
            return PreviewFrame(jpeg: jpeg, width: output.width, height: output.height, sequence: sequence, passthrough: false)
        } catch {
            return nil
        }
    }

    /// A still from the running stream, or through a switch to the photo's format and size and back.
    private func takePhoto(_ photo: PhotoRequest, keeping: PhotoKeeping) throws(CameraError) -> TakenPhoto {
        var wanted = try photoCamera.chooseFormat(camera, photo)
        let controls = try photoCamera.applyControls(device, camera, photo.controls)
        if !controls.isEmpty { photoCamera.readColorimetry(device, into: &negotiated) }
        // Controls take a frame or two to show; an unchanged stream needs no other warm-up.
        let settle = (frames: controls.isEmpty ? 0 : 2, milliseconds: 0)
        if wanted.pixelFormat == negotiated.pixelFormat, wanted.size.width == negotiated.width, wanted.size.height == negotiated.height,
            let stream
        {
            return try photoCamera.shoot(
                from: stream, camera: camera, negotiated: negotiated, framesPerSecond: choice.framesPerSecond,
                request: photo, controls: controls, warmUp: settle, extraSettings: ["fromPreview": "true"], keeping: keeping,
                cancelled: { false }, progress: nil)
        }
        stream?.stop()
        stream = nil
        let preview = negotiated
        defer {
            // Back to the preview, whatever happened to the photo; a failure here ends the stream at its next frame.
            negotiated = preview
            if (try? photoCamera.negotiate(device, choice)) != nil { try? startStreaming() }
        }
        wanted.framesPerSecond = device.frameRates(wanted.pixelFormat, wanted.size.width, wanted.size.height).max()
        let switched = try photoCamera.negotiate(device, wanted)
        let photoStream = try CaptureStream(device: device)
        defer { photoStream.stop() }
        // The first frame after a switch may still hold the sensor's previous mode.
        return try photoCamera.shoot(
            from: photoStream, camera: camera, negotiated: switched, framesPerSecond: wanted.framesPerSecond,
            request: photo, controls: controls, warmUp: (frames: 1, milliseconds: 0),
            extraSettings: ["fromPreview": "true", "previewSwitched": "true"], keeping: keeping, cancelled: { false }, progress: nil)
    }
}
