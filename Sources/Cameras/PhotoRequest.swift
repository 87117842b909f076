import Attachments
import Foundation

/// The file format of a photo.
public enum PhotoFormat: String, Sendable, Codable, CaseIterable {
    /// The file formats a photo can be stored in.
    case jpeg, png
}

/// What photo to take and how.
public struct PhotoRequest: Sendable, Equatable, Codable {
    /// Camera id or device path; nil picks the first camera found.
    public var device: String?
    /// Frame size; nil takes the largest the camera offers.
    public var size: FrameSize?
    /// The V4L2 pixel format to capture in; nil prefers MJPEG for JPEG output, else YUYV, else the first savable format.
    public var pixelFormat: FourCC?
    /// Frames to discard before the photo (auto-exposure warm-up). With `settleMilliseconds`, both must pass.
    public var skipFrames: Int?
    /// Time to let the camera settle after streaming starts. Default: 500 ms and at least 2 frames when neither is given.
    public var settleMilliseconds: Int?
    /// Controls by name (`brightness`, `focus`, `exposure`, `white_balance`, or any control's key) and value.
    public var controls: [String: String]
    /// The file format (JPEG by default).
    public var format: PhotoFormat
    /// JPEG quality 1…100 for encoded photos (default 90); an MJPEG camera's own JPEG is kept as it is.
    public var quality: Int?
    /// Seconds to wait for a frame before giving up (default 5, or 3 frame intervals if longer).
    public var timeoutSeconds: Double?

    /// Creates a request.
    public init(
        device: String? = nil, size: FrameSize? = nil, pixelFormat: FourCC? = nil, skipFrames: Int? = nil,
        settleMilliseconds: Int? = nil, controls: [String: String] = [:], format: PhotoFormat = .jpeg,
        quality: Int? = nil, timeoutSeconds: Double? = nil
    ) {
        self.device = device
        self.size = size
        self.pixelFormat = pixelFormat
        self.skipFrames = skipFrames
        self.settleMilliseconds = settleMilliseconds
        self.controls = controls
        self.format = format
        self.quality = quality
        self.timeoutSeconds = timeoutSeconds
    }

    /// Checks the values that need no device.
    public func validate() throws(CameraError) {
        if let quality, !(1...100).contains(quality) { throw CameraError(.invalidValue, "quality must be 1…100, not \(quality)") }
        if let skipFrames, !(0...1000).contains(skipFrames) { throw CameraError(.invalidValue, "skip must be 0…1000 frames, not \(skipFrames)") }
        if let settleMilliseconds, !(0...60_000).contains(settleMilliseconds) {
            throw CameraError(.invalidValue, "settle must be 0…60000 ms, not \(settleMilliseconds)")
        }
        if let timeoutSeconds, !(timeoutSeconds > 0 && timeoutSeconds <= 600) {
            throw CameraError(.invalidValue, "timeout must be above 0 and at most 600 s")
        }
    }

    /// Frames to skip and settle time after defaults.
    var warmUp: (frames: Int, milliseconds: Int) {
        if skipFrames == nil && settleMilliseconds == nil { return (2, 500) }
        return (skipFrames ?? 0, settleMilliseconds ?? 0)
    }
}

/// What a photo capture produced and the settings actually used.
public struct PhotoResult: Sendable, Equatable, Codable {
    /// The photo in the store.
    public var attachment: AttachmentManifest
    /// The camera's id.
    public var device: String
    /// The frame size captured.
    public var size: FrameSize
    /// The pixel format captured in.
    public var pixelFormat: FourCC
    /// True when the camera's own JPEG was stored without decoding or re-encoding.
    public var passthrough: Bool
    /// Frames discarded before the photo.
    public var framesSkipped: Int
    /// Frames the driver marked bad (or that were not valid images) and were replaced by the next one.
    public var corruptFramesRetried: Int
    /// Controls set for this photo, with the values the driver reports after setting them.
    public var controls: [String: String]

    /// What was used, as flat text: the attachment's settings (pixel format, controls as `control.NAME`,
    /// passthrough, quality) with the size, frames skipped and bad frames replaced.
    public var settings: [String: String] {
        var settings = attachment.settings
        settings["size"] = size.description
        settings["framesSkipped"] = String(framesSkipped)
        settings["corruptFramesRetried"] = String(corruptFramesRetried)
        return settings
    }
}

/// What a taken photo becomes: an attachment in the store (as the request says), or its pixels in memory for the
/// caller (the document stages), with nothing stored.
package enum PhotoKeeping: Sendable {
    case store, memory
}

/// A photo held in memory (`PhotoKeeping.memory`): its pixels, the camera's id, and what was used (pixel format,
/// controls as `control.NAME`, size, frames skipped and bad frames replaced).
package struct PhotoImage: Sendable {
    package var pixels: ImageRows
    package var device: String
    package var settings: [String: String]
}

/// A photo as it was kept.
package enum TakenPhoto: Sendable {
    case stored(PhotoResult)
    case image(PhotoImage)

    /// The stored photo (what a `.store` take returns).
    var stored: PhotoResult {
        get throws(CameraError) {
            guard case .stored(let result) = self else { throw CameraError(.internal, "the photo was kept in memory, not stored") }
            return result
        }
    }

    /// The photo in memory (what a `.memory` take returns).
    var image: PhotoImage {
        get throws(CameraError) {
            guard case .image(let image) = self else { throw CameraError(.internal, "the photo was stored, not kept in memory") }
            return image
        }
    }
}
