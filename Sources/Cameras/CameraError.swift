import Attachments

/// A camera failure with a stable code (the same codes the socket API and CLI print).
public struct CameraError: Error, Sendable, Equatable, CustomStringConvertible, Codable {
    /// Stable, documented codes.
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// No camera has that id, or the node is not a video capture device.
        case deviceNotFound = "device_not_found"
        /// Another program is streaming from the camera (EBUSY).
        case deviceBusy = "device_busy"
        /// The camera went away (ENODEV), before or during capture.
        case deviceDisconnected = "device_disconnected"
        /// The device node cannot be opened for lack of permission.
        case accessDenied = "access_denied"
        /// No frame arrived in time.
        case timeout
        /// Every frame of the bounded retries was marked bad by the driver, or was not a valid image.
        case corruptFrame = "corrupt_frame"
        /// The requested pixel format, size or output cannot be had from this camera.
        case unsupportedFormat = "unsupported_format"
        /// A control name or value the camera does not accept.
        case invalidControl = "invalid_control"
        /// A request value out of range (quality, skip count…).
        case invalidValue = "invalid_value"
        /// The driver failed an operation.
        case ioError = "io_error"
        /// The capture was cancelled.
        case cancelled
        /// Writing the attachment failed.
        case attachmentFailed = "attachment_failed"
    }

    /// The stable code.
    public var code: Code
    /// A message for people.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// Wraps an attachment failure.
    public init(_ error: AttachmentError) {
        self.init(.attachmentFailed, error.description)
    }
}

extension CameraError: CounterKitError {}
