import Foundation
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// What the parent asks the worker to do (one JSON line on the worker's stdin; afterwards a byte `c` on
/// stdin means cancel, `w` wakes a worker waiting for room in the ring, and EOF means the parent is gone).
struct WorkerCommand: Codable {
    enum Action: String, Codable { case devices, options, scan }
    /// The shared memory a scan's image bytes go through (see `SharedRing`).
    struct Ring: Codable {
        /// The worker's file descriptor for the memfd.
        var descriptor: Int32
        /// Bytes of image data it holds.
        var capacity: Int
    }
    var action: Action
    var device: String?
    var request: ScanRequest?
    var ring: Ring?
}

/// A control message from the worker (JSON in a frame of type `event`).
package enum WorkerEvent: Codable, Equatable {
    /// Sent first: libsane's version.
    case library(saneVersion: String)
    case devices([ScannerInfo])
    case options(device: ScannerInfo, descriptors: [OptionDescriptor], values: [String: String])
    /// The device opened and the settings applied (after normalization).
    case applied(device: ScannerInfo, settings: [String: String], dpi: Double)
    case frame(FrameParameters)
    case frameEnd
    case pageEnd
    case done(pages: Int)
    case failure(ScanError)
}

/// Frames on the worker's protocol fd: 1 byte type, 4 bytes little-endian length, payload.
enum WorkerFrame {
    /// A `WorkerEvent` as JSON.
    static let event: UInt8 = 1
    /// Image bytes in the shared ring: the payload is their count (4 bytes, little-endian); they lie at
    /// the parent's read position, which then moves on by that much.
    static let ringData: UInt8 = 3
    static let headerSize = 5
    static let maxPayload = 1 << 20
    /// The pipe capacity the worker asks for (the default `/proc/sys/fs/pipe-max-size` allows it).
    static let pipeCapacity: Int32 = 1 << 20
    /// Linux's `F_SETPIPE_SZ` (F_LINUX_SPECIFIC_BASE + 7), which Glibc's Swift overlay does not export.
    static let setPipeSize: Int32 = 1031
}

/// Writes frames to a file descriptor (worker side).
final class WorkerFrameWriter {
    private let fd: Int32

    init(fd: Int32) {
        self.fd = fd
        // A deep pipe lets the worker read ahead while the parent encodes (fewer context switches too).
        // Best effort: the system's pipe-max-size may refuse it, and then the default (64 KiB) serves.
        _ = fcntl(fd, WorkerFrame.setPipeSize, WorkerFrame.pipeCapacity)
    }

    /// Announces `count` image bytes written into the ring.
    func sendRingData(count: Int) throws {
        var length = UInt32(count).littleEndian
        try withUnsafeBytes(of: &length) { try send(type: WorkerFrame.ringData, $0) }
    }

    func send(_ event: WorkerEvent) throws {
        let payload = try JSONEncoder().encode(event)
        try payload.withUnsafeBytes { try send(type: WorkerFrame.event, $0) }
    }

    func send(type: UInt8, _ payload: UnsafeRawBufferPointer) throws {
        // Header and payload leave in one writev: one wake-up of the parent per frame, not two.
        var header: (UInt8, UInt8, UInt8, UInt8, UInt8) = (type, 0, 0, 0, 0)
        let length = UInt32(payload.count)
        header.1 = UInt8(truncatingIfNeeded: length)
        header.2 = UInt8(truncatingIfNeeded: length >> 8)
        header.3 = UInt8(truncatingIfNeeded: length >> 16)
        header.4 = UInt8(truncatingIfNeeded: length >> 24)
        try withUnsafeBytes(of: &header) { headerBytes in
            var parts = [
                iovec(iov_base: UnsafeMutableRawPointer(mutating: headerBytes.baseAddress), iov_len: WorkerFrame.headerSize),
                iovec(iov_base: UnsafeMutableRawPointer(mutating: payload.baseAddress), iov_len: payload.count),
            ]
            var remaining = WorkerFrame.headerSize + payload.count
            var first = 0
            while remaining > 0 {
                let count = parts.withUnsafeMutableBufferPointer { writev(fd, $0.baseAddress! + first, Int32($0.count - first)) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw ScanError.lastSystemCall(.ioError, "worker pipe closed")
                }
                remaining -= count
                // Skip what was written: whole parts first, then into the part that was cut short.
                var written = count
                while first < parts.count && written >= parts[first].iov_len {
                    written -= parts[first].iov_len
                    first += 1
                }
                if written > 0 {
                    parts[first].iov_base += written
                    parts[first].iov_len -= written
                }
            }
        }
    }
}

