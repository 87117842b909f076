import CSANE
import Foundation
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The worker process: the only place libsane runs. The parent talks to it
/// over stdin (command, then cancel) and the original stdout (frames); the
/// worker's own stdout is pointed at stderr so a chatty backend cannot corrupt
/// the protocol. A backend that crashes or hangs takes only the worker down.
public enum ScanWorker: Sendable {
    /// For apps that are their own scan worker (see `ScanWorkerLauncher.currentProcess`): when this process
    /// was started as the worker (first argument `argument`), runs the worker and exits; otherwise returns at once.
    /// Call it first thing in `main`.
    public static func runIfRequested(argument: String = "worker") {
        guard CommandLine.arguments.count > 1, CommandLine.arguments[1] == argument else { return }
        exit(run())
    }

    /// Runs one command from stdin and returns the process exit status.
    public static func run() -> Int32 {
        // The worker is its own process: a parent that has gone must end it with EPIPE, not a signal.
        signal(SIGPIPE, SIG_IGN)
        if !deferredCancellationInEffect {
            // The executable does not link `ScanWorkerThreads` (or does not export its symbols): backends then keep
            // their asynchronous cancellation, which can deadlock the worker at the end of a frame (the parent's
            // timeout ends it).
            FileHandle.standardError.write(
                Data("counterkit worker: backend threads stay asynchronously cancellable in this executable (link the ScanWorkerThreads product)\n".utf8))
        }
        let protocolFd = dup(STDOUT_FILENO)
        dup2(STDERR_FILENO, STDOUT_FILENO)
        let writer = WorkerFrameWriter(fd: protocolFd)
        guard let line = readLine(strippingNewline: true),
            let command = try? JSONDecoder().decode(WorkerCommand.self, from: Data(line.utf8))
        else {
            try? writer.send(.failure(ScanError(.invalidValue, "the worker received no valid command")))
            return 2
        }
        do {
            try writer.send(.library(saneVersion: try SANELibrary.initialize()))
            defer { SANELibrary.exit() }
            switch command.action {
            case .devices:
                try writer.send(.devices(try SANELibrary.devices()))
            case .options:
                let (info, device) = try open(command.device)
                var values: [String: String] = [:]
                for descriptor in device.descriptors
                where !descriptor.name.isEmpty && descriptor.capabilities.isActive
                    && descriptor.type != .button && descriptor.type != .group
                {
                    values[descriptor.name] = (try? device.value(descriptor.name))?.description
                }
                try writer.send(.options(device: info, descriptors: device.descriptors, values: values))
            case .scan:
                let request = command.request ?? ScanRequest()
                guard let handle = command.ring else { throw ScanError(.invalidValue, "the worker was given no shared memory for the scan") }
                let ring = try SharedRing(mapping: handle.descriptor, capacity: handle.capacity)
                let (info, device) = try open(request.device)
                do {
                    try scan(request, info: info, device: device, writer: writer, ring: ring)
                } catch {
                    // Report before the device is released: some backends block in sane_cancel/sane_close
                    // after an error, and the parent must not wait on that to learn the outcome.
                    try? writer.send(.failure(error as? ScanError ?? ScanError(.ioError, "\(error)")))
                    return 1
                }
            }
            return 0
        } catch let error as ScanError {
            try? writer.send(.failure(error))
            return 1
        } catch {
            try? writer.send(.failure(ScanError(.ioError, "\(error)")))
            return 1
        }
    }

    private static func open(_ id: String?) throws(ScanError) -> (ScannerInfo, SANEDevice) {
        let devices = (try? SANELibrary.devices()) ?? []
        let name: String
        if let id {
            name = id
        } else if let first = devices.first {
            name = first.id
        } else {
            throw ScanError(.deviceNotFound, "no scanner was found")
        }
        let info = devices.first { $0.id == name } ?? ScannerInfo(id: name, vendor: "", model: "", type: "")
        return (info, try SANEDevice(name: name))
    }

    private static func scan(
        _ request: ScanRequest, info: ScannerInfo, device: SANEDevice, writer: WorkerFrameWriter,
        ring: SharedRing
    ) throws {
        let settings = try OptionNormalization.apply(request, to: device)
        let dpi = (try? device.value("resolution"))?.number ?? 0
        try writer.send(.applied(device: info, settings: settings, dpi: dpi))
        let control = CancelWatch(fd: STDIN_FILENO)
        var output = RingOutput(ring: ring, writer: writer)
        // Only an explicit feeder scans until empty; a flatbed (or an unknown source) gives one page.
        let feeder = settings["source"] == ScanSource.adf.rawValue || settings["source"] == ScanSource.duplex.rawValue
        var pages = 0
        pageLoop: while true {
            var status = device.start()
            if status == SANE_STATUS_NO_DOCS && pages > 0 { break pageLoop }
            while true {
                if control.cancelled { device.cancel(); throw ScanError(.cancelled, "the scan was cancelled") }
                try SANELibrary.check(status, "sane_start")
                let parameters = try device.parameters()
                try writer.send(.frame(parameters))
                try readFrame(device: device, output: &output, control: control)
                try writer.send(.frameEnd)
                if parameters.lastFrame { break }
                status = device.start()
            }
            try writer.send(.pageEnd)
            pages += 1
            if !feeder || pages == request.maxPages { break }
        }
        device.cancel()
        try writer.send(.done(pages: pages))
    }

