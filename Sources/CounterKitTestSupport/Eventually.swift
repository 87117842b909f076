import Foundation

/// Checks `condition` every `interval` until it holds or `timeout` has passed; returns whether it held.
/// Deadlines are generous on purpose: they only bound how long a failing test takes, and the test VM
/// emulates its CPU in software, so a slower CI machine must not turn a pass into a failure.
public func eventually(
    within timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: interval)
    }
}
