import CLibUSB
import Foundation

/// Keeps several interrupt IN transfers in flight, as the kernel's HID driver does, so that a report
/// never waits for the next transfer to be submitted. Completed reports queue up; `next` hands them out,
/// running libusb's event handling on the calling thread while it waits. One thread reads at a time.
final class InterruptReader: @unchecked Sendable {
    private let context: OpaquePointer
    private var transfers: [UnsafeMutablePointer<libusb_transfer>] = []
    private let lock = NSLock()
    private var queue: [[UInt8]] = []
    private var failure: Int32?
    private var inFlight = 0
    private var stopping = false

    /// Allocates `count` transfers of `size` bytes on `endpoint` and submits them.
    init(context: OpaquePointer, handle: OpaquePointer, endpoint: UInt8, size: Int, count: Int = 4) throws(SignaturePadError) {
        self.context = context
        for _ in 0..<count {
            guard let transfer = libusb_alloc_transfer(0) else { throw SignaturePadError(.ioError, "libusb could not allocate a transfer") }
            let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
            transfer.pointee.dev_handle = handle
            transfer.pointee.endpoint = endpoint
            transfer.pointee.type = UInt8(LIBUSB_TRANSFER_TYPE_INTERRUPT.rawValue)
            transfer.pointee.timeout = 0
            transfer.pointee.buffer = buffer
            transfer.pointee.length = Int32(size)
            transfer.pointee.user_data = Unmanaged.passUnretained(self).toOpaque()
            transfer.pointee.callback = { transfer in
                guard let transfer, let owner = transfer.pointee.user_data else { return }
                Unmanaged<InterruptReader>.fromOpaque(owner).takeUnretainedValue().completed(transfer)
            }
            transfers.append(transfer)
        }
        for transfer in transfers {
            let status = libusb_submit_transfer(transfer)
            guard status == 0 else {
                cancel()
                throw USBTransport.error(status, "starting interrupt transfers")
            }
            lock.withLock { inFlight += 1 }
        }
    }

    /// Runs on the event-handling thread (inside `next`).
    private func completed(_ transfer: UnsafeMutablePointer<libusb_transfer>) {
        let status = transfer.pointee.status
        lock.lock()
        inFlight -= 1
        if status == LIBUSB_TRANSFER_COMPLETED {
            queue.append(Array(UnsafeBufferPointer(start: transfer.pointee.buffer, count: Int(transfer.pointee.actual_length))))
        } else if status != LIBUSB_TRANSFER_CANCELLED, failure == nil {
            failure = status == LIBUSB_TRANSFER_NO_DEVICE ? LIBUSB_ERROR_NO_DEVICE.rawValue : LIBUSB_ERROR_IO.rawValue
        }
        let resubmit = !stopping && failure == nil
        lock.unlock()
        if resubmit {
            if libusb_submit_transfer(transfer) == 0 {
                lock.withLock { inFlight += 1 }
            } else {
                lock.withLock { failure = failure ?? LIBUSB_ERROR_NO_DEVICE.rawValue }
            }
        }
    }

    /// What waiting for a report gave.
    enum Outcome {
        case report([UInt8])
        case timedOut
        /// A transfer failed with this libusb error code.
        case failed(Int32)
    }

    /// The next report, or why there is none.
    func next(timeoutMilliseconds: UInt32) -> Outcome {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeoutMilliseconds))
        while true {
            let state: (report: [UInt8]?, failure: Int32?) = lock.withLock {
                if !queue.isEmpty { return (queue.removeFirst(), nil) }
                return (nil, failure)
            }
            if let report = state.report { return .report(report) }
            if let failure = state.failure { return .failed(failure) }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return .timedOut }
            let microseconds = Int(remaining.components.seconds) * 1_000_000 + Int(remaining.components.attoseconds / 1_000_000_000_000)
            var timeout = timeval(tv_sec: microseconds / 1_000_000, tv_usec: Int(microseconds % 1_000_000))
            libusb_handle_events_timeout_completed(context, &timeout, nil)
        }
    }

    /// Cancels the transfers, waits for their callbacks, and frees them.
    func cancel() {
        lock.withLock { stopping = true }
        for transfer in transfers { libusb_cancel_transfer(transfer) }
        for _ in 0..<100 where lock.withLock({ inFlight > 0 }) {
            var timeout = timeval(tv_sec: 0, tv_usec: 10_000)
            libusb_handle_events_timeout_completed(context, &timeout, nil)
        }
        for transfer in transfers {
            transfer.pointee.buffer.deallocate()
            libusb_free_transfer(transfer)
        }
        transfers = []
    }
}
