import DeviceHub
import Foundation
import Prometheus

/// The service's Prometheus metrics: jobs by kind and outcome, their durations, devices present, camera previews.
final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let active: Gauge
    private let previewsRunning: Gauge
    private let previewFrames: Counter

    init() {
        active = registry.makeGauge(
            descriptor: .init(
                namespace: "counterkit", metricName: "jobs_running", unitName: "",
                helpText: "Jobs running now"))
        previewsRunning = registry.makeGauge(
            descriptor: .init(
                namespace: "counterkit", metricName: "previews_running", unitName: "",
                helpText: "Cameras streaming a preview now"))
        previewFrames = registry.makeCounter(
            descriptor: .init(
                namespace: "counterkit", metricName: "preview_frames", unitName: "total",
                helpText: "Frames taken from cameras by previews that have ended"))
        // Every kind and outcome from the start, so dashboards see zeros rather than missing series.
        for kind in JobKind.allCases {
            for outcome in [JobState.completed, .failed, .cancelled] { _ = jobsCounter(kind, outcome) }
            _ = durationHistogram(kind)
        }
        for kind in DeviceKind.allCases { _ = devicesGauge(kind) }
        for outcome in ["ended", "failed"] { _ = previewsCounter(outcome) }
    }

    /// A camera began streaming a preview.
    func previewStarted() { previewsRunning.increment() }

    /// A camera's preview stream stopped after `frames` frames, on its own (`failed`: the camera failed).
    func previewEnded(frames: Int, failed: Bool) {
        previewsRunning.decrement()
        previewsCounter(failed ? "failed" : "ended").increment()
        previewFrames.increment(by: Int64(max(frames, 0)))
    }

    func jobStarted(_ job: JobSnapshot) { active.increment() }

    func jobEnded(_ job: JobSnapshot) {
        record(job.kind, job.state, seconds: job.startedAt.map { (job.finishedAt ?? Date()).timeIntervalSince($0) })
    }

    func sessionStarted(_ session: SignatureSessionSnapshot) { active.increment() }

    func sessionEnded(_ session: SignatureSessionSnapshot) {
        let outcome: JobState =
            switch session.state {
            case .finished: .completed;
            case .failed: .failed;
            default: .cancelled
            }
        record(.signature, outcome, seconds: (session.finishedAt ?? Date()).timeIntervalSince(session.createdAt))
    }

    /// Counts a finished job; `seconds` is nil for a job cancelled before it ran.
    private func record(_ kind: JobKind, _ outcome: JobState, seconds: Double?) {
        jobsCounter(kind, outcome).increment()
        if let seconds {
            active.decrement()
            durationHistogram(kind).record(.nanoseconds(Int64(seconds * 1e9)))
        }
    }

    /// Sets how many devices of a kind are present.
    func devicesPresent(_ kind: DeviceKind, _ count: Int) { devicesGauge(kind).set(Double(count)) }

    /// The Prometheus text exposition.
    func render() -> [UInt8] { registry.emitToBuffer() }

    private func jobsCounter(_ kind: JobKind, _ outcome: JobState) -> Counter {
        registry.makeCounter(
            descriptor: .init(
                namespace: "counterkit", metricName: "jobs", unitName: "total",
                helpText: "Finished jobs by kind and outcome"),
            labels: [("kind", kind.rawValue), ("outcome", outcome.rawValue)])
    }

    private func durationHistogram(_ kind: JobKind) -> DurationHistogram {
        registry.makeDurationHistogram(
            descriptor: .init(
                namespace: "counterkit", metricName: "job_duration", unitName: "seconds",
                helpText: "Time from a job's start to its end"),
            labels: [("kind", kind.rawValue)],
            buckets: [
                .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
                .seconds(30), .seconds(60), .seconds(120),
            ])
    }

    private func previewsCounter(_ outcome: String) -> Counter {
        registry.makeCounter(
            descriptor: .init(
                namespace: "counterkit", metricName: "previews", unitName: "total",
                helpText: "Preview streams that have stopped, by outcome"),
            labels: [("outcome", outcome)])
    }

    private func devicesGauge(_ kind: DeviceKind) -> Gauge {
        registry.makeGauge(
            descriptor: .init(
                namespace: "counterkit", metricName: "devices_present", unitName: "",
                helpText: "Devices found at the last discovery"),
            labels: [("kind", kind.rawValue)])
    }
}
