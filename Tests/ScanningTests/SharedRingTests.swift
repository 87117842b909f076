import Attachments
import CounterKitTestSupport
import Foundation
import Testing

@testable import Scanning

/// The shared memory between the scan worker and the parent: its arithmetic, its checks on what the
/// worker announces, and real scans through a ring far smaller than the page.
@Suite(.ownThreads) struct SharedRingTests {
    static let capacity = SharedRing.minimumCapacity

    /// The parent's ring and the worker's own mapping of the same memfd.
    static func pair() throws -> (parent: SharedRing, worker: SharedRing) {
        let parent = try SharedRing(capacity: capacity)
        return (parent, try SharedRing(mapping: dup(parent.fd), capacity: capacity))
    }

    @Test func theWorkerWritesUpToTheEndThenWaitsUntilTheParentReleases() throws {
        let (parent, worker) = try Self.pair()
        let first = worker.writable(after: 0)
        #expect(first.count == Self.capacity)
        for index in 0..<first.count { first[index] = UInt8(truncatingIfNeeded: index * 7) }

        // The parent sees those bytes through its own mapping.
        let seen = try #require(parent.readable(at: 0, count: Self.capacity))
        #expect(seen.elementsEqual((0..<Self.capacity).map { UInt8(truncatingIfNeeded: $0 * 7) }))

        // Full: the worker has no room and marks itself waiting.
        #expect(worker.writable(after: Self.capacity).count == 0)
        #expect(worker.prepareToWait(after: Self.capacity))
        // Releasing less than a minimum read leaves it waiting; the parent is still told to wake it.
        #expect(parent.release(upTo: SharedRing.minimumRead / 2))
        #expect(worker.writable(after: Self.capacity).count == 0)
        // Enough released: the room is at the start of the ring again, and nobody waits any more.
        #expect(!parent.release(upTo: SharedRing.minimumRead))
        let wrapped = worker.writable(after: Self.capacity)
        #expect(wrapped.count == SharedRing.minimumRead)
        #expect(wrapped.baseAddress == first.baseAddress)
    }

    @Test func aWorkerWithRoomDoesNotWait() throws {
        let (parent, worker) = try Self.pair()
        #expect(!worker.prepareToWait(after: 10))
        #expect(!parent.release(upTo: 10), "the parent is not asked to wake a worker that never slept")
    }

    @Test func nearTheEndTheWorkerReadsWhatIsLeftBeforeTheEnd() throws {
        let (parent, worker) = try Self.pair()
        // 100 bytes short of the end, everything before released: only those 100 bytes, never across the end.
        let written = Self.capacity - 100
        _ = parent.release(upTo: written)
        #expect(worker.writable(after: written).count == 100)
    }

    @Test func announcementsOutsideTheRingAreRefused() throws {
        let ring = try SharedRing(capacity: Self.capacity)
        #expect(ring.readable(at: 0, count: 0) == nil)
        #expect(ring.readable(at: 0, count: Self.capacity + 1) == nil)
        #expect(ring.readable(at: Self.capacity - 10, count: 11) == nil)
        #expect(ring.readable(at: Self.capacity - 10, count: 10)?.count == 10)
    }

    @Test func theWorkerCannotResizeTheRingUnderTheParent() throws {
        let (_, worker) = try Self.pair()
        #expect(ftruncate(worker.fd, 0) == -1 && errno == EPERM, "shrinking is sealed")
        #expect(ftruncate(worker.fd, off_t(8 * Self.capacity)) == -1 && errno == EPERM, "growing is sealed")
    }

    @Test func aMappingOfTheWrongSizeIsRefused() throws {
        let ring = try SharedRing(capacity: Self.capacity)
        #expect(throws: ScanError.self) { try SharedRing(mapping: dup(ring.fd), capacity: Self.capacity * 2) }
        #expect(throws: ScanError.self) { try SharedRing(capacity: 4096) }
    }

    /// Frames as a worker gone wrong could write them: the parent ends the scan as `backend_crashed`.
    @Test(arguments: [
        ("more than the ring holds", [WorkerFrame.ringData, 4, 0, 0, 0, 0x01, 0x00, 0x02, 0x00]),
        ("no bytes", [WorkerFrame.ringData, 4, 0, 0, 0, 0, 0, 0, 0]),
        ("a count of the wrong size", [WorkerFrame.ringData, 2, 0, 0, 0, 0x10, 0x00]),
        ("image bytes in the pipe itself", [2, 3, 0, 0, 0, 1, 2, 3]),
    ])
    func badAnnouncementsAreABackendCrash(_ name: String, _ bytes: [UInt8]) throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        #expect(write(ends[1], bytes, bytes.count) == bytes.count)
        close(ends[1])
        let reader = WorkerFrameReader(fd: ends[0], ringCapacity: Self.capacity)
        let error = #expect(throws: ScanError.self, "\(name)") { try reader.next(pollMilliseconds: 1000) }
        #expect(error?.code == .backendCrashed)
    }

    /// A 300 dpi page of 16.7 MB through a 128 KiB ring: the worker wraps it over a hundred times and
    /// waits for room whenever the encoder lags; the pixels are still scanimage's.
    @Test(arguments: [[:], ["read-limit": "yes", "read-limit-size": "7919"]])
    func aPageFarLargerThanTheRingArrivesExact(_ options: [String: String]) throws {
        let directory = try TemporaryDirectory("counterkit-ring")
        let scanner = SANEScanner(
            store: try AttachmentStore(directory: directory.url), worker: SANETestBackend.launcher,
            idleTimeout: .seconds(30), discoveryTimeout: .seconds(15), ringCapacity: Self.capacity)
        var request = ScanRequest(
            device: "test:0", mode: .color, resolution: 300, area: ScanArea(x: 0, y: 0, width: 200, height: 200),
            format: .pnm)
        request.options = options.merging(["test-picture": "Color pattern"]) { $1 }
        let result = try scanner.scan(request)
        let ours = try DecodedImage.pnm([UInt8](try Data(contentsOf: try scanner.store.fileURL(id: result.attachments[0].id))))
        var arguments = ["--mode", "Color", "--test-picture", "Color pattern", "--resolution", "300", "-l", "0", "-t", "0", "-x", "200", "-y", "200"]
        if options["read-limit"] != nil { arguments += ["--read-limit=yes", "--read-limit-size", "7919"] }
        let reference = try SANETestBackend.scanimage(arguments)
        #expect(ours.width == reference.width && ours.height == reference.height)
        #expect(ours.width * ours.height * 3 > 100 * Self.capacity)
        #expect(ours.pixels == reference.pixels)
    }
}
