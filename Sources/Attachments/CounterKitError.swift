/// What every CounterKit error has: a stable code from the one vocabulary, ``ErrorCode`` (the same string the socket
/// API and the CLI print), and a message for people. Catch `any CounterKitError` to handle the families alike.
public protocol CounterKitError: Error, Sendable, CustomStringConvertible {
    /// The stable code.
    var code: ErrorCode { get }
    /// A message for people.
    var message: String { get }
}

extension CounterKitError {
    /// The stable code as a string (`device_busy`, `jammed`, `no_ink`…).
    public var codeName: String { code.rawValue }
}

extension AttachmentError: CounterKitError {}
