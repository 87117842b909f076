import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the parent asks the worker to do (one JSON line on the worker's stdin;
/// afterwards a single byte `c` on stdin means cancel, and EOF means the parent is gone).
struct WorkerCommand: Codable {
    enum Action: String, Codable { case devices, options, scan }
    var action: Action
    var device: String?
    var request: ScanRequest?
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
    static let event: UInt8 = 1
    static let data: UInt8 = 2
    static let headerSize = 5
    static let maxPayload = 1 << 20
}

/// Writes frames to a file descriptor (worker side).
final class WorkerFrameWriter {
    private let fd: Int32

    init(fd: Int32) { self.fd = fd }

    func send(_ event: WorkerEvent) throws {
        let payload = try JSONEncoder().encode(event)
        try payload.withUnsafeBytes { try send(type: WorkerFrame.event, $0) }
    }

    func send(type: UInt8, _ payload: UnsafeRawBufferPointer) throws {
        var header = [UInt8](repeating: 0, count: WorkerFrame.headerSize)
        header[0] = type
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { header.replaceSubrange(1..<5, with: $0) }
        try header.withUnsafeBytes { try writeAll($0) }
        try writeAll(payload)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let count = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw ScanError(.ioError, "worker pipe closed: \(String(cString: strerror(errno)))")
            }
            offset += count
        }
    }
}

/// Reads frames from the worker's pipe (parent side), with a poll timeout.
package final class WorkerFrameReader {
    package enum Next {
        case event(WorkerEvent)
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

    package init(fd: Int32) {
        self.fd = fd
        buffer = .allocate(byteCount: WorkerFrame.maxPayload + WorkerFrame.headerSize + (1 << 16), alignment: 8)
    }

    deinit { buffer.deallocate() }

    /// The next frame, waiting at most `pollMilliseconds` for bytes.
    package func next(pollMilliseconds: Int32) throws(ScanError) -> Next {
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
            let count = read(fd, buffer.baseAddress! + end, buffer.count - end)
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return .closed
            }
            if count == 0 { return .closed }
            end += count
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
        case WorkerFrame.data:
            return .data(payload)
        case WorkerFrame.event:
            do { return .event(try JSONDecoder().decode(WorkerEvent.self, from: Data(payload))) } catch {
                throw ScanError(.backendCrashed, "the worker sent an unreadable event")
            }
        default:
            throw ScanError(.backendCrashed, "the worker sent an unknown frame type \(type)")
        }
    }
}
