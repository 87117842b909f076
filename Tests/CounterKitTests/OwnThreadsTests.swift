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

    /// A job that finds every thread busy gets a thread of its own: it never waits behind a blocked one.
    @Test func aJobNeverWaitsBehindABlockedOne() async {
        let executor = OwnThreadsExecutor(name: "counterkit-probe")
        let release = DispatchSemaphore(value: 0)
        let blocked = Task(executorPreference: executor) { release.wait() }  // blocking: on the executor's thread, which is the point
        let ranMeanwhile = await Task(executorPreference: executor) { OwnThreadsExecutor.onOwnThread }.value
        release.signal()
        await blocked.value
        #expect(ranMeanwhile)
        #expect(executor.threadCount >= 2, "\(executor.threadCount) threads")
    }

    @Test func aTestWithoutItRunsOnThePool() {
        #expect(!OwnThreadsExecutor.onOwnThread)
    }
}
