import Attachments

/// A signature-pad failure with a stable code (the same codes the socket API and CLI print).
public struct SignaturePadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable, documented codes.
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// No pad has that id.
        case deviceNotFound = "device_not_found"
        /// Another program or session holds the pad.
        case deviceBusy = "device_busy"
        /// The pad was unplugged during a session.
        case deviceDisconnected = "device_disconnected"
        /// The USB device cannot be opened for lack of permission.
        case accessDenied = "access_denied"
        /// The pad did not answer in time.
        case timeout
        /// A HID report descriptor that cannot be parsed.
        case invalidDescriptor = "invalid_descriptor"
        /// A report too short or malformed for its kind.
        case invalidReport = "invalid_report"
        /// The pad has no pen the driver understands.
        case unsupportedDevice = "unsupported_device"
        /// A request value out of range.
        case invalidValue = "invalid_value"
        /// The USB transfer failed.
        case ioError = "io_error"
        /// A signature was to be stored but the pen never touched the pad.
        case noInk = "no_ink"
        /// The session was cancelled.
        case cancelled
    }

    public var code: Code
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

extension SignaturePadError: CounterKitError {}
