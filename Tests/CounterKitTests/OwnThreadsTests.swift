import CounterKitTestSupport
import Foundation
import Testing

/// The `.ownThreads` trait moves a test off the cooperative pool onto `OwnThreadsExecutor`'s threads.
@Suite struct OwnThreadsTests {
    @Test(.ownThreads) func aTestWithTheTraitRunsOnTheExecutorsThreads() async throws {
        #expect(OwnThreadsExecutor.onOwnThread)
        try await Task.sleep(for: .milliseconds(1))
        #expect(OwnThreadsExecutor.onOwnThread, "and comes back to them after a suspension")
    }

    @Test func aTestWithoutItRunsOnThePool() {
        #expect(!OwnThreadsExecutor.onOwnThread)
    }
}
