import Attachments
import Foundation
import Scanning
import Synchronization

/// What a job's work reports while it runs.
package struct JobReporter: Sendable {
    fileprivate let yield: @Sendable (JobUpdate) -> Void
    fileprivate let live: LiveRowsBuffer?

    /// Reports progress (delivered to subscribers in order).
    public func progress(_ progress: CaptureProgress) { yield(.progress(progress)) }
    /// Reports the settings the device actually used.
    public func settings(_ settings: [String: String]) { yield(.settings(settings)) }
    /// Adds an attachment the work has already stored (a page of a feeder scan, as it ends) to the job, so that
    /// subscribers and readers see it before the job ends; the outcome's list replaces these at the end.
    public func attachment(_ manifest: AttachmentManifest) { yield(.attachment(manifest)) }
    /// Adds rows to the job's live view (a job submitted with `liveRows`) and tells its subscribers.
    public func rows(_ band: ScanRowsBand) {
        guard let live else { return }
        live.append(band)
        yield(.rows)
    }
}

/// What finished work hands back.
package struct JobOutcome: Sendable {
    /// Pages captured.
    public var pages: Int
    /// The settings actually used.
    public var settings: [String: String]
    /// The stored attachments.
    public var attachments: [AttachmentManifest]

    /// Creates an outcome.
    public init(pages: Int, settings: [String: String], attachments: [AttachmentManifest]) {
        self.pages = pages
        self.settings = settings
        self.attachments = attachments
    }
}

fileprivate enum JobUpdate: Sendable {
    case progress(CaptureProgress)
    case settings([String: String])
    case attachment(AttachmentManifest)
    case rows
}

/// What a job's work has reported and the job has not taken in yet. Data is kept whole and in order (every stored
/// page, the latest settings), while progress and live rows are coalesced to the latest: a burst can neither drop a page
/// nor grow without bound. A doorbell (one pending ring at most) tells the job to take what is there.
fileprivate final class PendingUpdates: Sendable {
    private struct Pending {
        var settings: [String: String]?
        var attachments: [AttachmentManifest] = []
        var progress: CaptureProgress?
        var rows = false
    }
    private let pending = Mutex(Pending())
    private let doorbell: AsyncStream<Void>.Continuation
    /// Rings once at least once after anything is posted; ends after `close()`.
    let rings: AsyncStream<Void>

    init() { (rings, doorbell) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1)) }

    func post(_ update: JobUpdate) {
        pending.withLock { pending in
            switch update {
            case .settings(let settings): pending.settings = settings
            case .attachment(let manifest): pending.attachments.append(manifest)
            case .progress(let progress):
                // Page ends are counted from `pagesDone`: coalescing keeps the highest seen.
                var latest = progress
                if let earlier = pending.progress?.pagesDone { latest.pagesDone = max(earlier, progress.pagesDone ?? earlier) }
                pending.progress = latest
            case .rows: pending.rows = true
            }
        }
        doorbell.yield()
    }

    /// Everything pending, in the order the job applies it (settings, pages stored, progress, rows), and empties it.
    func take() -> [JobUpdate] {
        pending.withLock { pending in
            var updates: [JobUpdate] = pending.settings.map { [.settings($0)] } ?? []
            updates += pending.attachments.map { .attachment($0) }
            if let progress = pending.progress { updates.append(.progress(progress)) }
            if pending.rows { updates.append(.rows) }
            pending = Pending()
            return updates
        }
    }

    /// No more posts: the rings end once the last is read.
    func close() { doorbell.finish() }
}

/// The work of one job; errors other than `JobError` become `internal`.
package typealias JobWork = @Sendable (JobReporter) async throws(JobError) -> JobOutcome

