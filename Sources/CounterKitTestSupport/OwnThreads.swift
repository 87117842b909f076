// The Testing module exists for test builds only (a release build with the static Swift runtime has none): the
// benchmark, which shares this module, builds without these traits.
#if canImport(Testing)
    import Foundation
    import Testing

    /// A task executor with threads of its own, started as they are needed: a job that finds no thread idle gets a new
    /// one, so no job waits behind another.
    ///
    /// Tests that block a thread (on scanimage, a child's exit) or keep one busy for seconds (CPU-heavy encoding,
    /// fuzzing) run on it, so they never hold the cooperative pool: on a two-core machine that pool has two threads, and
    /// two such tests used to stall every other test for 20 s, long enough to break deadlines. A fixed set of threads
    /// would only move the queue: with two, an async test's 300 ms sleep once came back after 75 s, behind the fuzzer.
    /// The number of threads is bounded by how many tests run at once (`scripts/test` bounds that); idle ones wait for
    /// the next job.
    public final class OwnThreadsExecutor: TaskExecutor, @unchecked Sendable {
        /// The executor the `.ownThreads` trait runs tests on.
        public static let shared = OwnThreadsExecutor(name: "counterkit-test")

        private let condition = NSCondition()
        private var jobs: [UnownedJob] = []  // guarded by `condition`
        private var next = 0  // the first job not yet taken; guarded by `condition`
        private var idle = 0  // threads waiting for a job; guarded by `condition`
        private var started = 0  // guarded by `condition`
        private let name: String

        private static let marker = "counterkit.OwnThreadsExecutor"

        /// An executor whose threads are named `name-N`.
        public init(name: String) {
            self.name = name
        }

        /// Whether the calling thread is one of an `OwnThreadsExecutor`'s.
        public static var onOwnThread: Bool {
            Thread.current.threadDictionary[marker] as? Bool ?? false
        }

        /// Threads started so far.
        public var threadCount: Int { condition.withLock { started } }

        /// Queues a job for an idle thread, or starts a thread for it.
        public func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            condition.lock()
            jobs.append(job)
            if idle > jobs.count - next - 1 {
                condition.signal()
            } else {
                started += 1
                let thread = Thread { [unowned self] in
                    Thread.current.threadDictionary[Self.marker] = true
                    self.runJobs()
                }
                thread.name = "\(name)-\(started)"
                thread.start()
            }
            condition.unlock()
        }

        private func runJobs() {
            while true {
                condition.lock()
                idle += 1
                while next == jobs.count { condition.wait() }
                idle -= 1
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
        public func provideScope(
            for test: Test, testCase: Test.Case?,
            performing function: @Sendable () async throws -> Void
        ) async throws {
            try await withTaskExecutorPreference(OwnThreadsExecutor.shared) {
                try await function()
            }
        }
    }

    extension Trait where Self == OwnThreadsTrait {
        /// The test blocks a thread or keeps one busy for long: run it on threads of its own, not the cooperative pool.
        public static var ownThreads: Self { OwnThreadsTrait() }
    }
#endif
