import Attachments
import Cameras
import Foundation
import Synchronization

/// Live camera pictures shared by any number of viewers: one open device and one capture loop per camera, whoever
/// watches. Each viewer has a queue of one frame (the newest wins), so a slow viewer skips frames and nothing grows.
/// When the last viewer leaves the camera stays open for `linger` so the next viewer does not pay a reopen; a photo
/// asked for meanwhile comes from the running stream.
package actor SharedCameraStreams {
    /// Viewers of one stream; the capture thread hands each frame to all of them.
    final class Viewers: Sendable {
        private let continuations = Mutex<[UUID: AsyncThrowingStream<PreviewFrame, any Error>.Continuation]>([:])

        func add(_ id: UUID, _ continuation: AsyncThrowingStream<PreviewFrame, any Error>.Continuation) {
            continuations.withLock { $0[id] = continuation }
        }

        /// Removes a viewer; the number left.
        func remove(_ id: UUID) -> Int {
            continuations.withLock {
                $0.removeValue(forKey: id); return $0.count
            }
        }

        var count: Int { continuations.withLock { $0.count } }

        func deliver(_ frame: PreviewFrame) {
            for continuation in continuations.withLock({ Array($0.values) }) { continuation.yield(frame) }
        }

        func end(_ error: CameraError?) {
            let all = continuations.withLock { all in
                defer { all = [:] }; return Array(all.values)
            }
            for continuation in all { continuation.finish(throwing: error) }
        }
    }

    /// The last frame number a stream delivered (written by its capture thread only).
    private final class FrameCount: @unchecked Sendable {
        var last = 0
    }

    private struct Running {
        var stream: CameraStream
        var viewers: Viewers
        /// Photos being taken from the stream (they keep it open like viewers do).
        var photos = 0
        var linger: Task<Void, Never>?
    }

    private var running: [String: Running] = [:]
    /// Cameras being opened (the actor may take other calls while it waits for the lane), with the viewers waiting to
    /// share each stream once it is open.
    private var opening: [String: [CheckedContinuation<Void, Never>]] = [:]
    private let jobs: JobManager
    private let observer: any DeviceHubObserver
    /// How long a camera stays open after its last viewer leaves.
    public let linger: Duration

    /// Previews whose cameras are reserved on `jobs`' lanes while they stream; `observer` hears when each starts and ends.
    public init(jobs: JobManager, linger: Duration = .seconds(2), observer: any DeviceHubObserver = IgnoringObserver()) {
        self.jobs = jobs
        self.linger = linger
        self.observer = observer
    }

    /// Frames of camera `id` (opened through `camera` at `request`'s size if no stream runs yet; a running stream is
    /// shared at its own size). Ending the iteration leaves; a disconnect ends every viewer's stream with its error.
    public func watch(
        _ id: String, path: String, camera: PhotoCamera,
        request: PreviewRequest
    ) async throws(DeviceHubError) -> (stream: CameraStream, frames: AsyncThrowingStream<PreviewFrame, any Error>) {
        // A viewer arriving while another opens the camera waits for it and shares its stream.
        while opening[id] != nil { await withCheckedContinuation { opening[id]!.append($0) } }
        if let existing = running[id], existing.stream.hasEnded { await ended(id) }
        let entry: Running
        if let existing = running[id] {
            entry = existing
        } else {
            opening[id] = []
            defer { for waiter in opening.removeValue(forKey: id) ?? [] { waiter.resume() } }
            guard await jobs.reserve(id) else { throw DeviceHubError(.deviceBusy, "\(id) is busy with a photo; retry when it ends") }
            let viewers = Viewers()
            var opened = request
            opened.device = path
            do {
                let observer = self.observer
                let counted = FrameCount()
                let stream = try CameraStream(
                    camera: camera, request: opened,
                    frames: { frame in
                        counted.last = frame.sequence
                        viewers.deliver(frame)
                    },
                    ended: { error in
                        viewers.end(error)
                        observer.previewEnded(id, frames: counted.last, error: error)
                        Task { await self.ended(id) }
                    })
                observer.previewStarted(id, size: stream.size, pixelFormat: stream.pixelFormat)
                entry = Running(stream: stream, viewers: viewers)
            } catch {
                await jobs.release(id)
                throw error
            }
            running[id] = entry
        }
        running[id]?.linger?.cancel()
        running[id]?.linger = nil
        let token = UUID()
        let (frames, continuation) = AsyncThrowingStream<PreviewFrame, any Error>.makeStream(bufferingPolicy: .bufferingNewest(1))
        entry.viewers.add(token, continuation)
        continuation.onTermination = { _ in Task { await self.left(id, token) } }
        return (entry.stream, frames)
    }

    /// The running stream of camera `id`, held open until `release(_:)`; nil when none runs.
    public func lease(_ id: String) -> CameraStream? {
        guard let entry = running[id], !entry.stream.hasEnded else { return nil }
        running[id]?.photos += 1
        running[id]?.linger?.cancel()
        running[id]?.linger = nil
        return entry.stream
    }

    /// Gives back a lease.
    public func release(_ id: String) {
        guard running[id] != nil else { return }
        running[id]!.photos -= 1
        scheduleClose(id)
    }

    /// Whether camera `id` is streaming, and to how many viewers.
    public func viewers(_ id: String) -> Int? { running[id].map { $0.viewers.count } }

    /// Stops every stream (service shutdown).
    public func shutdown() {
        for entry in running.values { entry.stream.stop() }
    }

    private func left(_ id: String, _ token: UUID) {
        guard let entry = running[id] else { return }
        _ = entry.viewers.remove(token)
        scheduleClose(id)
    }

    private func scheduleClose(_ id: String) {
        guard let entry = running[id], entry.viewers.count == 0, entry.photos == 0, entry.linger == nil else { return }
        let linger = self.linger
        running[id]!.linger = Task {
            try? await Task.sleep(for: linger)
            guard !Task.isCancelled else { return }
            self.closeIfIdle(id)
        }
    }

    private func closeIfIdle(_ id: String) {
        guard let entry = running[id], entry.viewers.count == 0, entry.photos == 0 else { return }
        entry.stream.stop()
    }

    /// The stream ended (stopped or failed): the camera is free again.
    private func ended(_ id: String) async {
        guard let entry = running[id], entry.stream.hasEnded else { return }
        entry.linger?.cancel()
        running[id] = nil
        await jobs.release(id)
    }
}
