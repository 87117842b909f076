// The Testing module exists for test builds only (a release build with the static Swift runtime has none): the
// benchmark, which shares this module, builds without these traits.
#if canImport(Testing)
import Foundation
import Testing

/// A task executor with threads of its own. Tests that keep a thread busy for seconds (CPU-heavy encoding,
/// fuzzing) run on it, so they never hold the cooperative pool: on a two-core machine that pool has two
/// threads, and two such tests used to stall every other test for 20 s, long enough to break deadlines.
public final class OwnThreadsExecutor: TaskExecutor, @unchecked Sendable {
    /// The executor the `.ownThreads` trait runs tests on.
    public static let shared = OwnThreadsExecutor(threads: 2, name: "counterkit-test")

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []  // guarded by `condition`
    private var next = 0                  // the first job not yet taken; guarded by `condition`

    private static let marker = "counterkit.OwnThreadsExecutor"

    /// Starts `threads` threads that run the jobs in the order they came.
    public init(threads: Int, name: String) {
        for index in 0..<threads {
            let thread = Thread { [unowned self] in
                Thread.current.threadDictionary[Self.marker] = true
                self.runJobs()
            }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    /// Whether the calling thread is one of an `OwnThreadsExecutor`'s.
    public static var onOwnThread: Bool {
        Thread.current.threadDictionary[marker] as? Bool ?? false
    }

    /// Queues a job for the next free thread.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        while true {
            condition.lock()
            while next == jobs.count { condition.wait() }
            let job = jobs[next]
            next += 1
            if next == jobs.count { jobs.removeAll(keepingCapacity: true); next = 0 }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Runs a suite's or a test's body on `OwnThreadsExecutor.shared` instead of the cooperative pool.
public struct OwnThreadsTrait: SuiteTrait, TestTrait, TestScoping {
    /// Applies to every test of a suite it is put on.
    public var isRecursive: Bool { true }

    /// Runs the test with `OwnThreadsExecutor.shared` as its task executor.
    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(OwnThreadsExecutor.shared) {
            try await function()
        }
    }
}

extension Trait where Self == OwnThreadsTrait {
    /// The test keeps a thread busy for long: run it on threads of its own, not the cooperative pool.
    public static var ownThreads: Self { OwnThreadsTrait() }
}
#endif
