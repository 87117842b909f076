import Synchronization

/// The one cancel switch for a capture running on another thread (a scan, a photo): `cancel()` from anywhere; the
/// capture polls `isCancelled` and stops soon after (a scan within a second, a photo within about 100 ms), releasing
/// its device and storing nothing.
public final class CancellationToken: Sendable {
    private let flag = Atomic<Bool>(false)
    /// Creates an untriggered token.
    public init() {}
    /// Requests cancellation.
    public func cancel() { flag.store(true, ordering: .relaxed) }
    /// Whether cancellation was requested.
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}
