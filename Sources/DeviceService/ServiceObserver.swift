import Cameras
import DeviceHub
import Foundation
import Logging

/// What the service makes of its hub's work: the Prometheus metrics, and a log line for each job and signature session
/// that starts and ends (device, settings, outcome, code, duration) and each device that arrives or leaves, so that a
/// technician reading the log at `info` sees what the counter did, not only who called.
struct ServiceObserver: DeviceHubObserver {
    let metrics: ServiceMetrics
    let logger: Logger

    func jobStarted(_ job: JobSnapshot) {
        metrics.jobStarted(job)
        logger.info("job \(job.id) started: \(job.kind.rawValue) on \(job.device)")
    }

    func jobEnded(_ job: JobSnapshot) {
        metrics.jobEnded(job)
        let seconds = job.startedAt.map { String(format: "%.1f s", (job.finishedAt ?? Date()).timeIntervalSince($0)) } ?? "before it started"
        let settings = (job.settings ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        var line = "job \(job.id) \(job.state.rawValue): \(job.kind.rawValue) on \(job.device), \(job.pages) page(s), \(seconds)"
        if let error = job.error { line += ", \(error.code.rawValue): \(error.message)" }
        if !settings.isEmpty { line += "; \(settings)" }
        switch job.state {
        case .completed: logger.info("\(line)")
        case .cancelled: logger.notice("\(line)")
        default: logger.warning("\(line)")  // a jam, a cover open, a timeout: what a technician looks for
        }
    }

    func sessionStarted(_ session: SignatureSessionSnapshot) {
        metrics.sessionStarted(session)
        logger.info("signature session \(session.id) started on \(session.device) (\(session.pad.model))")
    }

    func sessionEnded(_ session: SignatureSessionSnapshot) {
        metrics.sessionEnded(session)
        let seconds = String(format: "%.1f s", (session.finishedAt ?? Date()).timeIntervalSince(session.createdAt))
        var line =
            "signature session \(session.id) \(session.state.rawValue) on \(session.device): \(session.samples) samples, "
            + "\(session.lostReports) lost report(s), \(session.attachments.count) attachment(s), \(seconds)"
        if let error = session.error { line += ", \(error.code.rawValue): \(error.message)" }
        if session.state == .failed { logger.warning("\(line)") } else { logger.info("\(line)") }
    }

    func devicesChanged(_ changes: [DeviceChange]) {
        for change in changes {
            let device = change.device
            logger.info("device \(change.event.rawValue): \(device.kind.rawValue) \(device.id) (\(device.vendor) \(device.model))")
        }
    }

    func devicesPresent(_ kind: DeviceKind, _ count: Int) { metrics.devicesPresent(kind, count) }

    func previewStarted(_ device: String, size: FrameSize, pixelFormat: FourCC) {
        metrics.previewStarted()
        logger.info("preview of \(device) started: \(size) \(pixelFormat.name)")
    }

    func previewEnded(_ device: String, frames: Int, error: CameraError?) {
        metrics.previewEnded(frames: frames, failed: error != nil)
        if let error {
            logger.warning("preview of \(device) failed after \(frames) frame(s): \(error.code.rawValue): \(error.message)")
        } else {
            logger.info("preview of \(device) ended after \(frames) frame(s)")
        }
    }
}
