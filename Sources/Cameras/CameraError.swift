import Attachments

/// A camera failure with a stable code (the same codes the socket API and CLI print).
public struct CameraError: Error, Sendable, Equatable, CustomStringConvertible, Codable {
    /// The one vocabulary of stable codes; this family reports `device_not_found`, `device_busy`, `device_disconnected`, `access_denied`, `timeout`, `corrupt_frame`, `unsupported_format`, `invalid_control`, `invalid_value`, `io_error`, `cancelled`, `store_full`, `attachment_failed`.
    public typealias Code = ErrorCode

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

    /// Wraps an attachment failure: `store_full` keeps its code, anything else is `attachment_failed`.
    public init(_ error: AttachmentError) {
        self.init(error.codeForCapture, error.description)
    }
}

extension CameraError: CounterKitError {}
