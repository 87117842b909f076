import Attachments
import CounterKitTestSupport
import DeviceHub
import Foundation
import Testing

/// What a job's work reports reaches the job: data (a stored page, the settings) is never dropped, however many
/// progress reports and live rows come in a burst around it; progress may be coalesced.
@Suite struct JobUpdatesTests {
    @Test("a failed feeder scan lists every page it kept, though each page came in a burst of 5000 progress reports")
    func pagesReportedInABurstAreAllKept() async throws {
        let directory = try TemporaryDirectory("ck-job-updates")
        let store = try AttachmentStore(directory: directory.url)
        var manifests: [AttachmentManifest] = []
        for page in 1...3 {
            let pending = try store.begin()
            try pending.file.write("page \(page)")
            manifests.append(try store.commit(pending, metadata: AttachmentMetadata(kind: .scan, format: .pnm, pages: 1, device: "test:0")))
        }
        let jobs = JobManager(limits: HubLimits())
        let kept = manifests
        let job = try await jobs.submit(kind: .scan, device: "test:0", queue: false) { reporter async throws(JobError) in
            reporter.settings(["source": "adf", "resolution": "300"])
            for (index, manifest) in kept.enumerated() {
                reporter.attachment(manifest)
                for line in 0..<5000 {
                    reporter.progress(
                        CaptureProgress(
                            page: index + 1, bytesReceived: line * 100, linesDone: line, linesExpected: 5000,
                            fraction: Double(line) / 5000, pagesDone: index + (line == 4999 ? 1 : 0)))
                }
            }
            throw JobError(.jammed, "paper jam after page 3")
        }
        let finished = try await jobs.waitUntilFinished(job.id)
        #expect(finished.state == .failed && finished.error?.code == .jammed)
        #expect(finished.attachments.map(\.id) == kept.map(\.id), "the failed job lists the three pages it kept, in order")
        #expect(finished.settings?["source"] == "adf", "the settings reached the job")
        #expect(finished.pages == 3, "three page ends were reported")
        // Each listed page is the stored file it names.
        for manifest in finished.attachments {
            #expect(try String(contentsOf: store.fileURL(id: manifest.id), encoding: .utf8).hasPrefix("page "))
        }
    }

    @Test("a subscriber that reads slowly gets every page event and the end, while 20000 progress reports coalesce")
    func aSlowSubscriberMissesNoPage() async throws {
        let jobs = JobManager(limits: HubLimits())
        let go = AsyncStream<Void>.makeStream()
        let job = try await jobs.submit(kind: .scan, device: "test:0", queue: false) { reporter async throws(JobError) in
            for await _ in go.stream { break }
            for page in 0..<40 {
                for line in 0..<500 {
                    reporter.progress(
                        CaptureProgress(
                            page: page + 1, bytesReceived: line, linesDone: line, linesExpected: 500, fraction: nil,
                            pagesDone: page + (line == 499 ? 1 : 0)))
                }
            }
            return JobOutcome(pages: 40, settings: [:], attachments: [])
        }
        let events = try await jobs.subscribe(job.id)
        go.continuation.yield()
        var pages = 0, progress = 0, final: JobEvent?
        for await event in events {
            if event.name == .page { pages += 1 }
            if event.name == .progress { progress += 1 }
            if event.isFinal { final = event }
            try? await Task.sleep(for: .milliseconds(2))  // a reader slower than the work
        }
        #expect(pages == 40, "every page event arrived: \(pages) of 40")
        #expect(final?.name == .completed && final?.job.pages == 40)
        #expect(progress < 20_000, "progress coalesced: \(progress) events for 20000 reports")
        print("slow subscriber: \(pages) page events, \(progress) progress events for 20000 reports")
    }
}
