import Foundation

/// How far a capture has got: a scan's pages and lines, a photo's stage and frames. Scanners and cameras report it,
/// and a job shows the latest (`JobSnapshot.progress`); the same value travels all the way, never copied into another type.
public struct CaptureProgress: Sendable, Codable, Equatable {
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
    public init(
        page: Int, bytesReceived: Int, linesDone: Int, linesExpected: Int?, fraction: Double?,
        stage: String? = nil, framesReceived: Int? = nil, pagesDone: Int? = nil, pagesExpected: Int? = nil
    ) {
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

    /// A photo's progress: its step (`opening`, `streaming` while the camera settles, `saving`) and the frames so far.
    public static func photo(stage: String, framesReceived: Int) -> CaptureProgress {
        CaptureProgress(page: 1, bytesReceived: 0, linesDone: 0, linesExpected: nil, fraction: nil, stage: stage, framesReceived: framesReceived)
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
        self.init(
            page: try container.decode(Int.self, forKey: .page), bytesReceived: try container.decode(Int.self, forKey: .bytesReceived),
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
