import Attachments
import Foundation

/// What a job captures.
public enum JobKind: String, Sendable, Codable, CaseIterable {
    /// What a job captures.
    case scan, photo, signature
}

/// Where a job is in its life.
public enum JobState: String, Sendable, Codable, CaseIterable {
    /// Where a job is: waiting for its device, running, being cancelled (asked to stop, its device not yet released),
    /// or ended one of three ways.
    case queued, running, cancelling, completed, failed, cancelled

    /// Whether the job has ended (nothing more will happen to it).
    public var isFinished: Bool { self == .completed || self == .failed || self == .cancelled }
}

/// How far a running job has got.
public struct JobProgress: Sendable, Codable, Equatable {
    /// The page being captured (1-based; a photo is one page).
    public var page: Int
    /// Bytes received from the device so far.
    public var bytesReceived: Int
    /// Lines (rows) done on this page.
    public var linesDone: Int
    /// Lines expected on this page, when the device knows.
    public var linesExpected: Int?
    /// 0…1 on this page, when known.
    public var fraction: Double?
    /// A photo's step: `opening`, `streaming` (warming up) or `saving`.
    public var stage: String?
    /// Frames a camera has delivered so far (warm-up frames included).
    public var framesReceived: Int?
    /// Pages finished so far.
    public var pagesDone: Int?
    /// Pages the job will have, when known (1 on a flatbed, `maxPages` from a feeder).
    public var pagesExpected: Int?

    /// Creates a progress report.
    public init(page: Int, bytesReceived: Int, linesDone: Int, linesExpected: Int?, fraction: Double?,
                stage: String? = nil, framesReceived: Int? = nil, pagesDone: Int? = nil, pagesExpected: Int? = nil) {
        self.page = page
        self.bytesReceived = bytesReceived
        self.linesDone = linesDone
        self.linesExpected = linesExpected
        self.fraction = fraction
        self.stage = stage
        self.framesReceived = framesReceived
        self.pagesDone = pagesDone
        self.pagesExpected = pagesExpected
    }

    /// 0…1 of the whole job, when its page count is known: the pages done plus this page's fraction.
    public var jobFraction: Double? {
        guard let expected = pagesExpected, expected > 0 else { return nil }
        // Once this page is among the pages done, its own fraction is already counted.
        let partial = (pagesDone ?? 0) >= page ? 0 : (fraction ?? 0)
        return min(1, (Double(pagesDone ?? 0) + partial) / Double(expected))
    }

    private enum CodingKeys: String, CodingKey {
        case page, bytesReceived, linesDone, linesExpected, fraction, stage, framesReceived, pagesDone, pagesExpected, jobFraction
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(page: try container.decode(Int.self, forKey: .page), bytesReceived: try container.decode(Int.self, forKey: .bytesReceived),
                  linesDone: try container.decode(Int.self, forKey: .linesDone),
                  linesExpected: try container.decodeIfPresent(Int.self, forKey: .linesExpected),
                  fraction: try container.decodeIfPresent(Double.self, forKey: .fraction),
                  stage: try container.decodeIfPresent(String.self, forKey: .stage),
                  framesReceived: try container.decodeIfPresent(Int.self, forKey: .framesReceived),
                  pagesDone: try container.decodeIfPresent(Int.self, forKey: .pagesDone),
                  pagesExpected: try container.decodeIfPresent(Int.self, forKey: .pagesExpected))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(page, forKey: .page)
        try container.encode(bytesReceived, forKey: .bytesReceived)
        try container.encode(linesDone, forKey: .linesDone)
        try container.encodeIfPresent(linesExpected, forKey: .linesExpected)
        try container.encodeIfPresent(fraction, forKey: .fraction)
        try container.encodeIfPresent(stage, forKey: .stage)
        try container.encodeIfPresent(framesReceived, forKey: .framesReceived)
        try container.encodeIfPresent(pagesDone, forKey: .pagesDone)
        try container.encodeIfPresent(pagesExpected, forKey: .pagesExpected)
        try container.encodeIfPresent(jobFraction, forKey: .jobFraction)
    }
}

/// A job failure as the API reports it.
public struct JobError: Sendable, Codable, Equatable, Error {
    /// The stable code (the scanning, camera or pad error code).
    public var code: ErrorCode
    /// A message for people.
    public var message: String

    /// Creates a failure.
    public init(code: ErrorCode, message: String) {
        self.code = code
        self.message = message
    }
}

/// A job as the API shows it.
public struct JobSnapshot: Sendable, Codable, Equatable {
    /// The job's id (a UUID).
    public var id: String
    /// Scan or photo.
    public var kind: JobKind
    /// The device the job runs on.
    public var device: String
    /// Queued, running, or how it ended.
    public var state: JobState
    /// When the request was accepted.
    public var createdAt: Date
    /// When its device was opened.
    public var startedAt: Date?
    /// When it ended.
    public var finishedAt: Date?
    /// The latest progress while running.
    public var progress: JobProgress?
    /// Pages finished so far.
    public var pages: Int
    /// The settings the device actually used (after normalization), once known.
    public var settings: [String: String]?
    /// The attachments made: a feeder scan's image pages each as it is stored (so a failed or running job lists the
    /// pages it kept), every attachment once completed.
    public var attachments: [AttachmentManifest]
    /// Why it failed or was cancelled.
    public var error: JobError?

    /// A job as the API shows it (the job manager makes these; fakes and tests may too).
    public init(id: String, kind: JobKind, device: String, state: JobState, createdAt: Date, startedAt: Date? = nil,
                finishedAt: Date? = nil, progress: JobProgress? = nil, pages: Int, settings: [String: String]? = nil,
                attachments: [AttachmentManifest], error: JobError? = nil) {
        self.id = id
        self.kind = kind
        self.device = device
        self.state = state
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.progress = progress
        self.pages = pages
        self.settings = settings
        self.attachments = attachments
        self.error = error
    }
}

/// One server-sent event of a job.
public struct JobEvent: Sendable, Equatable {
    /// Event names on the stream.
    public enum Name: String, Sendable, CaseIterable {
        /// The job as it is now: the first event every subscriber gets.
        case state
        /// The job moved on (pages, lines, frames).
        case progress
        /// A page has been captured (`data.pages`).
        case page
        /// Rows of a scan's live view (`rows`): only for scans that ask for one.
        case rows
        /// The job ended; the last event of a stream.
        case completed, failed, cancelled
    }

    /// The event's name, as sent in the `event:` line.
    public var name: Name
    /// The job at the time of the event.
    public var job: JobSnapshot
    /// The band of a `rows` event.
    public var rows: LiveRowsEvent?

    /// Whether this event ends the stream.
    public var isFinal: Bool { name == .completed || name == .failed || name == .cancelled }

    /// Creates an event.
    public init(name: Name, job: JobSnapshot, rows: LiveRowsEvent? = nil) {
        self.name = name
        self.job = job
        self.rows = rows
    }
}

extension JobEvent.Name {
    /// The final event of a job that ended in `state`.
    init(final state: JobState) {
        self = switch state {
        case .completed: .completed
        case .cancelled: .cancelled
        default: .failed
        }
    }
}
