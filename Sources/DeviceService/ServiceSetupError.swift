/// A problem that stops the service from starting (bad socket path, unknown group…).
public struct ServiceSetupError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