/// Reads frames from the worker's pipe (parent side), with a poll timeout.
package final class WorkerFrameReader {
    package enum Next {
        case event(WorkerEvent)
        /// Image bytes; they stay valid (and the worker keeps off them) until the next call to `next`.
        case data(UnsafeRawBufferPointer)
        /// Nothing arrived within the poll interval.
        case idle
        /// The worker closed its end.
        case closed
    }

    private let fd: Int32
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private let ring: SharedRing?
    private let wakeWorker: () -> Void
    /// Ring bytes announced so far, and those given back to the worker.
    private var ringPosition = 0
    private var ringReleased = 0

    /// A reader of `fd`; image bytes arrive through `ring`, and `wakeWorker` is called when the worker
    /// sleeps for room in it and room has been made.
    init(fd: Int32, ring: SharedRing? = nil, wakeWorker: @escaping () -> Void = {}) {
        self.fd = fd
        self.ring = ring
        self.wakeWorker = wakeWorker
        buffer = .allocate(byteCount: WorkerFrame.maxPayload + WorkerFrame.headerSize + (1 << 16), alignment: 8)
    }

    /// A reader of `fd` whose image bytes come through a ring of `ringCapacity` bytes that this reader
    /// owns and nothing writes to (for tests and fuzzing of the parent's side).
    package convenience init(fd: Int32, ringCapacity: Int) {
        self.init(fd: fd, ring: try? SharedRing(capacity: ringCapacity))
    }

    deinit { buffer.deallocate() }

    /// The next frame, waiting at most `pollMilliseconds` for bytes.
    package func next(pollMilliseconds: Int32) throws(ScanError) -> Next {
        if let ring, ringReleased < ringPosition {
            // The caller is done with the last image bytes: give their room back to the worker.
            ringReleased = ringPosition
            if ring.release(upTo: ringPosition) { wakeWorker() }
        }
        while true {
            if let frame = try parse() { return frame }
            if start > 0 && (end - start) < WorkerFrame.headerSize + 65_536 {
                // Compact so a whole frame always fits.
                let pending = end - start
                if pending > 0 { memmove(buffer.baseAddress!, buffer.baseAddress! + start, pending) }
                start = 0
                end = pending
            }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, pollMilliseconds)
            if ready == 0 { return .idle }
            if ready < 0 {
                if errno == EINTR { continue }
                throw ScanError(.ioError, "poll on the worker pipe failed")
            }
            let count: Int
            do {
                count = try FileDescriptor(rawValue: fd).read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
            } catch Errno.wouldBlock {
                continue
            } catch {
                return .closed
            }
            if count == 0 { return .closed }
            end += count
        }
    }

    /// Discards anything further until the worker closes its end; false if it has not within `grace`.
    package func waitForClose(within grace: Duration) -> Bool {
        let deadline = ContinuousClock.now + grace
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return false }
            let (seconds, attoseconds) = left.components
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(seconds * 1000 + attoseconds / 1_000_000_000_000_000) + 1)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return false }
            do {
                if try scratch.withUnsafeMutableBytes({ try FileDescriptor(rawValue: fd).read(into: $0) }) == 0 { return true }
            } catch Errno.wouldBlock {
                continue
            } catch {
                return true
            }
        }
    }

    private func parse() throws(ScanError) -> Next? {
        guard end - start >= WorkerFrame.headerSize else { return nil }
        let type = buffer[start]
        let length = Int(UInt32(littleEndian: UnsafeRawBufferPointer(rebasing: buffer[(start + 1)..<(start + 5)]).loadUnaligned(as: UInt32.self)))
        guard length <= WorkerFrame.maxPayload else { throw ScanError(.backendCrashed, "the worker sent a malformed frame") }
        if start + WorkerFrame.headerSize + length > buffer.count {
            let pending = end - start
            memmove(buffer.baseAddress!, buffer.baseAddress! + start, pending)
            start = 0
            end = pending
        }
        guard end - start >= WorkerFrame.headerSize + length else { return nil }
        let payload = UnsafeRawBufferPointer(rebasing: buffer[(start + WorkerFrame.headerSize)..<(start + WorkerFrame.headerSize + length)])
        start += WorkerFrame.headerSize + length
        if start == end { start = 0; end = 0 }
        switch type {
        case WorkerFrame.ringData:
            guard let ring, payload.count == 4 else { throw ScanError(.backendCrashed, "the worker sent image bytes outside the shared ring") }
            let count = Int(UInt32(littleEndian: payload.loadUnaligned(as: UInt32.self)))
            guard let bytes = ring.readable(at: ringPosition, count: count) else {
                throw ScanError(.backendCrashed, "the worker announced \(count) image bytes where the shared ring cannot hold them")
            }
            ringPosition += count
            return .data(bytes)
        case WorkerFrame.event:
            let event: WorkerEvent
            do { event = try JSONDecoder().decode(WorkerEvent.self, from: Data(payload)) } catch {
                throw ScanError(.backendCrashed, "the worker sent an unreadable event")
            }
            // The worker's failure is the scanner's, raised by this module in the worker process.
            if case .failure(var error) = event { error.family = .scanning; return .event(.failure(error)) }
            return .event(event)
        default:
            throw ScanError(.backendCrashed, "the worker sent an unknown frame type \(type)")
        }
    }
}
