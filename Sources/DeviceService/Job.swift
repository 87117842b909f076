import Attachments
import Foundation

/// What a job captures.
public enum JobKind: String, Sendable, Codable, CaseIterable {
    case scan, photo, signature
}

/// Where a job is in its life.
public enum JobState: String, Sendable, Codable, CaseIterable {
    case queued, running, completed, failed, cancelled

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

    /// Creates a progress report.
    public init(page: Int, bytesReceived: Int, linesDone: Int, linesExpected: Int?, fraction: Double?,
                stage: String? = nil, framesReceived: Int? = nil) {
        self.page = page
        self.bytesReceived = bytesReceived
        self.linesDone = linesDone
        self.linesExpected = linesExpected
        self.fraction = fraction
        self.stage = stage
        self.framesReceived = framesReceived
    }
}

/// A job failure as the API reports it.
public struct JobError: Sendable, Codable, Equatable, Error {
    /// The stable code (the scanning, camera or pad error code).
    public var code: String
    /// A message for people.
    public var message: String

    /// Creates a failure.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// A job as the API shows it.
public struct JobSnapshot: Sendable, Codable, Equatable {
    public var id: String
    public var kind: JobKind
    /// The device the job runs on.
    public var device: String
    public var state: JobState
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The latest progress while running.
    public var progress: JobProgress?
    /// Pages finished so far.
    public var pages: Int
    /// The settings the device actually used (after normalization), once known.
    public var settings: [String: String]?
    /// The attachments made, once completed.
    public var attachments: [AttachmentManifest]
    /// Why it failed or was cancelled.
    public var error: JobError?
}

/// One server-sent event of a job.
public struct JobEvent: Sendable, Equatable {
    /// Event names on the stream.
    public enum Name: String, Sendable, CaseIterable {
        /// The job as it is now: the first event every subscriber gets.
        case state
        case progress
        /// A page has been captured (`data.pages`).
        case page
        case completed, failed, cancelled
    }

    public var name: Name
    /// The job at the time of the event.
    public var job: JobSnapshot

    /// Whether this event ends the stream.
    public var isFinal: Bool { name == .completed || name == .failed || name == .cancelled }
}
