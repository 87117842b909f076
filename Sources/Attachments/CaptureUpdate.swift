import Synchronization

/// One step of a capture followed as an `AsyncSequence`: progress while it runs, then its result.
public enum CaptureUpdate<Progress: Sendable, Outcome: Sendable>: Sendable {
    /// The capture is under way.
    case progress(Progress)
    /// The capture is done; this is the last element.
    case completed(Outcome)
}

/// A capture followed as an `AsyncSequence`: `.progress` while it runs, then `.completed` with its result.
///
/// Each iteration runs the capture once, starting when the iteration starts. A failure ends the iteration
/// with its error. Leaving the loop early, or cancelling the iterating task, cancels the capture; and when
/// the capture had already finished but its `.completed` was never handed out, its result is undone
/// (a scan's attachments are deleted), so an abandoned capture leaves nothing behind that nobody was told of.
public struct CaptureUpdates<Progress: Sendable, Outcome: Sendable>: AsyncSequence, Sendable {
    /// An update: progress, or the result.
    public typealias Element = CaptureUpdate<Progress, Outcome>

    private let work: @Sendable (_ progress: @escaping @Sendable (Progress) -> Void) async throws -> Outcome
    private let undo: @Sendable (Outcome) -> Void

    /// Follows `work`, which reports progress through its argument and returns the result.
    /// `undo` removes what a result left behind (its attachments); it runs when the result was never handed out.
    public init(
        undo: @escaping @Sendable (Outcome) -> Void,
        work: @escaping @Sendable (_ progress: @escaping @Sendable (Progress) -> Void) async throws -> Outcome
    ) {
        self.work = work
        self.undo = undo
    }

    /// Starts the capture and returns the iterator that follows it.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(work: work, undo: undo)
    }

    /// Follows one run of the capture.
    public struct AsyncIterator: AsyncIteratorProtocol {
        private var updates: AsyncThrowingStream<Element, any Error>.Iterator
        private let lifetime: IterationLifetime<Outcome>

        fileprivate init(
            work: @escaping @Sendable (@escaping @Sendable (Progress) -> Void) async throws -> Outcome,
            undo: @escaping @Sendable (Outcome) -> Void
        ) {
            let handoff = Handoff<Outcome>(undo: undo)
            let (stream, continuation) = AsyncThrowingStream<Element, any Error>.makeStream()
            let task = Task {
                do {
                    let outcome = try await work { continuation.yield(.progress($0)) }
                    if handoff.offer(outcome) { continuation.yield(.completed(outcome)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { termination in
                if case .cancelled = termination { task.cancel() }
            }
            handoff.started(task)
            self.lifetime = IterationLifetime(handoff)
            self.updates = stream.makeAsyncIterator()
        }

        /// The next update, on the caller's actor; nil after `.completed`.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> Element? {
            let update = try await updates.next(isolation: actor)
            if case .completed = update { lifetime.handoff.delivered() }
            return update
        }

        /// The next update; nil after `.completed`.
        public mutating func next() async throws -> Element? {
            try await next(isolation: nil)
        }
    }
}

/// Who gets a finished capture's result: the iterator that hands it out, or `undo` when nobody will.
private final class Handoff<Outcome: Sendable>: Sendable {
    private struct State {
        var task: Task<Void, Never>?
        var pending: Outcome?
        var delivered = false
        var abandoned = false
    }

    private let state = Mutex(State())
    private let undo: @Sendable (Outcome) -> Void

    init(undo: @escaping @Sendable (Outcome) -> Void) {
        self.undo = undo
    }

    func started(_ task: Task<Void, Never>) {
        state.withLock { $0.task = task }
    }

    /// The capture finished: true when someone may still take the result, false when it was undone.
    func offer(_ outcome: Outcome) -> Bool {
        let abandoned = state.withLock { state in
            if !state.abandoned { state.pending = outcome }
            return state.abandoned
        }
        if abandoned { undo(outcome) }
        return !abandoned
    }

    func delivered() {
        state.withLock {
            $0.delivered = true; $0.pending = nil
        }
    }

    /// The iterator is gone: cancel the capture if it runs, and undo a result nobody took.
    func abandon() {
        let (task, unclaimed) = state.withLock { state -> (Task<Void, Never>?, Outcome?) in
            state.abandoned = true
            defer { state.pending = nil }
            return (state.delivered ? nil : state.task, state.pending)
        }
        task?.cancel()
        if let unclaimed { undo(unclaimed) }
    }
}

/// Held by the iterator alone (the capture's task holds the handoff), so its end is the iteration's end.
private final class IterationLifetime<Outcome: Sendable>: Sendable {
    let handoff: Handoff<Outcome>

    init(_ handoff: Handoff<Outcome>) {
        self.handoff = handoff
    }

    deinit {
        handoff.abandon()
    }
}
