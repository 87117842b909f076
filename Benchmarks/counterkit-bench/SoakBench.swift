// Load and soak: 64 keep-alive connections mixing device listing, job polling, event streams and scans against
// libsane's test backend, then the accounts: every job finished, descriptors and memory back to their baseline.
import DeviceService
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Resident memory of a process, in KiB (`VmRSS`).
func residentKiB(_ pid: pid_t) -> Int {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

/// Open file descriptors of a process.
func openDescriptors(_ pid: pid_t) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
}

/// What the load threads counted.
struct SoakTally {
    var latencies: [Double] = []
    var deviceLatencies: [Double] = []
    var submitted: [String] = []
    /// Each accepted job's final state, as its submitter saw it.
    var finals: [String: String] = [:]
    var busy = 0
    var streams = 0
    var streamEvents = 0
    var errors: [String] = []
}

/// Reads one server-sent event stream to its end on a connection of its own; the number of events, or nil.
func readEventStream(socket path: String, _ target: String) -> Int? {
    guard let fd = UnixSocket.connect(path) else { return nil }
    defer { close(fd) }
    let request = Array("GET \(target) HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
    var timeout = timeval(tv_sec: 30, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16384)
    // The service ends the stream after the job's last event and closes the connection (Connection: close).
    while true {
        let count = recv(fd, &buffer, buffer.count, 0)
        if count <= 0 { break }
        received += buffer[0..<count]
    }
    let text = String(decoding: received, as: UTF8.self)
    guard text.hasPrefix("HTTP/1.1 200") else { return nil }
    return text.components(separatedBy: "\nevent: ").count - 1
}

/// Polls a job until it ends; its final state ("lost" when the service stops answering for it).
func followJob(_ connection: KeepAliveConnection, _ id: String) -> String {
    for _ in 0..<6000 {
        if let answer = connection.send("GET", "/v1/jobs/\(id)"), answer.status == 200,
            let job = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any],
            let state = job["state"] as? String, ["completed", "failed", "cancelled"].contains(state)
        {
            return state
        }
        usleep(10_000)
    }
    return "lost"
}

