import Attachments
import Crypto
import DeviceHub
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Scanning

/// Where eSCL is served, and which scanner answers at `/eSCL/`.
public struct ESCLConfiguration: Sendable, Equatable {
    /// The address to listen on: loopback unless a LAN address is given explicitly.
    public var host: String
    /// The TCP port (0: any free one).
    public var port: Int
    /// The scanner at `/eSCL/`; nil: the first scanner found.
    public var defaultDevice: String?
    /// Whether to advertise the scanners over mDNS (`_uscan._tcp`) where an avahi daemon runs.
    public var advertise: Bool
    /// Environment for `avahi-publish`, over this process's: `DBUS_SYSTEM_BUS_ADDRESS` for an avahi daemon on a bus
    /// other than the machine's system bus.
    public var advertiserEnvironment: [String: String] = [:]
    /// A finished job whose client has not taken its pages this long is closed and its pages removed (a client that
    /// went away, or cancelled before it had the job's address).
    public var abandonedAfter: Duration = .seconds(300)

    /// Creates a configuration.
    public init(host: String = "127.0.0.1", port: Int, defaultDevice: String? = nil, advertise: Bool = true) {
        self.host = host
        self.port = port
        self.defaultDevice = defaultDevice
        self.advertise = advertise
    }

    /// Parses `--escl`: `PORT` (loopback), or `HOST:PORT` (`[::1]:PORT` for IPv6).
    public init(parsing text: String, defaultDevice: String? = nil) throws(ESCLError) {
        var host = "127.0.0.1", portText = Substring(text)
        if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
            throw ESCLError(.badRequest, "--escl expects PORT or HOST:PORT, got '\(text)'")
        }
        self.init(host: host, port: port, defaultDevice: defaultDevice)
    }

    /// Whether the address is reachable from this machine only.
    public var isLoopback: Bool { host == "localhost" || host == "::1" || host.hasPrefix("127.") }
}

/// eSCL (AirScan, Mopria scan) for every scanner of a device hub, so that driverless clients (Windows, macOS, phones,
/// sane-airscan, libsane's `escl`) can use them. A job started here holds its scanner the way an API job does: an API
/// scan meanwhile is `device_busy`, and a `ScanJobs` request while the API scans is 503 with `Retry-After`.
///
/// The default scanner answers at `/eSCL/`, every scanner at `/devices/{id}/eSCL/` (the id URL-encoded). Pages pass
/// through the hub's store as attachments and are removed once the client has taken the job's last document or
/// deleted the job: an eSCL scan belongs to the client that asked for it, not to the counter's spool.
public final class ESCLService: Sendable {
    let hub: any DeviceHub
    let store: AttachmentStore
    let configuration: ESCLConfiguration
    private let logger: Logger
    private let jobs = ESCLJobs()

