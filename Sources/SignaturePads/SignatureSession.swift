import CounterKitCore
import Foundation
import Synchronization

/// What a capture session tells its subscriber.
public enum SignatureEvent: Sendable, Equatable {
    /// New samples, delivered as soon as each report is decoded (the service batches them for its clients).
    case samples([PenSample])
    /// The ink was cleared.
    case cleared
    /// The session ended: finished, cancelled, or failed with the error (samples so far are kept).
    case ended(SignatureSession.State, SignaturePadError?)
}

/// One signature capture on an open pad: a reader thread takes the pad's reports, decodes them,
/// counts lost reports, and hands each sample to the subscriber at once; `finish` returns the
/// signature, `cancel` drops it, a timeout finishes it, an unplug fails it with the samples kept.
public final class SignatureSession: @unchecked Sendable {
    /// Where a session is.
    public enum State: String, Sendable, Codable {
        /// Capturing, or how it ended.
        case capturing, finished, cancelled, failed
    }

    /// The pad the session runs on.
    public let pad: PadDescription
    private let transport: HIDTransport
    private let driver: PadDriver
    private let onEvent: @Sendable (SignatureEvent) -> Void
    private let timeout: Duration?
    private let capturedAt = Date()

    private let lock = NSLock()
    private var samples: [PenSample] = []
    private var sequence = ReportSequence()
    private var state = State.capturing
    private var failure: SignaturePadError?
    private let stopRequested = Atomic<Bool>(false)
    private var reader: Thread?
    private let readerDone = DispatchSemaphore(value: 0)

    /// Starts a capture: the driver's `begin` (clear, prompt, inking on), then the reader thread.
    /// `timeout` finishes the session by itself. The transport is closed when the session ends.
    public init(
        transport: HIDTransport, driver: PadDriver, prompt: String? = nil, timeout: Duration? = nil,
        onEvent: @escaping @Sendable (SignatureEvent) -> Void = { _ in }
    ) throws(SignaturePadError) {
        self.pad = driver.description
        self.transport = transport
        self.driver = driver
        self.timeout = timeout
        self.onEvent = onEvent
        try driver.begin(prompt: prompt)
        // The thread keeps the session alive while it reads, and lets go when it ends: the session holds the
        // thread, so a direct capture would be a cycle that leaks every session, its driver and its connection
        // (LeakSanitizer found it).
        let target = ReaderTarget(self)
        reader = BlockingCalls.shared.start(named: "counterkit-pad-\(pad.id)") {
            target.session?.readLoop()
            target.session = nil
        }
    }

    /// Opens a pad (`device`, or the first usable one) and starts a session whose events arrive as an
    /// `AsyncStream`, in order; the stream ends after `.ended`. Cancelling the task that iterates the
    /// stream cancels the session (the pad is released).
    ///
    /// ```swift
    /// let (session, events) = try SignatureSession.start(prompt: "Please sign", timeout: .seconds(120))
    /// for await event in events {
    ///     if case .samples(let samples) = event { draw(samples) }
    /// }
    /// let signature = try session.finish()   // or call it from the app's "Done" button while events flow
    /// ```
    public static func start(
        device: String? = nil, prompt: String? = nil,
        timeout: Duration? = nil
    ) throws(SignaturePadError) -> (session: SignatureSession, events: AsyncStream<SignatureEvent>) {
        let (events, continuation) = AsyncStream<SignatureEvent>.makeStream()
        let (connection, driver) = try SignaturePadDrivers.openPad(device)
        let session: SignatureSession
        do throws(SignaturePadError) {
            session = try SignatureSession(transport: connection, driver: driver, prompt: prompt, timeout: timeout) { event in
                continuation.yield(event)
                if case .ended = event { continuation.finish() }
            }
        } catch {
            connection.close()
            continuation.finish()
            throw error
        }
        continuation.onTermination = { termination in
            // Cancelling waits for the reader thread: not on the cancelling task's thread.
            if case .cancelled = termination { DispatchQueue.global().async { session.cancel() } }
        }
        return (session, events)
    }

    /// The current state and the samples so far (a copy).
    public var snapshot: (state: State, samples: [PenSample], lostReports: Int, error: SignaturePadError?) {
        lock.withLock { (state, samples, sequence.lost, failure) }
    }

    /// Clears the ink: the pad's screen and the samples so far.
    public func clear() throws(SignaturePadError) {
        guard lock.withLock({ state == .capturing }) else { throw SignaturePadError(.invalidValue, "the session has ended") }
        try driver.clear()
        lock.withLock { samples = [] }
        onEvent(.cleared)
    }

    /// Ends the capture and returns the signature (also after a timeout ended it). A failed or cancelled
    /// session gives its error.
    public func finish() throws(SignaturePadError) -> Signature {
        end(.finished)
        let (state, samples, lost, error) = snapshot
        guard state == .finished else {
            throw error ?? SignaturePadError(.cancelled, "the session was cancelled")
        }
        return Signature(
            device: pad.id, model: pad.model, areaWidth: pad.areaWidth, areaHeight: pad.areaHeight,
            capturedAt: capturedAt, samples: samples, lostReports: lost)
    }

    /// Ends the capture and drops it.
    public func cancel() { end(.cancelled) }

    /// The signature so far, whatever the state (a failed session's data).
    public func partialSignature() -> Signature {
        let (_, samples, lost, _) = snapshot
        return Signature(
            device: pad.id, model: pad.model, areaWidth: pad.areaWidth, areaHeight: pad.areaHeight,
            capturedAt: capturedAt, samples: samples, lostReports: lost)
    }

    /// Stops the reader (waiting for it), ends the driver's capture, closes the transport; first end wins.
    private func end(_ outcome: State) {
        stopRequested.store(true, ordering: .relaxed)
        if let reader, reader != Thread.current { readerDone.wait(); readerDone.signal() }
        let ended: Bool = lock.withLock {
            guard state == .capturing else { return false }
            state = outcome
            return true
        }
        guard ended else { return }
        try? driver.end()
        transport.close()
        onEvent(.ended(outcome, nil))
    }

    private func readLoop() {
        defer { readerDone.signal() }
        let started = ContinuousClock.now
        var clock = ReportSequence()
        while !stopRequested.load(ordering: .relaxed) {
            if let timeout, ContinuousClock.now - started >= timeout {
                stopRequested.store(true, ordering: .relaxed)
                DispatchQueue.global().async { self.end(.finished) }
                return
            }
            do throws(SignaturePadError) {
                if let report = try transport.readInputReport(timeoutMilliseconds: 10) {
                    let elapsed = ContinuousClock.now - started
                    let hostTime = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
                    if var decoded = try driver.decode(report, time: hostTime) {
                        if let deviceTime = decoded.deviceTime { decoded.sample.time = clock.milliseconds(timeCount: deviceTime) }
                        lock.withLock {
                            if let number = decoded.sequence { sequence.record(sequence: number) }
                            samples.append(decoded.sample)
                        }
                        onEvent(.samples([decoded.sample]))
                    }
                }
            } catch {
                fail(error)
                return
            }
        }
    }

    private func fail(_ error: SignaturePadError) {
        let failed: Bool = lock.withLock {
            guard state == .capturing else { return false }
            state = .failed
            failure = error
            return true
        }
        guard failed else { return }
        transport.close()
        onEvent(.ended(.failed, error))
    }
}

/// The session a reader thread works for, released by that thread when it ends (set before it starts, then
/// touched only by it).
private final class ReaderTarget: @unchecked Sendable {
    var session: SignatureSession?
    init(_ session: SignatureSession) { self.session = session }
}
