import Foundation
import Testing

@testable import DeviceService

/// The preview metrics as Prometheus renders them (the guest's preview test reads them from a running service too).
@Suite struct ServiceMetricsTests {
    @Test func previewsAreCountedWithTheirFramesAndOutcomes() {
        let metrics = ServiceMetrics()
        func text() -> String { String(decoding: metrics.render(), as: UTF8.self) }
        // Zeros from the start, so a dashboard sees the series before the first preview.
        #expect(text().contains(#"counterkit_previews_total{outcome="failed"} 0"#) && text().contains("counterkit_preview_frames_total 0"))
        metrics.previewStarted()
        metrics.previewStarted()
        #expect(text().contains("counterkit_previews_running 2.0"))
        metrics.previewEnded(frames: 120, failed: false)
        metrics.previewEnded(frames: 7, failed: true)
        let after = text()
        #expect(after.contains("counterkit_previews_running 0.0"))
        #expect(after.contains(#"counterkit_previews_total{outcome="ended"} 1"#) && after.contains(#"counterkit_previews_total{outcome="failed"} 1"#))
        #expect(after.contains("counterkit_preview_frames_total 127"))
    }
}
