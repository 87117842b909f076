import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Shared memory (a memfd mapped by both processes) through which the worker hands image bytes to the
/// parent: `sane_read` writes straight into it, and only a 9-byte frame saying how many bytes crosses the
/// pipe. That saves the two copies a pipe costs (into the kernel and out again) on every byte of a page.
///
/// The bytes are a ring used in order: the worker writes at `written % capacity`, never across the end,
/// and the parent reads them at the same place. The first page of the mapping holds two counters:
/// `consumed` (bytes the parent has finished with) and `waiting` (set by a worker that found the ring
/// full and sleeps on its stdin). A parent that releases bytes while `waiting` is set wakes it with a byte.
final class SharedRing {
    /// The default capacity: about 280 lines of a 600 dpi colour A4 page.
    static let defaultCapacity = 4 << 20
    /// The smallest capacity a ring may have.
    static let minimumCapacity = 1 << 17
    /// The worker reads at most this much in one `sane_read`.
    static let maximumRead = 1 << 20
    /// The worker waits for room rather than read less than this (or the whole ring, if smaller).
    static let minimumRead = 1 << 16
    private static let controlSize = 4096
    private static let consumedOffset = 0
    private static let waitingOffset = 64

    /// The memfd; the parent passes it to the worker.
    let fd: Int32
    /// Bytes of image data the ring holds.
    let capacity: Int
    private let mapping: UnsafeMutableRawPointer
    /// Where the image bytes start.
    let bytes: UnsafeMutableRawPointer

    // Linux's constants for memfd_create and file seals, which Swift's Glibc module does not export.
    private static let closeOnExec: UInt32 = 1  // MFD_CLOEXEC
    private static let allowSealing: UInt32 = 2  // MFD_ALLOW_SEALING
    private static let addSeals: Int32 = 1033  // F_ADD_SEALS (F_LINUX_SPECIFIC_BASE + 9)
    private static let sealSeal: Int32 = 1, sealShrink: Int32 = 2, sealGrow: Int32 = 4

    /// glibc's `memfd_create`, which Swift's Glibc module does not import.
    private static let memfdCreate: (@convention(c) (UnsafePointer<CChar>, UInt32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "memfd_create") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafePointer<CChar>, UInt32) -> Int32).self)
    }()

    /// Creates a ring (parent side). The memfd is close-on-exec; the worker gets it by an explicit dup.
    convenience init(capacity: Int = SharedRing.defaultCapacity) throws(ScanError) {
        guard capacity >= Self.minimumCapacity, capacity % 4096 == 0 else {
            throw ScanError(.invalidValue, "a scan ring holds at least \(Self.minimumCapacity) bytes, in whole pages")
        }
        guard let memfdCreate = Self.memfdCreate else { throw ScanError(.noMemory, "this system has no memfd_create for the scan's shared memory") }
        let fd = memfdCreate("counterkit-scan", Self.closeOnExec | Self.allowSealing)
        guard fd >= 0 else { throw ScanError.lastSystemCall(.noMemory, "cannot create the scan's shared memory") }
        // Sealed at its size: a worker gone wrong cannot shrink it under the parent's mapping, where reading
        // the lost pages would end the parent with SIGBUS.
        guard ftruncate(fd, off_t(Self.controlSize + capacity)) == 0,
            fcntl(fd, Self.addSeals, Self.sealShrink | Self.sealGrow | Self.sealSeal) == 0
        else {
            let error = ScanError.lastSystemCall(.noMemory, "cannot size and seal the scan's shared memory")
            close(fd)
            throw error
        }
        do {
            try self.init(mapping: fd, capacity: capacity)
        } catch {
            close(fd)
            throw error
        }
        consumedCounter.initialize(to: Atomic(0))
        waitingFlag.initialize(to: Atomic(0))
    }

    /// Maps a ring the parent made (worker side); checks that the memfd is as large as announced.
    init(mapping fd: Int32, capacity: Int) throws(ScanError) {
        var status = stat()
        guard capacity >= Self.minimumCapacity, fstat(fd, &status) == 0, Int(status.st_size) == Self.controlSize + capacity else {
            throw ScanError(.invalidValue, "the scan's shared memory is missing or not of the announced size")
        }
        guard let mapped = mmap(nil, Self.controlSize + capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            throw ScanError.lastSystemCall(.noMemory, "cannot map the scan's shared memory")
        }
        self.fd = fd
        self.capacity = capacity
        mapping = mapped
        bytes = mapped + Self.controlSize
    }

    deinit {
        munmap(mapping, Self.controlSize + capacity)
        close(fd)
    }

    private var consumedCounter: UnsafeMutablePointer<Atomic<Int>> {
        (mapping + Self.consumedOffset).assumingMemoryBound(to: Atomic<Int>.self)
    }

    private var waitingFlag: UnsafeMutablePointer<Atomic<Int>> {
        (mapping + Self.waitingOffset).assumingMemoryBound(to: Atomic<Int>.self)
    }

    // MARK: Worker side

    /// Where the worker may write next, given `written` bytes so far: up to the end of the ring and
    /// within what the parent has released, at most `maximumRead`. Empty when it must wait for room.
    func writable(after written: Int) -> UnsafeMutableRawBufferPointer {
        // Sequentially consistent: after `prepareToWait`'s store, this load must not move ahead of it.
        let free = capacity - (written - consumedCounter.pointee.load(ordering: .sequentiallyConsistent))
        let start = written % capacity
        let length = min(free, capacity - start, Self.maximumRead)
        guard free >= Self.minimumRead || length == capacity - start, length > 0 else {
            return UnsafeMutableRawBufferPointer(start: bytes + start, count: 0)
        }
        return UnsafeMutableRawBufferPointer(start: bytes + start, count: length)
    }

    /// Marks the worker as about to sleep for room; false (and not marked) when room appeared meanwhile.
    func prepareToWait(after written: Int) -> Bool {
        waitingFlag.pointee.store(1, ordering: .sequentiallyConsistent)
        if writable(after: written).count > 0 {
            waitingFlag.pointee.store(0, ordering: .relaxed)
            return false
        }
        return true
    }

    /// The worker is awake again.
    func doneWaiting() { waitingFlag.pointee.store(0, ordering: .relaxed) }

    // MARK: Parent side

    /// The bytes the worker announced, at the parent's read position, after checking they lie in the ring.
    func readable(at position: Int, count: Int) -> UnsafeRawBufferPointer? {
        let start = position % capacity
        guard count > 0, count <= capacity - start else { return nil }
        return UnsafeRawBufferPointer(start: bytes + start, count: count)
    }

    /// The parent is done with everything before `position`; true when the worker sleeps waiting for room
    /// (the caller then wakes it).
    func release(upTo position: Int) -> Bool {
        consumedCounter.pointee.store(position, ordering: .sequentiallyConsistent)
        return waitingFlag.pointee.exchange(0, ordering: .sequentiallyConsistent) != 0
    }
}
