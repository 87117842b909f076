/// One step of a capture followed as an `AsyncSequence`: progress while it runs, then its result.
public enum CaptureUpdate<Progress: Sendable, Outcome: Sendable>: Sendable {
    /// The capture is under way.
    case progress(Progress)
    /// The capture is done; this is the last element.
    case completed(Outcome)

    /// Runs `work` in a task and streams its progress and result. A failure ends the stream with its error;
    /// ending the iteration early (or cancelling the iterating task) cancels `work`.
    public static func stream(
        _ work: @escaping @Sendable (_ progress: @escaping @Sendable (Progress) -> Void) async throws -> Outcome
    ) -> AsyncThrowingStream<CaptureUpdate, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let outcome = try await work { continuation.yield(.progress($0)) }
                    continuation.yield(.completed(outcome))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { termination in
                if case .cancelled = termination { task.cancel() }
            }
        }
    }
}
