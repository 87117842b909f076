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
        /// When the client last asked for a document (or the job was created): a job is abandoned only after its client
        /// has been silent for `ESCLConfiguration.abandonedAfter`, however slowly it takes its pages.
        var lastContact = ContinuousClock.now
    }

    /// A feeder state the scanner reported (`ScannerAdfEmpty`, `ScannerAdfJam`, `ScannerAdfDoorOpen`) and when: the
    /// answer to a client asking why its job ended. SANE cannot tell when the clerk reloads the feeder or clears a jam,
    /// so such a report is repeated only for `FeederReport.lifetime`, and never once a later scan has started.
    struct FeederReport: Sendable {
        let state: String
        let at: ContinuousClock.Instant
        /// How long a client may still hear a report after the scan that made it.
        static let lifetime = Duration.seconds(10)
    }

    private var feeders: [String: FeederReport] = [:]
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
        job.lastContact = .now
        jobs[id] = job
        return job.delivered - 1
    }

    /// Notes that job `id`'s client is asking for its next document.
    func contact(_ id: String) { jobs[id]?.lastContact = .now }

    func delivered(_ id: String, _ document: AttachmentManifest) { jobs[id]?.lastDocument = document }

    /// Marks the job closed; true the first time (its pages are then removed).
    func close(_ id: String) -> Bool {
        guard let job = jobs[id], !job.closed else { return false }
        jobs[id]?.closed = true
        return true
    }

    /// The feeder state a scan of `device` reported within `FeederReport.lifetime`, if any.
    func feederReport(_ device: String) -> String? {
        guard let report = feeders[device], ContinuousClock.now - report.at < FeederReport.lifetime else { return nil }
        return report.state
    }

    /// Records what a scan of `device` found the feeder to be; nil when a new scan starts (the old report is void).
    func reportFeeder(_ device: String, _ state: String?) { feeders[device] = state.map { FeederReport(state: $0, at: .now) } }

    func profile(_ device: String) -> ESCLScannerProfile? { profiles[device] }

    func remember(_ profile: ESCLScannerProfile, for device: String) { profiles[device] = profile }
}

extension ESCLJobs.Job {
    /// The documents the client can have of the hub job so far: a PDF job's one document once the scan is whole, an
    /// image job's pages as each is stored.
    func available(_ snapshot: JobSnapshot) -> Int {
        format == "application/pdf" ? (snapshot.state == .completed ? 1 : 0) : snapshot.attachments.count
    }

    /// Documents the scanner has made that the client has not taken yet (none once the job is closed).
    func toTransfer(_ snapshot: JobSnapshot) -> Int { closed ? 0 : max(0, available(snapshot) - delivered) }

    /// `pwg:JobState` and its reason, from what the scanner has done and what the client has taken: a job whose scan
    /// has ended is `Completed` (or `Aborted`) only once its client has every document it made. Until then it is
    /// `Processing`, since clients (libsane's `escl`) stop asking for pages once a job says it is done.
    func state(_ snapshot: JobSnapshot) -> (state: String, reason: String) {
        switch snapshot.state {
        case .queued: return ("Pending", "JobQueued")
        case .running, .cancelling: return ("Processing", "JobScanning")
        case .cancelled: return ("Canceled", "JobCanceledByUser")
        case .completed, .failed:
            if toTransfer(snapshot) > 0 { return ("Processing", "JobScanning") }  // the reason clients know for a job in progress
            if snapshot.state == .completed { return ("Completed", "JobCompletedSuccessfully") }
            return ("Aborted", snapshot.error.flatMap { ESCLService.feederState($0.code) } ?? "JobAborted")
        }
    }
}
