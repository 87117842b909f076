import Attachments
import Foundation
import Synchronization
import SystemPackage

/// Jobs and signature sessions written down as they are accepted and as they end, so that after a restart (a crash,
/// a power cut) counter software polling a job learns what became of it instead of getting `job_not_found`.
///
/// The journal is one file of JSON lines (`journal/jobs.jsonl` in the spool), each line the whole job or session as
/// the API shows it. Lines are written by a thread of the journal's own and synced in groups (one fdatasync for all the
/// lines recorded meanwhile), so a slow disk delays only the callers that wait for their line (`synced(_:)`): a job
/// is answered as accepted, and shown ended, once its line is on disk. Opening it recovers: the last line of
/// each id wins, a torn last line (the power went mid-write) is ignored, and a job or session that had not ended is
/// reported `failed` with code `interrupted`. It is then compacted (bounded by count and age) into a new file,
/// written aside and renamed into place, so a cut during compaction leaves the old file whole.
public final class JobJournal: Sendable {
    /// How much of the past the journal keeps.
    public struct Policy: Sendable, Equatable {
        /// The most jobs and sessions kept (the newest).
        public var maxEntries: Int
        /// How long an ended job or session is kept, in seconds.
        public var maxAge: TimeInterval

        /// A policy; by default 500 entries and 7 days.
        public init(maxEntries: Int = 500, maxAge: TimeInterval = 7 * 24 * 3600) {
            self.maxEntries = maxEntries
            self.maxAge = maxAge
        }
    }

    /// One line of the journal.
    private struct Line: Codable {
        var job: JobSnapshot?
        var session: SignatureSessionSnapshot?
    }

    /// The journal file.
    public let path: String
    /// What the journal held when it was opened: ended jobs and sessions (oldest first), those in flight then
    /// marked `interrupted`.
    public let recoveredJobs: [JobSnapshot]
    /// Signature sessions recovered the same way.
    public let recoveredSessions: [SignatureSessionSnapshot]
    private let writer: GroupWriter

    /// Opens (creating) the journal in `directory`, recovers and compacts it.
    public init(directory: URL, policy: Policy = Policy(), now: Date = Date()) throws(DeviceHubError) {
        path = directory.appendingPathComponent("jobs.jsonl").path
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw DeviceHubError(.ioError, "cannot create the job journal's directory \(directory.path): \(error.localizedDescription)")
        }
        var jobs: [String: JobSnapshot] = [:], sessions: [String: SignatureSessionSnapshot] = [:]
        var order: [String] = []
        let decoder = AttachmentManifest.makeDecoder()
        if let data = FileManager.default.contents(atPath: path) {
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let entry = try? decoder.decode(Line.self, from: Data(line)) else { continue }  // a torn line
                if let job = entry.job {
                    if jobs[job.id] == nil && sessions[job.id] == nil { order.append(job.id) }
                    jobs[job.id] = job
                } else if let session = entry.session {
                    if jobs[session.id] == nil && sessions[session.id] == nil { order.append(session.id) }
                    sessions[session.id] = session
                }
            }
        }
        let interrupted = "the service stopped (a restart, a crash or a power cut) before this ended; nothing it was making was kept"
        for (id, job) in jobs where !job.state.isFinished {
            jobs[id]?.state = .failed
            jobs[id]?.finishedAt = now
            jobs[id]?.error = JobError(.interrupted, interrupted)
        }
        for (id, session) in sessions where session.state == .capturing {
            sessions[id]?.state = .failed
            sessions[id]?.finishedAt = now
            sessions[id]?.error = JobError(.interrupted, interrupted)
        }
        // Compaction: the newest entries within the age limit.
        let oldest = now.addingTimeInterval(-policy.maxAge)
        let kept = order.filter { id in
            let ended = jobs[id]?.finishedAt ?? sessions[id]?.finishedAt ?? now
            return ended >= oldest
        }.suffix(policy.maxEntries)
        recoveredJobs = kept.compactMap { jobs[$0] }
        recoveredSessions = kept.compactMap { sessions[$0] }
        let encoder = Self.encoder
        var compacted = Data()
        for id in kept {
            let line = Line(job: jobs[id], session: sessions[id])
            if let bytes = try? encoder.encode(line) { compacted += bytes + Data("\n".utf8) }
        }
        let journalPath = path
        try Self.replace(journalPath, with: compacted)
        let descriptor = try systemCall(.ioError, "cannot open the job journal \(journalPath)") {
            try FileDescriptor.openClosingOnExec(journalPath, .writeOnly, options: .append)
        }
        writer = GroupWriter(descriptor: descriptor)
    }

    deinit { writer.stop() }

    /// Records a job as it is now (accepted, started, ended); `synced(_:)` with the returned ticket waits until the
    /// line is on disk.
    @discardableResult
    public func record(_ job: JobSnapshot) -> Ticket { append(Line(job: job)) }

    /// Records a signature session as it is now (its samples left out).
    @discardableResult
    public func record(_ session: SignatureSessionSnapshot) -> Ticket {
        var session = session
        session.sampleData = nil
        return append(Line(session: session))
    }

    /// A recorded line's place in the journal.
    public struct Ticket: Sendable, Comparable {
        let number: UInt64
        public static func < (left: Ticket, right: Ticket) -> Bool { left.number < right.number }
    }

    /// Returns once the line of `ticket` (and every line before it) is on disk.
    public func synced(_ ticket: Ticket) async { await writer.synced(ticket.number) }

    private static var encoder: JSONEncoder {
        let encoder = AttachmentManifest.makeEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    private func append(_ line: Line) -> Ticket {
        guard let bytes = try? Self.encoder.encode(line) else { return Ticket(number: 0) }
        return Ticket(number: writer.append([UInt8](bytes) + [UInt8(ascii: "\n")]))
    }

    /// Replaces the journal with `data`: written aside, synced, renamed into place, the directory synced.
    private static func replace(_ path: String, with data: Data) throws(DeviceHubError) {
        let replaced = data.withUnsafeBytes { bytes in
            Result { () throws(Errno) in try replaceFile(at: path, with: bytes, permissions: [.ownerReadWrite, .groupRead]) }
        }
        do throws(Errno) { try replaced.get() } catch { throw DeviceHubError(.ioError, "cannot compact the job journal \(path)", error) }
    }
}

