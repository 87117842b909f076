import Attachments
import Cameras

/// Bounds on what a hub holds at once; going past one is a clear error (`queue_full`, `too_many_subscribers`,
/// `store_full`), never a hang.
public struct HubLimits: Sendable, Equatable {
    /// Jobs waiting for one device (`queue: true`); beyond it, `queue_full`.
    public var maxQueuedJobsPerDevice: Int
    /// Open event streams across all jobs; beyond it, `too_many_subscribers`.
    public var maxEventSubscribers: Int
    /// Finished jobs and signature sessions remembered; the oldest are forgotten first.
    public var retainedJobs: Int
    /// Bytes of attachments the store may hold; once reached, new captures are refused with `store_full` until
    /// attachments are deleted (nothing stored is ever dropped to make room).
    public var maxStoreBytes: Int

    /// Creates limits; the defaults suit one counter's workstation.
    public init(maxQueuedJobsPerDevice: Int = 8, maxEventSubscribers: Int = 128, retainedJobs: Int = 500, maxStoreBytes: Int = 4 << 30) {
        self.maxQueuedJobsPerDevice = maxQueuedJobsPerDevice
        self.maxEventSubscribers = maxEventSubscribers
        self.retainedJobs = retainedJobs
        self.maxStoreBytes = maxStoreBytes
    }

    /// Throws `store_full` when the store has reached `maxStoreBytes`: checked before every capture starts.
    public func requireRoom(in store: AttachmentStore) throws(DeviceHubError) {
        let used = store.totalBytes
        guard used < maxStoreBytes else {
            throw DeviceHubError(
                .storeFull,
                "the attachment store holds \(used) bytes, its limit is \(maxStoreBytes); "
                    + "download and delete attachments (DELETE /v1/attachments/{id}) or raise --max-store-mb")
        }
    }
}

/// Hears what a hub does, for metrics and logs: jobs and signature sessions starting and ending, devices coming and
/// going. Every requirement has a default that does nothing, so an observer implements only what it needs.
public protocol DeviceHubObserver: Sendable {
    /// A job started running on its device.
    func jobStarted(_ job: JobSnapshot)
    /// A job ended (completed, failed or cancelled; a job cancelled while queued has no `startedAt`).
    func jobEnded(_ job: JobSnapshot)
    /// A signature session started on its pad.
    func sessionStarted(_ session: SignatureSessionSnapshot)
    /// A signature session ended (finished, failed or cancelled).
    func sessionEnded(_ session: SignatureSessionSnapshot)
    /// Devices arrived or left (found by a discovery or a hotplug event).
    func devicesChanged(_ changes: [DeviceChange])
    /// How many devices of a kind are present after a discovery or hotplug.
    func devicesPresent(_ kind: DeviceKind, _ count: Int)
    /// A camera started streaming its live picture (`size`, `pixelFormat`) for its first viewer.
    func previewStarted(_ device: String, size: FrameSize, pixelFormat: FourCC)
    /// A camera's preview ended: `frames` taken from the driver; `error` when it failed (nil: its viewers left).
    func previewEnded(_ device: String, frames: Int, error: CameraError?)
}

extension DeviceHubObserver {
    public func jobStarted(_ job: JobSnapshot) {}
    public func jobEnded(_ job: JobSnapshot) {}
    public func sessionStarted(_ session: SignatureSessionSnapshot) {}
    public func sessionEnded(_ session: SignatureSessionSnapshot) {}
    public func devicesChanged(_ changes: [DeviceChange]) {}
    public func devicesPresent(_ kind: DeviceKind, _ count: Int) {}
    public func previewStarted(_ device: String, size: FrameSize, pixelFormat: FourCC) {}
    public func previewEnded(_ device: String, frames: Int, error: CameraError?) {}
}

/// An observer that ignores everything (the default).
public struct IgnoringObserver: DeviceHubObserver {
    /// Creates one.
    public init() {}
}
