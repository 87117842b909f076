import Attachments

/// A scanning failure with a stable code (the same codes the socket API and CLI print).
public struct ScanError: Error, Sendable, Equatable, CustomStringConvertible, Codable {
    /// The one vocabulary of stable codes; this family reports `jammed`, `cover_open`, `no_docs`, `device_busy`, `io_error`, `no_memory`, `access_denied`, `cancelled`, `unsupported_option`, `invalid_value`, `backend_crashed`, `timeout`, `device_not_found`, `store_full`, `attachment_failed`.
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

extension ScanError: CounterKitError {}
