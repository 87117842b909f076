import Attachments
import CounterKitTestSupport
import Foundation
import Synchronization
import Testing

/// CaptureUpdates hands a capture's result to exactly one party: the loop that receives `.completed`,
/// or `undo` when the loop was left first, in whichever order the capture and the loop end.
@Suite struct CaptureUpdatesTests {
    /// What a test capture did, seen from outside.
    final class Record: Sendable {
        private let state = Mutex<(runs: Int, cancelled: Int, returned: Int, undone: [Int])>((0, 0, 0, []))
        var runs: Int { state.withLock { $0.runs } }
        var cancelled: Int { state.withLock { $0.cancelled } }
        var returned: Int { state.withLock { $0.returned } }
        var undone: [Int] { state.withLock { $0.undone } }
        func ran() { state.withLock { $0.runs += 1 } }
        func wasCancelled() { state.withLock { $0.cancelled += 1 } }
        func didReturn() { state.withLock { $0.returned += 1 } }
        func undo(_ value: Int) { state.withLock { $0.undone.append(value) } }
    }

    /// A capture that reports `steps` progress updates and returns 42.
    static func quick(_ record: Record, steps: Int = 3) -> CaptureUpdates<Int, Int> {
        CaptureUpdates(undo: record.undo) { progress in
            record.ran()
            for step in 1...steps { progress(step) }
            defer { record.didReturn() }
            return 42
        }
    }

    /// A capture that reports progress until it is cancelled.
    static func endless(_ record: Record) -> CaptureUpdates<Int, Int> {
        CaptureUpdates(undo: record.undo) { progress in
            record.ran()
            var step = 0
            while !Task.isCancelled {
                step += 1
                progress(step)
                try? await Task.sleep(for: .milliseconds(5))
            }
            record.wasCancelled()
            throw CancellationError()
        }
    }

    @Test func aLoopThatReceivesTheResultKeepsIt() async throws {
        let record = Record()
        var progress: [Int] = [], outcome: Int?
        for try await update in Self.quick(record) {
            switch update {
            case .progress(let step): progress.append(step)
            case .completed(let value): outcome = value
            }
        }
        #expect(progress == [1, 2, 3] && outcome == 42)
        #expect(record.undone.isEmpty && record.runs == 1)
    }

    @Test func eachIterationRunsTheCaptureOnceAndNotBefore() async throws {
        let record = Record()
        let updates = Self.quick(record, steps: 1)
        try await Task.sleep(for: .milliseconds(50))
        #expect(record.runs == 0, "making the sequence starts nothing")
        for try await _ in updates {}
        for try await _ in updates {}
        #expect(record.runs == 2)
    }

    /// The capture finishes while the loop still holds progress; the loop then leaves: the result is undone,
    /// once, whether the capture finished before or after the loop was left (the two orders, many times).
    @Test func aResultThatWasNeverHandedOutIsUndoneOnce() async throws {
        for round in 0..<200 {
            let record = Record()
            for try await update in Self.quick(record) {
                if case .progress = update {
                    if round.isMultiple(of: 2) {
                        #expect(await eventually(every: .milliseconds(1)) { record.returned == 1 })
                    }
                    break
                }
            }
            let undone = await eventually(every: .milliseconds(1)) { !record.undone.isEmpty }
            try #require(undone && record.undone == [42], "round \(round): undone \(record.undone)")
        }
    }

    @Test func leavingTheLoopCancelsTheCapture() async throws {
        let record = Record()
        for try await update in Self.endless(record) {
            if case .progress(let step) = update, step == 3 { break }
        }
        #expect(await eventually { record.cancelled == 1 })
        #expect(record.undone.isEmpty, "a cancelled capture has nothing to undo")
    }

    @Test func cancellingTheIteratingTaskCancelsTheCapture() async throws {
        let record = Record()
        let consumer = Task {
            var seen = 0
            for try await _ in Self.endless(record) { seen += 1 }
            return seen
        }
        #expect(await eventually { record.runs == 1 })
        consumer.cancel()
        _ = try? await consumer.value
        #expect(await eventually { record.cancelled == 1 })
    }

    @Test func aFailureEndsTheLoopWithItsError() async throws {
        struct Broken: Error, Equatable {}
        let record = Record()
        let failing = CaptureUpdates<Int, Int>(undo: record.undo) { progress in
            progress(1)
            throw Broken()
        }
        var progress: [Int] = []
        await #expect(throws: Broken.self) {
            for try await update in failing {
                if case .progress(let step) = update { progress.append(step) }
            }
        }
        #expect(progress == [1] && record.undone.isEmpty)
    }
}
