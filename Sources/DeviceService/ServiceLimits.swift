import DeviceHub

/// Bounds that keep the service responsive under load or abuse; exceeding one gives a clear error, never a hang.
public struct ServiceLimits: Sendable, Equatable {
    /// Open connections served; a connection beyond them is answered 503 `too_many_connections` and closed.
    public var maxConnections: Int
    /// Jobs waiting for one device (`?queue=true`); beyond it, 429 `queue_full`.
    public var maxQueuedJobsPerDevice: Int
    /// Open event streams across all jobs; beyond it, 429 `too_many_subscribers`.
    public var maxEventSubscribers: Int
    /// Finished jobs remembered for `GET /v1/jobs/{id}`; the oldest are forgotten first.
    public var retainedJobs: Int
    /// A connection with no request in flight is closed after this many seconds.
    public var idleTimeoutSeconds: Int
    /// Request bodies above this are refused with 413 `body_too_large`.
    public var maxRequestBytes: Int
    /// Bytes of attachments the store may hold; once reached, new captures are refused with 507 `store_full`
    /// until attachments are deleted (nothing stored is ever dropped to make room).
    public var maxStoreBytes: Int
    /// Documents uploaded to be signed (`POST /v1/attachments`) above this are refused with 413 `body_too_large`.
    public var maxUploadBytes: Int

    /// Creates limits; the defaults suit one counter's workstation.
    public init(
        maxConnections: Int = 256, maxQueuedJobsPerDevice: Int = 8, maxEventSubscribers: Int = 128,
        retainedJobs: Int = 500, idleTimeoutSeconds: Int = 60, maxRequestBytes: Int = 1 << 20,
        maxStoreBytes: Int = 4 << 30, maxUploadBytes: Int = 32 << 20
    ) {
        self.maxUploadBytes = maxUploadBytes
        self.maxConnections = maxConnections
        self.maxQueuedJobsPerDevice = maxQueuedJobsPerDevice
        self.maxEventSubscribers = maxEventSubscribers
        self.retainedJobs = retainedJobs
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.maxRequestBytes = maxRequestBytes
        self.maxStoreBytes = maxStoreBytes
    }

    /// Connections accepted in all: the served ones plus a margin that is answered `too_many_connections`;
    /// beyond it, connections wait in the listen backlog (so a flood cannot exhaust file descriptors).
    var acceptedConnections: Int { maxConnections + max(16, maxConnections / 4) }
}

extension ServiceLimits {
    /// The limits the device hub enforces (queues, subscribers, retained jobs, the store's size).
    public var hub: HubLimits {
        HubLimits(
            maxQueuedJobsPerDevice: maxQueuedJobsPerDevice, maxEventSubscribers: maxEventSubscribers, retainedJobs: retainedJobs,
            maxStoreBytes: maxStoreBytes)
    }
}
