import CounterKitTestSupport
import Foundation
import SignaturePads
import Synchronization

/// Pen report latency at 200 Hz on the test VM's USB stack (an emulated STU-530 on FunctionFS):
/// from the moment a report is queued on the pad to the moment a subscriber holds the decoded sample,
/// for CounterKit (libusb, STU driver, session) and for the named peer, the kernel's own path
/// (usbhid bound, a plain read() loop on /dev/hidrawN), on the same pad in the same run.
func padBenchmark(seconds: Double) throws {
    let emulator = STUEmulator()
    let pad = try FunctionFSPad(name: "bench", emulator: emulator)
    defer { pad.remove() }
    var interface: USBHIDInterface?
    for _ in 0..<100 where interface == nil {
        interface = try USBTransport.hidInterfaces().first { $0.vendorID == STU.vendorID }
        usleep(100_000)
    }
    guard let interface else { print("pad latency: the emulated pad did not appear"); return }
    let count = Int(seconds * 200)

    /// Queues `count` reports at 200 Hz (x carries the index) and returns their queue times.
    func feed() -> [ContinuousClock.Instant] {
        var sent: [ContinuousClock.Instant] = []
        sent.reserveCapacity(count)
        let start = ContinuousClock.now
        for index in 0..<count {
            let due = start + .microseconds(5000 * index)
            while ContinuousClock.now < due { usleep(200) }
            sent.append(ContinuousClock.now)
            emulator.push([
                STU.PenData(
                    ready: true, switches: 1, pressure: 500, x: UInt16(index % 65_536), y: 100,
                    timeCount: UInt16(truncatingIfNeeded: index * 5), sequence: UInt16(truncatingIfNeeded: index))
            ])
        }
        return sent
    }

    func summary(_ name: String, _ sent: [ContinuousClock.Instant], _ received: [Int: ContinuousClock.Instant]) -> Double {
        let latencies = sent.indices.compactMap { index in received[index].map { ($0 - sent[index]) } }
            .map { Double($0.components.attoseconds) / 1e15 + Double($0.components.seconds) * 1000 }.sorted()
        let p99 = latencies.isEmpty ? .infinity : latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        let p50 = latencies.isEmpty ? .infinity : latencies[latencies.count / 2]
        print(
            "  \(name): \(latencies.count)/\(count) reports, p50 \(format(p50)) ms, p99 \(format(p99)) ms, max \(format(latencies.last ?? .infinity)) ms, lost \(count - latencies.count)"
        )
        return p99
    }

    // The peer: usbhid and hidraw.
    _ = try? runCommand(["/sbin/modprobe", "usbhid"])
    _ = try? runCommand(["/sbin/modprobe", "hid_generic"])
    var hidraw: String?
    for _ in 0..<50 where hidraw == nil {
        hidraw = ((try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? []).first { $0.hasPrefix("hidraw") }.map { "/dev/\($0)" }
        usleep(100_000)
    }
    var peerP99 = Double.infinity
    if let hidraw, let fd = Optional(open(hidraw, O_RDONLY)), fd >= 0 {
        let received = Mutex<[Int: ContinuousClock.Instant]>([:])
        let stop = Atomic<Bool>(false)
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 64)
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            while !stop.load(ordering: .relaxed) {
                guard poll(&poller, 1, 100) > 0 else { continue }
                let length = read(fd, &buffer, buffer.count)
                let now = ContinuousClock.now
                if length >= 11, buffer[0] == 0x34 {
                    let index = Int(buffer[3]) << 8 | Int(buffer[4])
                    received.withLock { $0[index] = now }
                }
            }
        }
        reader.start()
        let sent = feed()
        usleep(200_000)
        stop.store(true, ordering: .relaxed)
        close(fd)
        peerP99 = summary("kernel usbhid + hidraw read() (peer)", sent, received.withLock { $0 })
    } else {
        print("  peer: no /dev/hidraw* (usbhid not available)")
    }

    // CounterKit: libusb (detaching usbhid), the STU driver, a session with a subscriber.
    let (connection, driver) = try SignaturePadDrivers.open(interface)
    let received = Mutex<[Int: ContinuousClock.Instant]>([:])
    let session = try SignatureSession(transport: connection, driver: driver) { event in
        if case .samples(let samples) = event {
            let now = ContinuousClock.now
            received.withLock { for sample in samples { $0[Int((sample.x * 100).rounded())] = now } }
        }
    }
    let sent = feed()
    usleep(200_000)
    let signature = try session.finish()
    let ours = summary("counterkit (libusb, STU driver, session subscriber)", sent, received.withLock { $0 })
    print(
        "pad report to subscriber at 200 Hz for \(Int(seconds)) s: counterkit p99 \(format(ours)) ms [target < 2 ms, none lost: \(signature.lostReports == 0 && signature.samples.count == count ? "none lost" : "\(count - signature.samples.count) lost")]; ratio (peer p99 / ours) \(format(peerP99 / ours))x"
    )
}

/// An emulated STU-530 on FunctionFS whose pen draws a short stroke (pen down, 40 points, pen up) every second for
/// `seconds`: a citizen who signs whenever a session asks. Prints `pad ready` once the pad is on the bus.
func emulatePad(seconds: Double) throws {
    let emulator = STUEmulator()
    let pad = try FunctionFSPad(name: "soak", emulator: emulator)
    defer { pad.remove() }
    for _ in 0..<100 {
        if try USBTransport.hidInterfaces().contains(where: { $0.vendorID == STU.vendorID }) { break }
        usleep(100_000)
    }
    FileHandle.standardOutput.write(Data("pad ready\n".utf8))
    let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    var sequence = 0
    while ContinuousClock.now < end {
        for index in 0...40 {
            sequence += 1
            let down = index < 40
            emulator.push([
                STU.PenData(
                    ready: true, switches: down ? 1 : 0, pressure: down ? 600 : 0, x: UInt16(1000 + index * 60),
                    y: UInt16(1500 + (index % 10) * 40), timeCount: UInt16(truncatingIfNeeded: sequence * 5),
                    sequence: UInt16(truncatingIfNeeded: sequence))
            ])
            usleep(5000)
        }
        usleep(800_000)
    }
}
