/// An error from encoding or storing an attachment, with a stable code.
public struct AttachmentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The one vocabulary of stable codes; this family reports `invalid_image`, `encoder_failed`, `io_error`, `not_found`, `invalid_id`, `store_full`.
    public typealias Code = ErrorCode

    /// The stable code.
    public let code: Code
    /// A message for people.
    public let message: String

    /// Creates an error with a code and message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

extension AttachmentError {
    /// The code a capture reports when storing its result failed with this error: `store_full` and `disk_full` keep
    /// their codes (the caller must free space, not retry), anything else is `attachment_failed`.
    public var codeForCapture: ErrorCode { code == .storeFull || code == .diskFull ? code : .attachmentFailed }
}