/// Runs the soak and prints its figures; whether every account balanced.
func soakBenchmark(counterkit: String, environment: [String: String], work: URL, duration: Double) -> Bool {
    let connections = 64
    print("== Soak: \(connections) keep-alive connections for \(Int(duration)) s: device listing, job polling, event streams and scans (SANE test backend)")
    let socket = work.appendingPathComponent("soak.sock").path
    let pid = launch(
        [counterkit, "serve", "--socket", socket, "--spool", work.appendingPathComponent("soak-spool").path, "--log-level", "error"],
        environment: environment)
    defer { stop(pid) }
    let control = KeepAliveConnection(socket: socket)
    while control.send("GET", "/v1/health")?.status != 200 { usleep(20_000) }
    // Warm-up: every route the load uses, once or more, so that caches and pools exist before the baseline.
    for _ in 0..<200 { _ = control.send("GET", "/v1/devices") }
    for device in ["test:0", "test:1"] {
        _ = control.send("POST", "/v1/scans?wait=true", body: #"{"device":"\#(device)","resolution":50}"#)
    }
    _ = readEventStream(socket: socket, "/v1/jobs/none/events")
    sleep(1)
    let baseline = (rss: residentKiB(pid), fds: openDescriptors(pid))

    let tally = Mutex(SoakTally())
    let deadline = ContinuousClock.now + .milliseconds(Int(duration * 1000))
    let started = ContinuousClock.now
    let group = DispatchGroup()
    for index in 0..<connections {
        group.enter()
        Thread.detachNewThread {
            defer { group.leave() }
            let connection = KeepAliveConnection(socket: socket)
            var random = SystemRandomNumberGenerator()
            while ContinuousClock.now < deadline {
                switch index {
                case 0..<4:
                    // Scans on both test scanners; a busy scanner is refused with 409 device_busy, the expected refusal.
                    let begin = ContinuousClock.now
                    guard let answer = connection.send("POST", "/v1/scans", body: #"{"device":"test:\#(index % 2)","resolution":50}"#) else {
                        tally.withLock { $0.errors.append("POST /v1/scans: no answer") }
                        continue
                    }
                    let elapsed = seconds(ContinuousClock.now - begin)
                    let object = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
                    let accepted = answer.status == 202 ? object?["id"] as? String : nil
                    tally.withLock { tally in
                        tally.latencies.append(elapsed)
                        if let accepted {
                            tally.submitted.append(accepted)
                        } else if answer.status == 409, (object?["error"] as? [String: Any])?["code"] as? String == "device_busy" {
                            tally.busy += 1
                        } else {
                            tally.errors.append("POST /v1/scans: \(answer.status)")
                        }
                    }
                    // The submitter follows its job to the end (even past the deadline), so that every job is accounted for.
                    if let id = accepted {
                        let final = followJob(connection, id)
                        tally.withLock { $0.finals[id] = final }
                    }
                    usleep(UInt32.random(in: 5_000...50_000, using: &random))
                case 4..<8:
                    // Event streams, each on a connection of its own, followed to the job's end.
                    guard let id = tally.withLock({ $0.submitted.last }) else { usleep(10_000); continue }
                    let events = readEventStream(socket: socket, "/v1/jobs/\(id)/events")
                    tally.withLock { tally in
                        if let events, events >= 1 { tally.streams += 1; tally.streamEvents += events } else { tally.errors.append("events of \(id)") }
                    }
                case 8..<24:
                    // Polling jobs (recent ones: the service remembers the last 500 finished jobs).
                    guard let id = tally.withLock({ $0.submitted.suffix(200).randomElement() }) else { usleep(10_000); continue }
                    let begin = ContinuousClock.now
                    let status = connection.send("GET", "/v1/jobs/\(id)")?.status
                    let elapsed = seconds(ContinuousClock.now - begin)
                    tally.withLock { tally in
                        if status == 200 {
                            tally.latencies.append(elapsed)
                        } else {
                            tally.errors.append("GET /v1/jobs/\(id): \(status.map(String.init) ?? "no answer")")
                        }
                    }
                default:
                    let begin = ContinuousClock.now
                    let status = connection.send("GET", "/v1/devices")?.status
                    let elapsed = seconds(ContinuousClock.now - begin)
                    tally.withLock { tally in
                        if status == 200 {
                            tally.latencies.append(elapsed)
                            tally.deviceLatencies.append(elapsed)
                        } else {
                            tally.errors.append("GET /v1/devices: \(status.map(String.init) ?? "no answer")")
                        }
                    }
                }
            }
        }
    }
    group.wait()
    let loadSeconds = seconds(ContinuousClock.now - started)
    var result = tally.withLock { $0 }

    // Every accepted job was followed to its end by its submitter.
    let unfinished = result.submitted.filter { result.finals[$0] == nil }
    let failed = result.submitted.filter { result.finals[$0].map { $0 != "completed" } ?? false }
    // Connections the load held are closed now; give the service a moment to release them.
    sleep(2)
    let after = (rss: residentKiB(pid), fds: openDescriptors(pid))

    let sorted = result.latencies.sorted(), devices = result.deviceLatencies.sorted()
    result.errors += unfinished.map { "job \($0) was not seen to finish" } + failed.map { "job \($0) ended \(result.finals[$0] ?? "")" }
    print(
        "requests \(sorted.count) in \(format(loadSeconds)) s = \(format(Double(sorted.count) / loadSeconds)) req/s; "
            + "p50 \(format(percentile(sorted, 0.5) * 1000)) ms, p99 \(format(percentile(sorted, 0.99) * 1000)) ms "
            + "(GET /v1/devices p99 \(format(percentile(devices, 0.99) * 1000)) ms)")
    print(
        "scans: \(result.submitted.count) accepted, \(result.submitted.count - unfinished.count - failed.count) seen completed by their submitters, "
            + "\(result.busy) refused device_busy (expected); event streams followed to the end: \(result.streams) (\(result.streamEvents) events)")
    print(
        "descriptors: baseline \(baseline.fds), after \(after.fds) [target: equal]   "
            + "RSS: baseline \(format(Double(baseline.rss) / 1024)) MiB, after \(format(Double(after.rss) / 1024)) MiB "
            + "(+\(format(Double(after.rss - baseline.rss) / 1024)) MiB; finished jobs are remembered, up to 500) [target < +32 MiB]")
    print("errors other than device_busy: \(result.errors.count)\(result.errors.isEmpty ? "" : ": " + result.errors.prefix(5).joined(separator: "; "))")
    let pass = result.errors.isEmpty && after.fds == baseline.fds && after.rss - baseline.rss < 32 * 1024 && !result.submitted.isEmpty
    print("soak \(pass ? "passed" : "FAILED")")
    return pass
}
