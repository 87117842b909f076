/// Bounds that keep the service responsive under load or abuse; exceeding one gives a clear error, never a hang.
public struct ServiceLimits: Sendable, Equatable {
    /// Request bodies above this are refused with 413 `body_too_large`.
    public static let maxRequestBytes = 1 << 20
    /// Open connections; further ones wait in the listen backlog until one closes.
    public var maxConnections: Int
    /// Jobs waiting for one device (`?queue=true`); beyond it, 429 `queue_full`.
    public var maxQueuedJobsPerDevice: Int
    /// Open event streams across all jobs; beyond it, 429 `too_many_subscribers`.
    public var maxEventSubscribers: Int
    /// Finished jobs remembered for `GET /v1/jobs/{id}`; the oldest are forgotten first.
    public var retainedJobs: Int
    /// A connection with no request in flight is closed after this many seconds.
    public var idleTimeoutSeconds: Int

    /// Creates limits; the defaults suit one counter's workstation.
    public init(maxConnections: Int = 256, maxQueuedJobsPerDevice: Int = 8, maxEventSubscribers: Int = 128,
                retainedJobs: Int = 500, idleTimeoutSeconds: Int = 60) {
        self.maxConnections = maxConnections
        self.maxQueuedJobsPerDevice = maxQueuedJobsPerDevice
        self.maxEventSubscribers = maxEventSubscribers
        self.retainedJobs = retainedJobs
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }
}
