import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Every file created in (or moved into) some directories and their new subdirectories while it runs, as the kernel's
/// inotify reports them: for tests that must know what a process wrote to disk, even files it removed again.
public final class FileCreationWatch: Sendable {
    private let fd: Int32
    private let watched = Mutex<[Int32: String]>([:])
    private let seen = Mutex<[String]>([])
    private let stopping = Atomic<Bool>(false)
    private let reader: Thread.Detached

    /// Starts watching `directories` (which must exist).
    public init(_ directories: [String]) throws {
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        reader = Thread.Detached()
        for directory in directories { add(directory) }
        let fd = self.fd
        reader.start { [self] in
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while !stopping.load(ordering: .acquiring) {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 50) > 0 else { continue }
                drain(&buffer)
            }
        }
    }

    /// Stops watching and returns the paths of every file and directory created, in order.
    public func stop() -> [String] {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        stopping.store(true, ordering: .releasing)
        reader.join()
        drain(&buffer)
        close(fd)
        return seen.withLock { $0 }
    }

    private func add(_ directory: String) {
        let descriptor = inotify_add_watch(fd, directory, UInt32(IN_CREATE | IN_MOVED_TO | IN_ONLYDIR))
        if descriptor >= 0 { watched.withLock { $0[descriptor] = directory } }
    }

    private func drain(_ buffer: inout [UInt8]) {
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let (descriptor, mask, length) = buffer.withUnsafeBytes { raw in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    return (event.wd, event.mask, Int(event.len))
                }
                let nameStart = offset + MemoryLayout<inotify_event>.size
                let name = String(decoding: buffer[nameStart..<nameStart + length].prefix { $0 != 0 }, as: UTF8.self)
                offset = nameStart + length
                guard let directory = watched.withLock({ $0[descriptor] }), !name.isEmpty else { continue }
                let path = directory + "/" + name
                seen.withLock { $0.append(path) }
                if mask & UInt32(IN_ISDIR) != 0 { add(path) }
            }
        }
    }
}

extension Thread {
    /// A plain thread that runs one closure and can be joined.
    final class Detached: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)

        func start(_ body: @escaping @Sendable () -> Void) {
            let done = self.done
            Thread {
                body()
                done.signal()
            }.start()
        }

        func join() { done.wait() }
    }
}
