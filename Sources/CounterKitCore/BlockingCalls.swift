import Foundation

/// The one executor for blocking work: every thread CounterKit starts comes from here, so that no device call, scan
/// or stream waits on Swift's cooperative pool (one thread per core).
///
/// - Short device calls (libsane discovery, libusb opens, V4L2 ioctls) share a fixed set of threads
///   (``run(_:)``); calls past the thread count wait their turn in order.
/// - Work that lasts as long as a capture or a device's stream (a scan, a photo, a preview, a pad's reader, a
///   hotplug watch, an encoder's helpers) gets a named thread of its own (``runOnOwnThread(named:_:)``,
///   ``start(named:_:)``), so it never holds up the short calls.
package final class BlockingCalls: @unchecked Sendable {
    /// The process's executor for device calls: eight threads, started as they are needed.
    public static let shared = BlockingCalls(threads: 8, name: "counterkit-device")

    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []  // guarded by `condition`
    private var started = 0  // guarded by `condition`
    private var idle = 0  // guarded by `condition`
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

    /// Runs long blocking work (a scan, a photo) on a thread of its own named `name` and returns its result; the
    /// calling task suspends meanwhile.
    public func runOnOwnThread<T: Sendable, E: Error>(named name: String, _ work: @escaping @Sendable () throws(E) -> T) async -> Result<T, E> {
        await withCheckedContinuation { continuation in
            start(named: name) { continuation.resume(returning: Result { () throws(E) in try work() }) }
        }
    }

    /// Starts `loop` (a stream's, a reader's: it returns when its device is done) on a thread of its own named `name`.
    @discardableResult
    public func start(named name: String, _ loop: @escaping @Sendable () -> Void) -> Thread {
        let thread = Thread(block: loop)
        thread.name = name
        thread.start()
        return thread
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
