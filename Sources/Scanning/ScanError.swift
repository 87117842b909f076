import Attachments

/// A scanning failure with a stable code (the same codes the socket API and CLI print).
public struct ScanError: Error, Sendable, Equatable, CustomStringConvertible, Codable {
    /// Stable, documented codes.
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// The paper jammed (`SANE_STATUS_JAMMED`).
        case jammed
        /// The cover is open (`SANE_STATUS_COVER_OPEN`).
        case coverOpen = "cover_open"
        /// The feeder was empty for the first page.
        case noDocs = "no_docs"
        /// The scanner is in use (`SANE_STATUS_DEVICE_BUSY`).
        case deviceBusy = "device_busy"
        /// The backend reported an I/O error.
        case ioError = "io_error"
        /// The backend ran out of memory.
        case noMemory = "no_memory"
        /// The device cannot be opened for lack of permission.
        case accessDenied = "access_denied"
        /// The scan was cancelled.
        case cancelled
        /// The scanner has no such option, or not that value.
        case unsupportedOption = "unsupported_option"
        /// A request value out of range.
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

extension ScanError: CounterKitError {}
