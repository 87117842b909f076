import ChildProcesses
import CounterKitCore
import Foundation

/// Runs blocking `work` (a wait for a child process, a command, a read to the end of a pipe) on a thread of its own
/// while the calling task suspends.
///
/// Async tests must never block the cooperative pool: it has one thread per core, and the services these tests run
/// in-process answer on it. A test that blocks a pool thread waiting for a child that is itself waiting for such a
/// service deadlocks once the other threads block too; on a two-core machine two such waits hung a whole CI run.
/// `BlockingCallsLintTests` keeps the blocking calls out of async test code.
public func offThePool<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
    let result: Result<T, E> = await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: Result { () throws(E) in try work() }) }
    }
    return try result.get()
}

extension ChildProcess {
    /// `wait()` off the cooperative pool, for async code: how the child ended.
    public func ended() async -> Termination {
        await offThePool { self.wait() }
    }

    /// `readAllOutput()` off the cooperative pool, for async code: the child's stdout to its end.
    public func outputToEnd() async -> [UInt8] {
        await offThePool { self.readAllOutput() }
    }
}
