import CLibUSB
import CounterKitCore
import Foundation
import Synchronization

/// Reports USB HID interfaces arriving and leaving. libusb's hotplug callbacks trigger a rescan at once
/// where the platform delivers them (a udev daemon); a periodic rescan covers the rest (containers,
/// the test VM). Changes are found by comparing enumerations, so each arrival and departure is told once.
public final class USBHotplugMonitor: @unchecked Sendable {
    /// One change on the bus.
    public enum Change: Sendable, Equatable {
        /// A pad interface appeared.
        case arrived(USBHIDInterface)
        /// A pad interface went away.
        case left(USBHIDInterface)
    }

    private let interval: Duration
    private let filter: @Sendable (USBHIDInterface) -> Bool
    private let onChange: @Sendable (Change) -> Void
    private let stopping = Atomic<Bool>(false)
    private let rescanNow = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?

    /// Watches interfaces that pass `filter`, rescanning at least every `interval`. Call `start()`.
    public init(
        interval: Duration = .seconds(1), filter: @escaping @Sendable (USBHIDInterface) -> Bool = { _ in true },
        onChange: @escaping @Sendable (Change) -> Void
    ) {
        self.interval = interval
        self.filter = filter
        self.onChange = onChange
    }

    /// Starts watching; the interfaces present now are reported as arrivals first.
    public func start() {
        thread = BlockingCalls.shared.start(named: "counterkit-usb-hotplug") { [self] in run() }
    }

    /// Stops watching and waits for the watcher to end.
    public func stop() {
        guard thread != nil, !stopping.exchange(true, ordering: .relaxed) else { return }
        finished.wait()
    }

    deinit { stop() }

    private func run() {
        defer { finished.signal() }
        // A context of its own for the callbacks; enumeration uses fresh contexts (see USBTransport).
        var context: OpaquePointer?
        var handle: libusb_hotplug_callback_handle = 0
        if libusb_init(&context) == 0, let context, libusb_has_capability(UInt32(LIBUSB_CAP_HAS_HOTPLUG.rawValue)) != 0 {
            let events = Int32(LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED.rawValue | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT.rawValue)
            let callback: libusb_hotplug_callback_fn = { _, _, _, userData in
                if let userData { Unmanaged<USBHotplugMonitor>.fromOpaque(userData).takeUnretainedValue().rescanNow.store(true, ordering: .relaxed) }
                return 0
            }
            libusb_hotplug_register_callback(
                context, events, 0, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
                LIBUSB_HOTPLUG_MATCH_ANY, callback, Unmanaged.passUnretained(self).toOpaque(), &handle)
        }
        defer {
            if let context {
                if handle != 0 { libusb_hotplug_deregister_callback(context, handle) }
                libusb_exit(context)
            }
        }
        var known: [String: USBHIDInterface] = [:]
        var lastScan = ContinuousClock.now - interval
        while !stopping.load(ordering: .relaxed) {
            if let context {
                var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
                libusb_handle_events_timeout_completed(context, &timeout, nil)
            } else {
                usleep(50_000)
            }
            guard rescanNow.exchange(false, ordering: .relaxed) || ContinuousClock.now - lastScan >= interval else { continue }
            lastScan = ContinuousClock.now
            guard let present = try? USBTransport.hidInterfaces().filter(filter) else { continue }
            // Keyed by id and address: a replug into the same port is a departure and an arrival.
            let now = Dictionary(present.map { ("\($0.id)@\($0.bus).\($0.address)", $0) }, uniquingKeysWith: { first, _ in first })
            for (key, interface) in known where now[key] == nil { onChange(.left(interface)) }
            for (key, interface) in now.sorted(by: { $0.key < $1.key }) where known[key] == nil { onChange(.arrived(interface)) }
            known = now
        }
    }
}