    /// Serves the scanners of `hub`, whose captures `store` holds (eSCL hands out the pages' files and removes them).
    public init(hub: any DeviceHub, store: AttachmentStore, configuration: ESCLConfiguration, logger: Logger = Logger(label: "counterkit.escl")) {
        self.hub = hub
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    /// Adds the eSCL routes to `router`.
    public func register<Context: RequestContext>(on router: Router<Context>) {
        for prefix in ["/eSCL", "/devices/{device}/eSCL"] {
            router.get("\(prefix)/ScannerCapabilities") { request, context in
                try await self.answer {
                    try await self.capabilities(
                        device: self.device(context),
                        host: request.head.authority ?? "\(self.configuration.host):\(self.configuration.port)")
                }
            }
            router.get("\(prefix)/ScannerStatus") { _, context in
                try await self.answer { try await self.status(device: self.device(context)) }
            }
            router.post("\(prefix)/ScanJobs") { request, context in
                try await self.answer {
                    let device = try await self.device(context)
                    let body = try await request.body.collect(upTo: 1 << 16)
                    return try await self.startJob(
                        device: device, prefix: self.prefix(context), body: Data(buffer: body),
                        host: request.head.authority ?? "\(self.configuration.host):\(self.configuration.port)")
                }
            }
            router.get("\(prefix)/ScanJobs/{job}/NextDocument") { _, context in
                try await self.answer { try await self.nextDocument(job: self.job(context), context: context) }
            }
            router.get("\(prefix)/ScanJobs/{job}/ScanImageInfo") { _, context in
                try await self.answer { try await self.imageInfo(job: self.job(context)) }
            }
            router.delete("\(prefix)/ScanJobs/{job}") { _, context in
                try await self.answer { try await self.cancel(job: self.job(context)) }
            }
        }
    }

    // MARK: Requests

    /// `ScannerCapabilities`.
    private func capabilities(device: String, host: String) async throws(ESCLError) -> Response {
        let profile = try await profile(device)
        // The name from the device list (no second read of the scanner's options, which would hold it meanwhile).
        let summary = try? await hub.devices(refresh: false).devices.first { $0.id == device }
        let model = [summary?.vendor, summary?.model].compactMap { $0 }.joined(separator: " ")
        let adminURI = "http://\(host)\(Self.prefix(for: device))/ScannerCapabilities"
        return Self.xml(
            profile.capabilitiesDocument(
                makeAndModel: model.isEmpty ? device : model, serialNumber: device,
                uuid: Self.uuid(device), adminURI: adminURI))
    }

    /// `ScannerStatus`: idle or processing, the feeder as far as the scanner tells, and the jobs eSCL clients started.
    ///
    /// SANE has no feeder sensor to ask while the scanner is idle: only a scan tells. So `AdfState` is what a scan
    /// has just shown (for `FeederReport.lifetime` after a scan found the feeder empty, jammed or open: the answer to a
    /// client asking why its job ended), and otherwise `ScannerAdfLoaded`, meaning "ready to try": eSCL has no word for
    /// unknown, and libsane's `escl` client starts a feeder job only on `ScannerAdfLoaded` (an absent state reads to it
    /// as busy). A feeder the last batch emptied may have been reloaded since; the next job's start finds out (409,
    /// and `ScannerAdfEmpty` reported, when it is still empty).
    private func status(device: String) async throws(ESCLError) -> Response {
        let busy = (try? await hub.devices(refresh: false))?.devices.first { $0.id == device }?.busy ?? false
        var rows: [(job: ESCLJobs.Job, snapshot: JobSnapshot)] = []
        for job in await jobs.jobs(device: device) {
            if let snapshot = try? await hub.job(job.id) { rows.append((job, snapshot)) }
        }
        var xml = ESCLXMLWriter(root: "scan:ScannerStatus")
        xml.element("pwg:Version", "2.63")
        xml.element("pwg:State", busy ? "Processing" : "Idle")
        let profile = try? await profile(device)
        if profile?.adf == true { xml.element("scan:AdfState", await jobs.feederReport(device) ?? "ScannerAdfLoaded") }
        xml.enter("scan:Jobs")
        for (job, snapshot) in rows {
            let (state, reason) = job.state(snapshot)
            xml.enter("scan:JobInfo")
            xml.element("pwg:JobUri", "\(job.prefix)/ScanJobs/\(job.id)")
            xml.element("pwg:JobUuid", job.id)
            xml.element("scan:Age", Int(Date().timeIntervalSince(job.createdAt)))
            xml.element("pwg:ImagesCompleted", job.format == "application/pdf" ? snapshot.pages : snapshot.attachments.count)
            xml.element("pwg:ImagesToTransfer", job.toTransfer(snapshot))
            xml.element("pwg:JobState", state)
            xml.enter("pwg:JobStateReasons")
            xml.element("pwg:JobStateReason", reason)
            xml.leave()
            xml.leave()
        }
        xml.leave()
        return Self.xml(xml.finish())
    }

    /// `POST ScanJobs`: starts the scan on the hub; from a feeder, answers once the scanner has begun a page (or
    /// refused), so that an empty feeder is 409 here rather than a job that fails later.
    private func startJob(device: String, prefix: String, body: Data, host: String) async throws(ESCLError) -> Response {
        let profile = try await profile(device)
        let settings = try ESCLScanSettings(document: body, profile: profile)
        let snapshot: JobSnapshot
        do {
            snapshot = try await hub.submit(.scan(settings.scanRequest(device: device)), queue: false)
        } catch {
            let failure = error as? CounterKitError ?? CounterKitError(.internal, "\(error)")
            throw Self.translate(failure.code, failure.message)
        }
        let feeder = settings.source != .flatbed
        // A feeder's job answers once the first page has begun (or the feeder proved empty); a flatbed's at once.
        if feeder {
            await jobs.reportFeeder(device, nil)
            if let failure = await waitForStart(snapshot.id) {
                if let state = Self.feederState(failure.code) { await jobs.reportFeeder(device, state) }
                logger.info("eSCL scan on \(device) refused: \(failure.code.rawValue): \(failure.message)")
                throw Self.translate(failure.code, failure.message)
            }
        }
        await jobs.add(
            ESCLJobs.Job(
                id: snapshot.id, device: device, prefix: prefix, format: settings.format, source: settings.source,
                createdAt: Date()))
        logger.info(
            "eSCL job \(snapshot.id) on \(device): \(settings.source.rawValue), \(settings.mode.rawValue), \(settings.resolution) dpi, \(settings.format)")
        abandonIfUntaken(snapshot.id)
        var response = Response(status: .created)
        response.headers[.location] = "http://\(host)\(prefix)/ScanJobs/\(snapshot.id)"
        return response
    }

    /// Waits until job `id` has begun receiving a page, has a page, or has ended; its error when it failed.
    private func waitForStart(_ id: String) async -> JobError? {
        guard let events = try? await hub.jobEvents(id) else { return nil }
        do {
            for try await event in events {
                let job = event.job
                if job.state == .failed || job.state == .cancelled {
                    return job.error ?? JobError(.cancelled, "the scan was cancelled")
                }
                if job.state.isFinished || job.pages > 0 || (job.progress?.bytesReceived ?? 0) > 0 { return nil }
            }
        } catch {}
        return nil
    }

    /// `NextDocument`: the job's next page (a PDF job's one document once it is whole), waiting for it while the
    /// scanner works; 404 when there is none left, after which the job's pages are removed. That 404 has no body:
    /// libsane's `escl` client reads any body as the next image (and fails decoding it) instead of ending the batch.
    private func nextDocument<Context: RequestContext>(job: ESCLJobs.Job, context: Context) async throws(ESCLError) -> Response {
        await jobs.contact(job.id)
        var snapshot = try await current(job.id)
        while !snapshot.state.isFinished {
            let delivered = await jobs.job(job.id)?.delivered ?? 0
            if job.available(snapshot) > delivered { break }
            snapshot = await nextChange(job.id, after: snapshot)
        }
        guard let index = await jobs.claim(job.id, available: job.available(snapshot)) else {
            await end(job, snapshot)
            logger.info("eSCL job \(job.id): \(Self.endMessage(snapshot))")
            return Response(status: .notFound, headers: [.contentLength: "0"])
        }
        let document = snapshot.attachments[index]
        await jobs.delivered(job.id, document)
        let path: String
        do { path = try store.fileURL(id: document.id).path } catch {
            throw ESCLError(.failed, "page \(index + 1) cannot be read: \(error.message)")
        }
        do {
            let body = try await FileIO().loadFile(path: path, context: context)
            return Response(status: .ok, headers: [.contentType: document.mediaType, .contentLength: String(document.byteCount)], body: body)
        } catch {
            throw ESCLError(.failed, "page \(index + 1) cannot be read: \(error)")
        }
    }

    /// The job as it is after the next change of its pages or state (at most a second later, to look again).
    private func nextChange(_ id: String, after snapshot: JobSnapshot) async -> JobSnapshot {
        guard let events = try? await hub.jobEvents(id) else { return (try? await hub.job(id)) ?? snapshot }
        let deadline = ContinuousClock.now + .seconds(1)
        do {
            for try await event in events {
                let job = event.job
                if job.state.isFinished || job.attachments.count != snapshot.attachments.count || ContinuousClock.now > deadline {
                    return job
                }
            }
        } catch {}
        return (try? await hub.job(id)) ?? snapshot
    }

    /// The job has nothing more for its client: its pages leave the store. A feeder scan that ended on a jam or an
    /// open cover is reported in `ScannerStatus` for a while, for the client that now asks why its batch ended.
    private func end(_ job: ESCLJobs.Job, _ snapshot: JobSnapshot) async {
        guard await jobs.close(job.id) else { return }
        if job.source != .flatbed, let code = snapshot.error?.code, let state = Self.feederState(code) {
            await jobs.reportFeeder(job.device, state)
        }
        for page in snapshot.attachments { try? store.delete(id: page.id) }
    }

    /// Closes job `id` (removing its pages) once it has ended and its client has not asked for a document for
    /// `abandonedAfter`: a client that takes its pages slowly keeps them.
    private func abandonIfUntaken(_ id: String) {
        let wait = configuration.abandonedAfter
        Task {
            guard let ended = try? await hub.waitUntilFinished(id) else { return }
            var deadline = ContinuousClock.now + wait
            while let job = await jobs.job(id), !job.closed {
                deadline = max(deadline, job.lastContact + wait)
                guard ContinuousClock.now >= deadline else {
                    try? await Task.sleep(until: deadline)
                    continue
                }
                logger.notice(
                    "eSCL job \(id) on \(job.device): its client took \(job.delivered) of \(ended.attachments.count) page(s) and left; they are removed")
                await end(job, ended)
                return
            }
        }
    }

    /// `ScanImageInfo`: the size of the last document handed out.
    private func imageInfo(job: ESCLJobs.Job) async throws(ESCLError) -> Response {
        guard let document = await jobs.job(job.id)?.lastDocument else {
            throw ESCLError(.notFound, "job \(job.id) has handed out no document yet")
        }
        var xml = ESCLXMLWriter(root: "scan:ScanImageInfo")
        xml.element("pwg:JobUri", "\(job.prefix)/ScanJobs/\(job.id)")
        xml.element("pwg:JobUuid", job.id)
        xml.element("scan:ActualWidth", document.pixelWidth ?? 0)
        xml.element("scan:ActualHeight", document.pixelHeight ?? 0)
        let channels = document.settings["mode"] == ScanMode.color.rawValue ? 3 : 1
        xml.element("scan:ActualBytesPerLine", (document.pixelWidth ?? 0) * channels)
        return Self.xml(xml.finish())
    }

    /// `DELETE` a job: cancels it if it still runs (its scanner is released) and removes its pages.
    private func cancel(job: ESCLJobs.Job) async throws(ESCLError) -> Response {
        let snapshot = try await current(job.id)
        if !snapshot.state.isFinished {
            _ = try? await hub.cancelJob(job.id)
            logger.info("eSCL job \(job.id) on \(job.device) cancelled by its client")
        }
        let hub = self.hub
        Task {
            let ended = (try? await hub.waitUntilFinished(job.id)) ?? snapshot
            await self.end(job, ended)
        }
        return Response(status: .ok)
    }

    // MARK: Helpers

    /// Answers an eSCL request: an `ESCLError` becomes its status with the message as text.
    private func answer(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as ESCLError {
            var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
            if error.kind == .busy { headers[.retryAfter] = "2" }
            return Response(
                status: .init(code: error.status), headers: headers,
                body: .init(byteBuffer: ByteBuffer(string: error.message + "\n")))
        }
    }

    private func current(_ id: String) async throws(ESCLError) -> JobSnapshot {
        do { return try await hub.job(id) } catch { throw ESCLError(.notFound, "no scan job \(id)") }
    }

    /// The scanner a request names, or the default one. A scanner not in the device list yet is looked for again (the
    /// list is still being made just after start-up, or the scanner has just arrived).
    private func device<Context: RequestContext>(_ context: Context) async throws(ESCLError) -> String {
        let wanted: String?
        if let raw = context.parameters.get("device") {
            guard let id = raw.removingPercentEncoding, !id.isEmpty else { throw ESCLError(.notFound, "malformed scanner id \(raw)") }
            wanted = id
        } else {
            wanted = configuration.defaultDevice
        }
        for refresh in [false, true] {
            let scanners = ((try? await hub.devices(refresh: refresh))?.devices ?? []).filter { $0.kind == .scanner }
            if let wanted, scanners.contains(where: { $0.id == wanted }) { return wanted }
            if wanted == nil, let first = scanners.first { return first.id }
        }
        throw ESCLError(.notFound, wanted.map { "no scanner \($0)" } ?? "no scanner is connected")
    }

    private func prefix<Context: RequestContext>(_ context: Context) -> String {
        context.parameters.get("device").map { "/devices/\($0)/eSCL" } ?? "/eSCL"
    }

    /// The job a request names, if eSCL started it.
    private func job<Context: RequestContext>(_ context: Context) async throws(ESCLError) -> ESCLJobs.Job {
        guard let id = context.parameters.get("job"), let job = await jobs.job(id) else {
            throw ESCLError(.notFound, "no scan job \(context.parameters.get("job") ?? "")")
        }
        return job
    }

    /// The scanner's eSCL profile, read once (holding the scanner briefly) and remembered. A scanner whose options are
    /// being read by someone else at that moment is asked again for up to 2 s before the answer is 503.
    func profile(_ device: String) async throws(ESCLError) -> ESCLScannerProfile {
        if let known = await jobs.profile(device) { return known }
        for attempt in 1...20 {
            do {
                let detail = try await hub.scanner(device)
                let profile = ESCLScannerProfile(detail.capabilities)
                await jobs.remember(profile, for: device)
                return profile
            } catch let error as DeviceHubError {
                guard error.code == .deviceBusy, attempt < 20 else { throw Self.translate(error.code, error.message) }
                try? await Task.sleep(for: .milliseconds(100))
                if let known = await jobs.profile(device) { return known }
            } catch {
                throw ESCLError(.failed, "\(error)")
            }
        }
        throw ESCLError(.busy, "\(device) is busy")
    }

    /// The path prefix of a scanner: `/devices/{id}/eSCL` with the id URL-encoded.
    public static func prefix(for device: String) -> String {
        "/devices/\(device.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? device)/eSCL"
    }

    /// A scanner's eSCL UUID: the same for the same scanner on the same machine across restarts.
    public static func uuid(_ device: String) -> String {
        let digest = Array(SHA256.hash(data: Data("counterkit-escl:\(ProcessInfo.processInfo.hostName):\(device)".utf8)).prefix(16))
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        let parts = [
            hex.prefix(8), hex.dropFirst(8).prefix(4), "5" + hex.dropFirst(13).prefix(3), "8" + hex.dropFirst(17).prefix(3),
            hex.dropFirst(20).prefix(12),
        ]
        return parts.joined(separator: "-")
    }

    private static func xml(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/xml; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// How eSCL answers a hub or scanner error.
    static func translate(_ code: ErrorCode, _ message: String) -> ESCLError {
        switch code {
        case .deviceBusy, .queueFull: ESCLError(.busy, message)
        case .deviceNotFound, .notFound: ESCLError(.notFound, message)
        case .noDocs, .jammed, .coverOpen, .invalidValue, .unsupportedOption, .unsupportedFormat: ESCLError(.conflict, message)
        default: ESCLError(.failed, "\(code.rawValue): \(message)")
        }
    }

    /// The feeder state a scan's error shows, if it is one.
    static func feederState(_ code: ErrorCode) -> String? {
        switch code {
        case .noDocs: "ScannerAdfEmpty"
        case .jammed: "ScannerAdfJam"
        case .coverOpen: "ScannerAdfDoorOpen"
        default: nil
        }
    }

    private static func endMessage(_ snapshot: JobSnapshot) -> String {
        if let error = snapshot.error { return "no more documents: the scan ended \(snapshot.state.rawValue) (\(error.code.rawValue): \(error.message))" }
        return "no more documents: the job has handed out all \(snapshot.attachments.count)"
    }
}
