import CV4L2
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Memory-mapped streaming on an open device: buffers requested and mapped,
/// queued, streaming started; `stop()` (or deinit) undoes all of it.
final class CaptureStream {
    /// A dequeued frame; hand it back with `requeue(_:)`.
    struct Frame {
        var index: UInt32
        var bytes: UnsafeRawBufferPointer
        var sequence: UInt32
        var flaggedError: Bool
    }

    private let device: V4L2Device
    private var mappings: [UnsafeMutableRawBufferPointer] = []
    private var streaming = false
    private var requested = false

    /// Requests `count` buffers, maps and queues them, and starts streaming.
    init(device: V4L2Device, count: Int = 4) throws(CameraError) {
        self.device = device
        do throws(CameraError) {
            var request = v4l2_requestbuffers()
            request.count = UInt32(count)
            request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            request.memory = V4L2_MEMORY_MMAP.rawValue
            try device.check(ck_vidioc_reqbufs, &request, "VIDIOC_REQBUFS")
            requested = true
            guard request.count > 0 else { throw CameraError(.ioError, "the driver granted no capture buffers") }
            for index in 0..<request.count {
                var buffer = v4l2_buffer()
                buffer.index = index
                buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
                buffer.memory = V4L2_MEMORY_MMAP.rawValue
                try device.check(ck_vidioc_querybuf, &buffer, "VIDIOC_QUERYBUF")
                let address = mmap(nil, Int(buffer.length), PROT_READ | PROT_WRITE, MAP_SHARED, device.fd, off_t(buffer.m.offset))
                guard let address, address != MAP_FAILED else {
                    throw V4L2Device.error(errno, "mapping capture buffer \(index)", path: device.path)
                }
                mappings.append(UnsafeMutableRawBufferPointer(start: address, count: Int(buffer.length)))
                try queue(index)
            }
            var type = Int32(bitPattern: V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
            try device.check(ck_vidioc_streamon, &type, "VIDIOC_STREAMON")
            streaming = true
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    private func queue(_ index: UInt32) throws(CameraError) {
        var buffer = v4l2_buffer()
        buffer.index = index
        buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        buffer.memory = V4L2_MEMORY_MMAP.rawValue
        try device.check(ck_vidioc_qbuf, &buffer, "VIDIOC_QBUF")
    }

    /// Gives a frame's buffer back to the driver.
    func requeue(_ frame: Frame) throws(CameraError) { try queue(frame.index) }

    /// Waits up to `timeout` for the next frame; nil when none came in time.
    /// A frame is returned even when the driver flagged it bad, so the caller can count it.
    func next(timeout: Duration, cancelled: () -> Bool) throws(CameraError) -> Frame? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if cancelled() { throw CameraError(.cancelled, "the photo was cancelled") }
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { return nil }
            // Poll in short slices so cancellation is noticed promptly.
            let slice = min(remaining, .milliseconds(100))
            var poller = pollfd(fd: device.fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(slice.components.seconds * 1000 + slice.components.attoseconds / 1_000_000_000_000_000)
            let ready = poll(&poller, 1, max(milliseconds, 1))
            if ready < 0 {
                if errno == EINTR { continue }
                throw V4L2Device.error(errno, "waiting for a frame", path: device.path)
            }
            if ready == 0 { continue }
            var buffer = v4l2_buffer()
            buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            buffer.memory = V4L2_MEMORY_MMAP.rawValue
            let code = device.ioctl(ck_vidioc_dqbuf, &buffer)
            if code == EAGAIN {
                if poller.revents & Int16(POLLERR | POLLHUP) != 0 {
                    throw CameraError(.ioError, "the driver reported a streaming error on \(device.path)")
                }
                continue
            }
            if code != 0 {
                if code == EIO {
                    throw CameraError(.ioError, "the driver stopped streaming with an error on \(device.path)")
                }
                throw V4L2Device.error(code, "VIDIOC_DQBUF", path: device.path)
            }
            let mapping = mappings[Int(buffer.index)]
            let used = min(Int(buffer.bytesused), mapping.count)
            return Frame(
                index: buffer.index, bytes: UnsafeRawBufferPointer(rebasing: mapping[0..<used]),
                sequence: buffer.sequence, flaggedError: buffer.flags & UInt32(V4L2_BUF_FLAG_ERROR) != 0)
        }
    }

    /// Stops streaming, unmaps and frees the buffers. Safe to call twice.
    func stop() {
        if streaming {
            var type = Int32(bitPattern: V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
            device.ioctl(ck_vidioc_streamoff, &type)
            streaming = false
        }
        for mapping in mappings { munmap(mapping.baseAddress, mapping.count) }
        mappings = []
        if requested {
            var request = v4l2_requestbuffers()
            request.count = 0
            request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            request.memory = V4L2_MEMORY_MMAP.rawValue
            device.ioctl(ck_vidioc_reqbufs, &request)
            requested = false
        }
    }
}
