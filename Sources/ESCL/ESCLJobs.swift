import Attachments
import DeviceHub
import Foundation
import Scanning

/// The eSCL side of jobs: which hub jobs eSCL clients started, how many of their documents each has taken, and what
/// each scanner's feeder was last seen to be. The hub owns the jobs themselves (and the devices' lanes).
actor ESCLJobs {
    struct Job: Sendable {
        let id: String
        let device: String
        /// The path prefix the client used (`/eSCL` or `/devices/{id}/eSCL`), for job URIs.
        let prefix: String
        let format: String
        let source: ScanSource
        let createdAt: Date
        /// Documents handed out by `NextDocument`.
        var delivered = 0
        /// The last document handed out, for `ScanImageInfo`.
        var lastDocument: AttachmentManifest?
        /// True once the client has been told there is nothing more (or it deleted the job).
        var closed = false
    }

    /// How a feeder was last seen: `ScannerAdfLoaded`, `ScannerAdfEmpty`, `ScannerAdfJam`, `ScannerAdfDoorOpen`.
    private var feeders: [String: String] = [:]
    private var jobs: [String: Job] = [:]
    private var order: [String] = []
    private var profiles: [String: ESCLScannerProfile] = [:]
    /// Jobs remembered for `ScannerStatus`.
    static let remembered = 32

    func add(_ job: Job) {
        jobs[job.id] = job
        order.append(job.id)
        while order.count > Self.remembered { jobs[order.removeFirst()] = nil }
    }

    func job(_ id: String) -> Job? { jobs[id] }

    func jobs(device: String) -> [Job] { order.reversed().compactMap { jobs[$0] }.filter { $0.device == device } }

    /// Claims the next document of job `id` when the job has more than it has handed out: its index.
    func claim(_ id: String, available: Int) -> Int? {
        guard var job = jobs[id], !job.closed, available > job.delivered else { return nil }
        job.delivered += 1
        jobs[id] = job
        return job.delivered - 1
    }

    func delivered(_ id: String, _ document: AttachmentManifest) { jobs[id]?.lastDocument = document }

    /// Marks the job closed; true the first time (its pages are then removed).
    func close(_ id: String) -> Bool {
        guard let job = jobs[id], !job.closed else { return false }
        jobs[id]?.closed = true
        return true
    }

    func feeder(_ device: String) -> String { feeders[device] ?? "ScannerAdfLoaded" }

    func setFeeder(_ device: String, _ state: String) { feeders[device] = state }

    func profile(_ device: String) -> ESCLScannerProfile? { profiles[device] }

    func remember(_ profile: ESCLScannerProfile, for device: String) { profiles[device] = profile }
}

extension ESCLJobs.Job {
    /// `pwg:JobState` of the hub job.
    static func state(_ job: JobSnapshot) -> (state: String, reason: String) {
        switch job.state {
        case .queued: ("Pending", "JobQueued")
        case .running, .cancelling: ("Processing", "JobScanning")
        case .completed: ("Completed", "JobCompletedSuccessfully")
        case .cancelled: ("Canceled", "JobCanceledByUser")
        case .failed: ("Aborted", job.error?.code == .noDocs ? "ScannerAdfEmpty" : "JobAborted")
        }
    }
}
