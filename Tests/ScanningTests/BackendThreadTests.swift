import CBackendThreads
import CounterKitTestSupport
import Foundation
import Scanning
import Synchronization
import Testing

/// SANE backends' reader threads ask for asynchronous cancellation, which can deadlock the worker when a
/// cancel lands inside malloc (found with the test backend under load: the reader, cancelled inside `free`,
/// waited at its exit for the arena lock it still held). CounterKit's processes keep cancellation deferred.
@Suite(.ownThreads) struct BackendThreadTests {
    @Test func askingForAsynchronousCancellationGivesDeferred() throws {
        // In a thread of its own, as a backend's reader asks.
        let previous = Mutex<Int32>(-1)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var ignored: Int32 = 0, found: Int32 = 0
            _ = pthread_setcanceltype(Int32(PTHREAD_CANCEL_ASYNCHRONOUS), &ignored)
            _ = pthread_setcanceltype(Int32(PTHREAD_CANCEL_DEFERRED), &found)
            previous.withLock { $0 = found }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(previous.withLock { $0 } == Int32(PTHREAD_CANCEL_DEFERRED))
    }

    @Test func librariesLoadedLaterReachTheDeferringVersion() {
        // What a dlopen'ed backend's call resolves to: the executable's definition comes first.
        #expect(ck_deferred_cancel_in_effect() == 1)
    }

    @Test func theScanWorkerExecutableKeepsItsBackendsDeferred() throws {
        let worker = SANETestEnvironment.launcher
        let command = ([worker.executable] + worker.arguments).map { "'\($0)'" }.joined(separator: " ")
        let result = try runCommand(
            ["/bin/sh", "-c", "echo '{\"action\":\"devices\"}' | \(command) 2>&1 >/dev/null"],
            environment: SANETestEnvironment.environment)
        #expect(result.status == 0)
        #expect(!result.output.contains("asynchronously cancellable"), "the worker said: \(result.output)")
    }
}

extension BackendThreadTests {
    @Test func theWorkerCanTellWhetherItsExecutableDefersCancellation() {
        // This test bundle links CBackendThreads (the ScanWorkerThreads product), so the check sees it in effect.
        #expect(ScanWorker.deferredCancellationInEffect)
    }
}