/// The journal's writer: lines queue in memory, and its thread writes all that queued meanwhile in one `write` (whole
/// lines, O_APPEND: a cut leaves at most a torn last line) and one `fdatasync`, then wakes those waiting for them.
private final class GroupWriter: @unchecked Sendable {
    private let descriptor: FileDescriptor
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var queued: [UInt8] = []
    private var appended: UInt64 = 0
    private var synced: UInt64 = 0
    private var waiters: [(number: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    private var stopping = false
    private var stopped = false

    init(descriptor: FileDescriptor) {
        self.descriptor = descriptor
        BlockingCalls.shared.start(named: "counterkit-journal") { [self] in run() }
    }

    /// Queues a line; its number.
    func append(_ line: [UInt8]) -> UInt64 {
        condition.withLock {
            queued += line
            appended += 1
            condition.signal()
            return appended
        }
    }

    /// Waits until line `number` is on disk.
    func synced(_ number: UInt64) async {
        await withCheckedContinuation { continuation in
            let ready = condition.withLock {
                guard synced < number, !stopped else { return true }
                waiters.append((number, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Writes what is queued, then ends the thread and closes the file.
    func stop() {
        condition.withLock {
            stopping = true
            condition.signal()
            while !stopped { condition.wait() }
        }
    }

    private func run() {
        while true {
            condition.lock()
            while queued.isEmpty && !stopping { condition.wait() }
            let batch = queued, last = appended, ending = stopping && queued.isEmpty
            queued = []
            condition.unlock()
            if ending { break }
            // A failed write leaves the lines out of the journal (the jobs go on; the log says so at the next start,
            // when the journal finds the gap), never a torn line in the middle: O_APPEND, one write per batch.
            _ = try? batch.withUnsafeBytes { try descriptor.writeAll($0) }
            try? descriptor.syncData()
            let woken = condition.withLock {
                synced = last
                let ready = waiters.filter { $0.number <= last }
                waiters.removeAll { $0.number <= last }
                return ready
            }
            for waiter in woken { waiter.continuation.resume() }
        }
        try? descriptor.close()
        let left = condition.withLock {
            stopped = true
            condition.broadcast()
            defer { waiters = [] }
            return waiters
        }
        for waiter in left { waiter.continuation.resume() }
    }
}