    private static func readFrame(device: SANEDevice, output: inout RingOutput, control: CancelWatch) throws {
        // Non-blocking reads when the backend offers them with a select fd (SANE 4.3.10 and 4.3.11, both after
        // each sane_start): the worker then sleeps in poll on the select fd and the parent's cancel byte
        // together, so a cancel is seen at once even while the scanner is slow. Without a select fd,
        // non-blocking reads could only be polled, so such backends (and those without the mode) block in
        // sane_read, and cancellation is checked between reads.
        let selectFd = device.selectFileDescriptor()
        let nonBlocking = selectFd != nil && device.setNonBlocking()
        while true {
            if control.cancelled {
                device.cancel()
            } else if nonBlocking, let selectFd, !control.wait(alsoOn: selectFd, milliseconds: 100) {
                // Read only once the select fd is readable, as SANE intends. (The test backend of sane-backends
                // 1.2.1 can answer a read of an empty non-blocking pipe with "good, -1 bytes" and then EOF.)
                continue
            }
            // The backend reads straight into the shared ring; only the count crosses the pipe.
            let target = try output.room(control: control)
            let (status, count) = device.read(into: target)
            guard count >= 0, count <= target.count else { throw ScanError(.ioError, "the scanner backend reported reading \(count) bytes") }
            if count > 0 { try output.written(count) }
            if status == SANE_STATUS_EOF { return }
            if status != SANE_STATUS_GOOD {
                if status == SANE_STATUS_CANCELLED || control.cancelled { throw ScanError(.cancelled, "the scan was cancelled") }
                throw SANELibrary.error(status, "sane_read")
            }
            if count == 0 && !nonBlocking { control.wait(alsoOn: nil, milliseconds: 1) }
        }
    }
}

/// The worker's side of the shared ring: where the next read goes, and the announcement of what it wrote.
struct RingOutput {
    let ring: SharedRing
    let writer: WorkerFrameWriter
    /// Bytes written so far (all frames and pages).
    private var total = 0

    init(ring: SharedRing, writer: WorkerFrameWriter) {
        self.ring = ring
        self.writer = writer
    }

    /// Room for the next read, waiting while the parent still holds the whole ring; a cancel that
    /// arrives meanwhile ends the wait with `cancelled`.
    func room(control: CancelWatch) throws -> UnsafeMutableRawBufferPointer {
        while true {
            let room = ring.writable(after: total)
            if room.count > 0 { return room }
            if ring.prepareToWait(after: total) {
                // The parent writes a byte when it releases room; the timeout is only a safety net.
                control.wait(alsoOn: nil, milliseconds: 100)
                ring.doneWaiting()
            }
            if control.cancelled { throw ScanError(.cancelled, "the scan was cancelled") }
        }
    }

    /// Announces `count` bytes just written where `room` pointed.
    mutating func written(_ count: Int) throws {
        try writer.sendRingData(count: count)
        total += count
    }
}

/// Watches the worker's stdin for the parent's cancel byte (or its EOF, when the parent is gone).
final class CancelWatch {
    private let fd: Int32
    private var seen = false

    init(fd: Int32) { self.fd = fd }

    /// True once the parent has asked to cancel; checks stdin without waiting.
    var cancelled: Bool {
        if !seen { wait(alsoOn: nil, milliseconds: 0) }
        return seen
    }

    /// Waits until `other` is readable, the parent writes, or the time passes; true when `other` is
    /// readable (or has hung up: the next read then reports its end).
    @discardableResult
    func wait(alsoOn other: Int32?, milliseconds: Int32) -> Bool {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        if let other { fds.append(pollfd(fd: other, events: Int16(POLLIN), revents: 0)) }
        guard poll(&fds, nfds_t(fds.count), milliseconds) > 0 else { return false }
        if fds[0].revents != 0 {
            // Wake-up bytes (`w`) may come before a cancel: read them all.
            var bytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            withUnsafeMutableBytes(of: &bytes) { buffer in
                do {
                    let count = try FileDescriptor(rawValue: fd).read(into: buffer)
                    // A cancel, or the parent gone (its end closed): either way the scan stops.
                    if count == 0 || buffer.prefix(count).contains(UInt8(ascii: "c")) { seen = true }
                } catch Errno.wouldBlock {
                } catch {
                    seen = true
                }
            }
        }
        return fds.count > 1 && fds[1].revents != 0
    }
}

extension ScanWorker {
    /// Whether this executable links the `ScanWorkerThreads` product, whose `pthread_setcanceltype` keeps SANE
    /// backends' reader threads cancellable only at cancellation points. Linking it is the executable's choice:
    /// it changes that function for the whole process, so the Scanning library never brings it in by itself.
    public static var deferredCancellationInEffect: Bool {
        // What a backend's call resolves to, against glibc's own definition: different when the executable has its own.
        guard let libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD) else { return false }
        defer { dlclose(libc) }
        let resolved = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pthread_setcanceltype")
        return resolved != nil && resolved != dlsym(libc, "pthread_setcanceltype")
    }
}
