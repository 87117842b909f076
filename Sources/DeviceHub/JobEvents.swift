import Foundation
import Synchronization

/// Whether a subscriber has a `progress` or a `rows` event queued that it has not read yet. While it has, newer ones of
/// that kind are not queued: they coalesce (the queued one keeps the job as it was when queued, so the snapshots a
/// reader sees never go back; the next event brings it up to date, and rows are cut when read). A slow reader's queue
/// thus holds the events that carry something (state changes, pages, the end) and never loses them.
final class CoalescingGate: Sendable {
    private let progress = Atomic<Bool>(false), rows = Atomic<Bool>(false)

    /// Whether an event of this kind should be queued now.
    func admit(_ name: JobEvent.Name) -> Bool {
        switch name {
        case .progress: !progress.exchange(true, ordering: .acquiringAndReleasing)
        case .rows: !rows.exchange(true, ordering: .acquiringAndReleasing)
        default: true
        }
    }

    /// The subscriber has read an event of this kind.
    func taken(_ name: JobEvent.Name) {
        switch name {
        case .progress: progress.store(false, ordering: .releasing)
        case .rows: rows.store(false, ordering: .releasing)
        default: break
        }
    }
}

/// A job's events for one subscriber: the job's state changes as they happen, and, for a scan with a live view, `rows`
/// events whose bands are cut when the subscriber asks for its next event. Every row is delivered before the final event;
/// no `state`, `page` or final event is dropped, however slowly the subscriber reads (progress coalesces).
package struct JobEvents: AsyncSequence, Sendable {
    public typealias Element = JobEvent
    public typealias Failure = Never
    let base: AsyncStream<JobEvent>
    let live: LiveRowsBuffer?
    let gate: CoalescingGate?

    public func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator(), live: live, gate: gate) }

    /// Walks the events.
    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncStream<JobEvent>.Iterator
        let live: LiveRowsBuffer?
        let gate: CoalescingGate?
        var cursor = LiveRowsBuffer.Cursor()
        var held: JobEvent?

        public mutating func next() async -> JobEvent? {
            if let held {
                // The final event, once the last rows are out.
                if let live, let band = live.band(after: &cursor) { return JobEvent(name: .rows, job: held.job, rows: band) }
                self.held = nil
                return held
            }
            while let event = await base.next() {
                gate?.taken(event.name)
                guard let live else { return event }
                if event.name == .rows {
                    guard let band = live.band(after: &cursor) else { continue }
                    return JobEvent(name: .rows, job: event.job, rows: band)
                }
                if event.isFinal, let band = live.band(after: &cursor) {
                    held = event
                    return JobEvent(name: .rows, job: event.job, rows: band)
                }
                return event
            }
            return nil
        }
    }
}
