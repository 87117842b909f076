import Foundation

/// Frames counted while streaming for a while: what a camera delivers, as opposed to what it promises.
public struct FrameRateMeasurement: Sendable, Codable, Equatable {
    /// The pixel format streamed.
    public var pixelFormat: FourCC
    /// The frame size streamed.
    public var size: FrameSize
    /// The rate the driver was asked for (its fastest for this size), if it reports rates.
    public var nominalFramesPerSecond: Double?
    /// Good frames received.
    public var frames: Int
    /// Frames the driver flagged as bad (V4L2_BUF_FLAG_ERROR).
    public var flaggedFrames: Int
    /// Seconds from the first frame to the last.
    public var seconds: Double

    /// A measurement (the probe makes these; fakes and tests may too).
    public init(pixelFormat: FourCC, size: FrameSize, nominalFramesPerSecond: Double?, frames: Int, flaggedFrames: Int, seconds: Double) {
        self.pixelFormat = pixelFormat
        self.size = size
        self.nominalFramesPerSecond = nominalFramesPerSecond
        self.frames = frames
        self.flaggedFrames = flaggedFrames
        self.seconds = seconds
    }

    /// Good frames per second, from the first frame to the last.
    public var framesPerSecond: Double { seconds > 0 && frames > 1 ? Double(frames - 1) / seconds : 0 }
}

extension PhotoCamera {
    /// Streams the requested format and size (as a photo would choose them) for `duration` and counts frames;
    /// nothing is stored. The device is released on every path.
    public func measureFrameRate(_ request: PhotoRequest, duration: Duration = .seconds(3)) throws(CameraError) -> FrameRateMeasurement {
        try request.validate()
        let (camera, device, choice, negotiated) = try open(request)
        defer { device.close() }
        let stream = try CaptureStream(device: device)
        defer { stream.stop() }
        let frameTimeout = Duration.seconds(max(5, 3 / (choice.framesPerSecond ?? 5)))
        var good = 0, flagged = 0
        var first: ContinuousClock.Instant?, last = ContinuousClock.now
        while first.map({ ContinuousClock.now - $0 < duration }) ?? true {
            guard let frame = try stream.next(timeout: frameTimeout, cancelled: { false }) else {
                throw CameraError(.timeout, "no frame from \(camera.path) within \(frameTimeout) (\(good) received)")
            }
            if frame.flaggedError {
                flagged += 1
                if good == 0, flagged > 10 * corruptFrameRetries {
                    throw CameraError(.corruptFrame, "\(flagged) bad frames in a row from \(camera.path)")
                }
            } else {
                good += 1
                last = ContinuousClock.now
                if first == nil { first = last }
            }
            try stream.requeue(frame)
        }
        let elapsed = first.map { last - $0 } ?? .zero
        return FrameRateMeasurement(
            pixelFormat: negotiated.pixelFormat, size: FrameSize(width: negotiated.width, height: negotiated.height),
            nominalFramesPerSecond: choice.framesPerSecond, frames: good, flaggedFrames: flagged,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
