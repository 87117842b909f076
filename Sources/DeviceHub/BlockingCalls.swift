import Foundation

/// Where blocking device calls run (libsane discovery, libusb opens, V4L2 ioctls): a fixed set of threads of its
/// own, so that neither Swift's cooperative pool (one thread per core) nor an unbounded number of threads waits on a
/// device. Calls past the thread count wait their turn in order.
package final class BlockingCalls: @unchecked Sendable {
    /// The process's executor for device calls: eight threads, started as they are needed.
    public static let shared = BlockingCalls(threads: 8, name: "counterkit-device")

    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []  // guarded by `condition`
    private var started = 0                          // guarded by `condition`
    private var idle = 0                             // guarded by `condition`
    private let limit: Int
    private let name: String

    /// An executor of at most `threads` threads named `name-N`.
    public init(threads: Int, name: String) {
        precondition(threads > 0, "BlockingCalls needs at least one thread")
        self.limit = threads
        self.name = name
    }

    /// Runs `work` on one of the threads and returns its result; the calling task suspends meanwhile.
    public func run<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async -> Result<T, E> {
        await withCheckedContinuation { continuation in
            submit { continuation.resume(returning: Result { () throws(E) in try work() }) }
        }
    }

    /// Threads started so far (at most the limit).
    public var threadCount: Int { condition.withLock { started } }

    private func submit(_ job: @escaping @Sendable () -> Void) {
        condition.withLock {
            queue.append(job)
            if idle == 0 && started < limit {
                started += 1
                let thread = Thread { [self] in loop() }
                thread.name = "\(name)-\(started)"
                thread.start()
            } else {
                condition.signal()
            }
        }
    }

    private func loop() {
        while true {
            condition.lock()
            idle += 1
            while queue.isEmpty { condition.wait() }
            idle -= 1
            let job = queue.removeFirst()
            condition.unlock()
            job()
        }
    }
}
