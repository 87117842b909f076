import Attachments
import Cameras
import DocumentImaging
import Foundation
import Scanning

/// A capture to run as a job (``DeviceHub/submit(_:queue:)``): a scan or a photo, through the document stages (find and
/// flatten the page, clean, colour, blank pages, size limit) when `document` is given.
public enum JobRequest: Sendable {
    /// A scan.
    case scan(ScanRequest, document: DocumentOptions? = nil)
    /// A photo.
    case photo(PhotoRequest, document: DocumentOptions? = nil)
}

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

/// A job's failure: the `CounterKitError` its device or the hub raised, unchanged (the API shows its code and message).
public typealias JobError = CounterKitError

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
    public var progress: CaptureProgress?
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
    public init(
        id: String, kind: JobKind, device: String, state: JobState, createdAt: Date, startedAt: Date? = nil,
        finishedAt: Date? = nil, progress: CaptureProgress? = nil, pages: Int, settings: [String: String]? = nil,
        attachments: [AttachmentManifest], error: JobError? = nil
    ) {
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
        self =
            switch state {
            case .completed: .completed
            case .cancelled: .cancelled
            default: .failed
            }
    }
}
