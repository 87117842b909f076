/// An error from encoding or storing an attachment, with a stable code.
public struct AttachmentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable, documented error codes.
    public enum Code: String, Sendable, Codable {
        /// The image geometry or rows do not match what the encoder was given.
        case invalidImage = "invalid_image"
        /// The encoding library reported an error.
        case encoderFailed = "encoder_failed"
        /// Reading or writing the spool failed (disk full, permissions…).
        case ioError = "io_error"
        /// No attachment has that id.
        case notFound = "not_found"
        /// The id is not a well-formed attachment id.
        case invalidId = "invalid_id"
        /// The store would exceed its configured size.
        case storeFull = "store_full"
    }

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