/// Jobs and their devices (the hub's per-device exclusivity for scanners and cameras): one job at a time per device, a bounded queue per device, events to subscribers.
package actor JobManager {
    private struct Record {
        var snapshot: JobSnapshot
        var work: JobWork?
        var task: Task<Void, Never>?
        var subscribers: [UUID: (continuation: AsyncStream<JobEvent>.Continuation, gate: CoalescingGate)] = [:]
        /// The live view's rows, for a scan that asked for one.
        var live: LiveRowsBuffer?
        /// The job has ended and waits for its last journal line to be on disk before it shows so.
        var ending = false
        /// The journal line that recorded the job as accepted.
        var acceptedLine: JobJournal.Ticket?
    }

    private var records: [String: Record] = [:]
    /// Finished job ids, oldest first, for forgetting.
    private var finishedOrder: [String] = []
    /// Per device: the running job (if any) and the queue behind it.
    private var lanes: [String: (running: String?, queue: [String])] = [:]
    private var subscriberCount = 0
    private let limits: HubLimits
    private let observer: any DeviceHubObserver

    private let journal: JobJournal?

    /// A job manager within `limits`, telling `observer` of jobs starting and ending, and writing each job to
    /// `journal` as it is accepted, starts and ends (the jobs the journal recovered are known from the start).
    public init(limits: HubLimits = HubLimits(), observer: any DeviceHubObserver = IgnoringObserver(), journal: JobJournal? = nil) {
        self.limits = limits
        self.observer = observer
        self.journal = journal
        for job in journal?.recoveredJobs ?? [] {
            records[job.id] = Record(snapshot: job)
            finishedOrder.append(job.id)
        }
    }

    /// Creates a job; runs it now if the device is free, queues it if asked, else 409 `device_busy`.
    /// `liveRows` keeps a live view of the rows the work reports (`JobReporter.rows`) for `rows` events. A job not
    /// `onLane` runs at once beside whatever holds the device (a photo from a running preview, which the preview's own
    /// stream serializes).
    public func submit(
        kind: JobKind, device: String, queue: Bool, liveRows: Bool = false, onLane: Bool = true,
        work: @escaping JobWork
    ) async throws(DeviceHubError) -> JobSnapshot {
        let id = try accept(kind: kind, device: device, queue: queue, liveRows: liveRows, onLane: onLane, work: work)
        // Answered as accepted once its line is on disk (meanwhile the actor serves others: the disk holds up only
        // this caller), so that after a power cut the job is known.
        if let journal, let ticket = records[id]?.acceptedLine { await journal.synced(ticket) }
        return records[id]?.snapshot ?? JobSnapshot(id: id, kind: kind, device: device, state: .queued, createdAt: Date(), pages: 0, attachments: [])
    }

    /// Takes a job on: queued on its device's lane (started at once when the device is free); its id.
    private func accept(
        kind: JobKind, device: String, queue: Bool, liveRows: Bool, onLane: Bool, work: @escaping JobWork
    ) throws(DeviceHubError) -> String {
        guard onLane else {
            let id = UUID().uuidString.lowercased()
            records[id] = Record(
                snapshot: JobSnapshot(
                    id: id, kind: kind, device: device, state: .queued, createdAt: Date(), pages: 0,
                    attachments: []), work: work, live: liveRows ? LiveRowsBuffer() : nil)
            records[id]!.acceptedLine = journal?.record(records[id]!.snapshot)
            start(id)
            return id
        }
        var lane = lanes[device] ?? (nil, [])
        if lane.running != nil {
            guard queue else {
                throw DeviceHubError(.deviceBusy, "\(device) is busy with job \(lane.running!); retry when it ends, or queue the request (?queue=true)")
            }
            guard lane.queue.count < limits.maxQueuedJobsPerDevice else {
                throw DeviceHubError(
                    .queueFull,
                    "\(lane.queue.count) jobs already wait for \(device) (limit \(limits.maxQueuedJobsPerDevice))")
            }
        }
        let id = UUID().uuidString.lowercased()
        let snapshot = JobSnapshot(id: id, kind: kind, device: device, state: .queued, createdAt: Date(), pages: 0, attachments: [])
        records[id] = Record(snapshot: snapshot, work: work, live: liveRows ? LiveRowsBuffer() : nil)
        records[id]!.acceptedLine = journal?.record(snapshot)
        if lane.running == nil {
            lane.running = id
            lanes[device] = lane
            start(id)
        } else {
            lane.queue.append(id)
            lanes[device] = lane
        }
        return id
    }

    /// A job as it is now.
    public func job(_ id: String) throws(DeviceHubError) -> JobSnapshot {
        guard let record = records[id] else { throw DeviceHubError(.jobNotFound, "no job \(id)") }
        return record.snapshot
    }

    /// All jobs known, newest first.
    public func jobs() -> [JobSnapshot] {
        records.values.map(\.snapshot).sorted { $0.createdAt > $1.createdAt }
    }

    /// Holds a device for a short exclusive task that is not a job (reading its options).
    /// Returns false when the device is busy.
    public func reserve(_ device: String) -> Bool {
        guard lanes[device]?.running == nil else { return false }
        lanes[device] = (Self.reservation, lanes[device]?.queue ?? [])
        return true
    }

    /// Releases a reservation and starts the next queued job.
    public func release(_ device: String) {
        guard var lane = lanes[device], lane.running == Self.reservation else { return }
        lane.running = nil
        lanes[device] = lane
        startNext(on: device)
    }

    private static let reservation = "(reading options)"

    /// Whether a job runs on the device now.
    public func isBusy(_ device: String) -> Bool { lanes[device]?.running != nil }

    /// The devices a job (or an options read) holds now: one actor hop for a whole device list.
    public func busyDevices() -> Set<String> { Set(lanes.compactMap { $0.value.running == nil ? nil : $0.key }) }

    /// Cancels a queued job (it ends cancelled at once) or asks a running one to stop (it is `cancelling` until its device
    /// is released, then ends). Idempotent: a job being cancelled or already ended is returned as it is.
    public func cancel(_ id: String) throws(DeviceHubError) -> JobSnapshot {
        guard var record = records[id] else { throw DeviceHubError(.jobNotFound, "no job \(id)") }
        switch record.snapshot.state {
        case .queued:
            let device = record.snapshot.device
            lanes[device]?.queue.removeAll { $0 == id }
            record.work = nil
            records[id] = record
            if let ended = finish(id, .failure(JobError(.cancelled, "cancelled before it started"))) { return ended }
        case .running:
            record.task?.cancel()
            record.snapshot.state = .cancelling
            records[id] = record
            broadcast(id, .state)
        case .cancelling, .completed, .failed, .cancelled:
            break
        }
        return records[id]!.snapshot
    }

    /// A stream of the job's events: first its current state, then what happens, ending after the final event.
    public func subscribe(_ id: String) throws(DeviceHubError) -> JobEvents {
        guard let record = records[id] else { throw DeviceHubError(.jobNotFound, "no job \(id)") }
        guard subscriberCount < limits.maxEventSubscribers else {
            throw DeviceHubError(
                .tooManySubscribers,
                "\(subscriberCount) event streams are open (limit \(limits.maxEventSubscribers))")
        }
        // Unbounded, because what a subscriber's queue holds is bounded by the job: progress and rows coalesce (the gate
        // queues one of each at a time), and what remains (state changes, one `page` event a page, the end) carries data
        // a slow reader must not lose.
        let (stream, continuation) = AsyncStream<JobEvent>.makeStream(bufferingPolicy: .unbounded)
        let gate = CoalescingGate()
        continuation.yield(JobEvent(name: .state, job: record.snapshot))
        if record.snapshot.state.isFinished {
            // A late subscriber gets the final event a live one got.
            continuation.yield(JobEvent(name: JobEvent.Name(final: record.snapshot.state), job: record.snapshot))
            continuation.finish()
            return JobEvents(base: stream, live: record.live, gate: gate)
        }
        let token = UUID()
        subscriberCount += 1
        records[id]!.subscribers[token] = (continuation, gate)
        continuation.onTermination = { _ in Task { await self.unsubscribe(id, token) } }
        return JobEvents(base: stream, live: record.live, gate: gate)
    }

    /// Waits until the job has finished and returns it.
    public func waitUntilFinished(_ id: String) async throws(DeviceHubError) -> JobSnapshot {
        for await event in try subscribe(id) where event.isFinal || event.job.state.isFinished {
            return event.job
        }
        return try job(id)
    }

    /// Cancels everything (service shutdown) and waits for running work to end.
    public func shutdown() async {
        let running = records.values.compactMap(\.task)
        for id in records.keys where records[id]?.snapshot.state == .queued { _ = try? cancel(id) }
        for task in running { task.cancel() }
        for task in running { await task.value }
    }

    private func unsubscribe(_ id: String, _ token: UUID) {
        if records[id]?.subscribers.removeValue(forKey: token) != nil { subscriberCount -= 1 }
    }

    private func start(_ id: String) {
        guard var record = records[id], let work = record.work else { return }
        record.work = nil
        record.snapshot.state = .running
        record.snapshot.startedAt = Date()
        records[id] = record
        journal?.record(record.snapshot)
        broadcast(id, .state)
        observer.jobStarted(records[id]!.snapshot)
        let updates = PendingUpdates()
        let reporter = JobReporter(yield: { updates.post($0) }, live: record.live)
        records[id]!.task = Task {
            async let forwarded: Void = {
                for await _ in updates.rings {
                    for update in updates.take() { await self.apply(id, update) }
                }
                for update in updates.take() { await self.apply(id, update) }
            }()
            let result: Result<JobOutcome, JobError>
            do throws(JobError) {
                result = .success(try await work(reporter))
            } catch {
                result = .failure(error)
            }
            updates.close()
            await forwarded
            self.finish(id, result)
        }
    }

    private func apply(_ id: String, _ update: JobUpdate) {
        guard var record = records[id], record.snapshot.state == .running || record.snapshot.state == .cancelling else { return }
        switch update {
        case .progress(let progress):
            // One `page` event per page, when it is done (the work reports `pagesDone` as each page ends).
            let before = record.snapshot.pages
            let done = max(before, progress.pagesDone ?? before)
            record.snapshot.progress = progress
            for page in before..<done {
                record.snapshot.pages = page + 1
                records[id] = record
                broadcast(id, .page)
            }
            records[id] = record
            broadcast(id, .progress)
        case .settings(let settings):
            record.snapshot.settings = settings
            records[id] = record
        case .attachment(let manifest):
            if !record.snapshot.attachments.contains(where: { $0.id == manifest.id }) { record.snapshot.attachments.append(manifest) }
            records[id] = record
        case .rows:
            broadcast(id, .rows)
        }
    }

    /// Ends a job: its final state goes to the journal, and is shown (to `job(_:)`, to subscribers as the final event)
    /// once that line is on disk, the actor serving others meanwhile; returns the job as it ended.
    @discardableResult
    private func finish(_ id: String, _ result: Result<JobOutcome, JobError>) -> JobSnapshot? {
        guard var record = records[id], !record.snapshot.state.isFinished, !record.ending else { return nil }
        records[id]!.ending = true
        record.snapshot.finishedAt = Date()
        let event: JobEvent.Name
        switch result {
        case .success(let outcome):
            // Pages the work did not announce one by one (a photo; a PDF's pages) get their `page` events now.
            for page in record.snapshot.pages..<max(record.snapshot.pages, outcome.pages) {
                records[id]!.snapshot.pages = page + 1
                broadcast(id, .page)
            }
            record.snapshot.state = .completed
            record.snapshot.pages = outcome.pages
            record.snapshot.settings = outcome.settings
            record.snapshot.attachments = outcome.attachments
            event = .completed
        case .failure(let error):
            record.snapshot.state = error.code == .cancelled ? .cancelled : .failed
            record.snapshot.error = error
            // A cancelled capture stores nothing (the scanner deletes the pages it had kept); a failed one keeps them.
            if error.code == .cancelled { record.snapshot.attachments = [] }
            event = JobEvent.Name(final: record.snapshot.state)
        }
        let ended = record.snapshot
        guard let journal else {
            publishEnd(id, ended, event)
            return ended
        }
        let line = journal.record(ended)
        Task {
            await journal.synced(line)
            publishEnd(id, ended, event)
        }
        return ended
    }

    /// Shows a job's end: its final state, the final event to every subscriber (then their streams end), its device to
    /// the next job.
    private func publishEnd(_ id: String, _ ended: JobSnapshot, _ event: JobEvent.Name) {
        guard var record = records[id] else { return }
        record.snapshot = ended
        record.task = nil
        // Subscribers hold the live view until they have drained it; the job record lets go of it now.
        record.live = nil
        records[id] = record
        observer.jobEnded(ended)
        broadcast(id, event)
        for subscriber in records[id]!.subscribers.values { subscriber.continuation.finish() }
        subscriberCount -= records[id]!.subscribers.count
        records[id]!.subscribers = [:]
        finishedOrder.append(id)
        while finishedOrder.count > limits.retainedJobs { records.removeValue(forKey: finishedOrder.removeFirst()) }

        let device = ended.device
        guard var lane = lanes[device], lane.running == id else { return }
        lane.running = nil
        lanes[device] = lane
        startNext(on: device)
    }

    /// Starts the first job still queued for a free device.
    private func startNext(on device: String) {
        guard var lane = lanes[device], lane.running == nil else { return }
        while !lane.queue.isEmpty, lane.running == nil {
            let next = lane.queue.removeFirst()
            if records[next]?.snapshot.state == .queued { lane.running = next }
        }
        lanes[device] = lane.running == nil && lane.queue.isEmpty ? nil : lane
        if let next = lane.running { start(next) }
    }

    private func broadcast(_ id: String, _ name: JobEvent.Name) {
        guard let record = records[id] else { return }
        let event = JobEvent(name: name, job: record.snapshot)
        for subscriber in record.subscribers.values where subscriber.gate.admit(name) { subscriber.continuation.yield(event) }
    }
}
