import Attachments

/// A signature-pad failure with a stable code (the same codes the socket API and CLI print).
public struct SignaturePadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The one vocabulary of stable codes; this family reports `device_not_found`, `device_busy`, `device_disconnected`, `access_denied`, `timeout`, `invalid_descriptor`, `invalid_report`, `unsupported_device`, `invalid_value`, `io_error`, `no_ink`, `cancelled`, `store_full`, `attachment_failed`.
    public typealias Code = ErrorCode

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
