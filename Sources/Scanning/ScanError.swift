import Attachments

/// A scanning failure with a stable code (the same codes the socket API and CLI print).
public struct ScanError: Error, Sendable, Equatable, CustomStringConvertible, Codable {
    /// Stable, documented codes.
    public enum Code: String, Sendable, Codable, CaseIterable {
        case jammed
        case coverOpen = "cover_open"
        /// The feeder was empty for the first page.
        case noDocs = "no_docs"
        case deviceBusy = "device_busy"
        case ioError = "io_error"
        case noMemory = "no_memory"
        case accessDenied = "access_denied"
        case cancelled
        case unsupportedOption = "unsupported_option"
        case invalidValue = "invalid_value"
        /// The worker process running the backend died.
        case backendCrashed = "backend_crashed"
        /// The backend did not answer in time; the worker was killed.
        case timeout
        /// No scanner has that id.
        case deviceNotFound = "device_not_found"
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
