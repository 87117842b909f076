import Cameras
import CounterKitCore
import Foundation
import Scanning
import SignaturePads

/// The one place devices are discovered: scanners (libsane in the scan worker, with its time limit), cameras (V4L2
/// nodes) and signature pads (USB HID), cached so that neither start-up nor a request waits on a slow backend more
/// than once; concurrent refreshes share one discovery; pads follow USB hotplug (`padChanged`).
///
/// The service, `counterkit devices` and ``DeviceInventory`` all list devices through it, so every listing has one
/// schema (``DeviceList``) and one name per device.
package actor DeviceCatalog {
    /// What the last discovery found.
    public struct Snapshot: Sendable {
        /// Scanners.
        public var scanners: [ScannerInfo] = []
        /// Camera nodes.
        public var cameras: [CameraNode] = []
        /// USB HID interfaces a pad driver takes.
        public var pads: [USBHIDInterface] = []
        /// When the discovery finished (nil: none has yet).
        public var discoveredAt: Date?
        /// Families whose discovery failed.
        public var failures: [DiscoveryFailure] = []

        /// The list every caller shows, with `busy` naming the devices in use.
        public func list(busy: Set<String> = []) -> DeviceList {
            let devices =
                scanners.map { DeviceSummary(scanner: $0, busy: busy.contains($0.id)) }
                + cameras.map { DeviceSummary(camera: $0, busy: busy.contains($0.id)) }
                + pads.map { DeviceSummary(pad: $0, busy: busy.contains($0.id)) }
            return DeviceList(devices: devices, discoveredAt: discoveredAt, errors: failures)
        }
    }

    private let scanner: SANEScanner
    private let cameraDiscovery: CameraDiscovery
    private let counted: @Sendable (DeviceKind, Int) -> Void
    private let changed: @Sendable ([DeviceChange]) -> Void
    private var found = Snapshot()
    private var inFlight: Task<Void, Never>?
    private var optionCache: [String: DeviceOptions] = [:]

    /// A catalog discovering scanners through `scanner` and cameras through `cameras`; `counted` hears how many
    /// devices of each kind are present after every change (the service's metrics), `changed` which devices arrived
    /// or left (its log).
    public init(
        scanner: SANEScanner, cameras: CameraDiscovery = CameraDiscovery(),
        counted: @escaping @Sendable (DeviceKind, Int) -> Void = { _, _ in },
        changed: @escaping @Sendable ([DeviceChange]) -> Void = { _ in }
    ) {
        self.scanner = scanner
        self.cameraDiscovery = cameras
        self.counted = counted
        self.changed = changed
    }

    /// Starts a discovery unless one is running; returns at once. The three families are discovered side by side,
    /// on `BlockingCalls`. Scanners are discovered anew, unless `reuseScannerCache` lets the scan front-end answer
    /// from its own cache.
    public func refreshInBackground(reuseScannerCache: Bool = false) {
        guard inFlight == nil else { return }
        let scanner = self.scanner
        let cameraDiscovery = self.cameraDiscovery
        inFlight = Task {
            let calls = BlockingCalls.shared
            async let cameras = calls.run { () throws(Never) in cameraDiscovery.nodes() }
            async let unusable = calls.run { () throws(Never) in cameraDiscovery.unusableNodes() }
            async let pads = calls.run { () throws(SignaturePadError) in try SignaturePadDrivers.candidates() }
            let scanners = await calls.run { () throws(ScanError) in try scanner.devices(refresh: !reuseScannerCache) }
            self.record(scanners, cameras: await cameras.get(), unusable: await unusable.get(), pads: await pads)
        }
    }

    /// What is known; with `refresh` (or before the first discovery ends) after a discovery.
    public func snapshot(refresh: Bool) async -> Snapshot {
        if refresh || found.discoveredAt == nil {
            refreshInBackground(reuseScannerCache: !refresh)
            await inFlight?.value
        }
        return found
    }

    /// The camera with this id or device path, if discovery knows it (an unknown one gets one rediscovery).
    public func knownCamera(_ requested: String) async -> CameraNode? {
        func match(_ cameras: [CameraNode]) -> CameraNode? { cameras.first { $0.id == requested || $0.path == requested } }
        if let known = match(await snapshot(refresh: false).cameras) { return known }
        guard requested.hasPrefix("v4l2:") || requested.hasPrefix("/dev/") else { return nil }
        return match(await snapshot(refresh: true).cameras)
    }

    /// Resolves a requested camera: an id or device path, or nil for the first camera.
    public func resolveCamera(_ requested: String?) async throws(CameraError) -> CameraNode {
        if let requested {
            guard let known = await knownCamera(requested) else {
                throw CameraError(.deviceNotFound, "no camera '\(requested)'; GET /v1/devices lists them")
            }
            return known
        }
        var cameras = await snapshot(refresh: false).cameras
        if cameras.isEmpty { cameras = await snapshot(refresh: true).cameras }
        guard let first = cameras.first else { throw CameraError(.deviceNotFound, "no camera found") }
        return first
    }

    /// Resolves a requested scanner id: nil means the first scanner; an unknown id gets one rediscovery.
    public func resolveScanner(_ requested: String?) async throws(ScanError) -> String {
        var scanners = await snapshot(refresh: false).scanners
        if let requested, scanners.contains(where: { $0.id == requested }) { return requested }
        if requested != nil || scanners.isEmpty { scanners = await snapshot(refresh: true).scanners }
        if let requested {
            guard scanners.contains(where: { $0.id == requested }) else {
                throw ScanError(.deviceNotFound, "no scanner '\(requested)'; GET /v1/devices lists them")
            }
            return requested
        }
        guard let first = scanners.first else {
            let failure = found.failures.first { $0.kind == .scanner }
            throw ScanError(.deviceNotFound, failure.map { "no scanner found: \($0.message)" } ?? "no scanner found")
        }
        return first.id
    }

    /// Applies a pad arrival or departure from the USB hotplug monitor (no full rediscovery needed).
    public func padChanged(_ change: USBHotplugMonitor.Change) {
        let before = found.list().devices
        defer { report(from: before) }
        switch change {
        case .arrived(let pad):
            found.pads.removeAll { $0.id == pad.id }
            found.pads.append(pad)
            found.pads.sort { $0.id < $1.id }
        case .left(let pad):
            found.pads.removeAll { $0.id == pad.id && $0.address == pad.address }
        }
        counted(.signaturePad, found.pads.count)
    }

    /// Arrivals and departures as they happen, every device present at the start reported as arrived: cameras and
    /// pads are rediscovered every `interval`, scanners every `scannerInterval` (SANE discovery is slow; in between
    /// the scan front-end's cache answers). Ends when the consumer stops iterating.
    public nonisolated func changes(interval: Duration = .seconds(1), scannerInterval: Duration = .seconds(10)) -> AsyncStream<DeviceChange> {
        AsyncStream { continuation in
            let watching = Task {
                var known: [DeviceSummary] = []
                var scannersRefreshed: ContinuousClock.Instant?
                while !Task.isCancelled {
                    let everything = scannersRefreshed.map { ContinuousClock.now - $0 >= scannerInterval } ?? true
                    if everything { scannersRefreshed = .now }
                    let now = await self.rediscovered(includingScanners: everything).list().devices
                    for change in DeviceChange.between(known, now) { continuation.yield(change) }
                    known = now
                    try? await Task.sleep(for: interval)
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in watching.cancel() }
        }
    }

    private func rediscovered(includingScanners: Bool) async -> Snapshot {
        refreshInBackground(reuseScannerCache: !includingScanners)
        await inFlight?.value
        return found
    }

    private func report(from before: [DeviceSummary]) {
        let changes = DeviceChange.between(before, found.list().devices)
        if !changes.isEmpty { changed(changes) }
    }

    /// A scanner's options as last read, if they were.
    public func cachedOptions(_ id: String) -> DeviceOptions? { optionCache[id] }

    /// Remembers a scanner's options (read while it was free), for when a job holds it.
    public func remember(_ options: DeviceOptions) { optionCache[options.device.id] = options }

    private func record(
        _ scanners: Result<[ScannerInfo], ScanError>, cameras: [CameraNode], unusable: [CameraDiagnosis],
        pads: Result<[USBHIDInterface], SignaturePadError>
    ) {
        inFlight = nil
        let before = found.list().devices
        defer { report(from: before) }
        found.discoveredAt = Date()
        found.cameras = cameras
        found.failures = unusable.map { node in
            let error = node.error ?? CameraError(.ioError, "cannot be used")
            return DiscoveryFailure(kind: .camera, code: error.codeName, message: "\(node.path): \(error.message)", node: node.path)
        }
        switch pads {
        case .success(let list): found.pads = list
        case .failure(let error):
            found.failures.append(DiscoveryFailure(kind: .signaturePad, code: error.codeName, message: error.message))
        }
        switch scanners {
        case .success(let list): found.scanners = list
        case .failure(let error): found.failures.append(DiscoveryFailure(kind: .scanner, code: error.codeName, message: error.message))
        }
        counted(.scanner, found.scanners.count)
        counted(.camera, found.cameras.count)
        counted(.signaturePad, found.pads.count)
    }
}

/// A device arrived or left.
public struct DeviceChange: Sendable, Equatable, Codable {
    /// Which way.
    public enum Event: String, Sendable, Codable {
        /// The device is new (or was present when watching began).
        case arrived
        /// The device is gone.
        case left
    }

    /// Which way.
    public var event: Event
    /// The device, as every listing names it.
    public var device: DeviceSummary

    /// A change.
    public init(event: Event, device: DeviceSummary) {
        self.event = event
        self.device = device
    }

    /// The departures, then the arrivals, from one listing to the next (a device is the same when its kind and id are).
    public static func between(_ before: [DeviceSummary], _ after: [DeviceSummary]) -> [DeviceChange] {
        func key(_ device: DeviceSummary) -> String { "\(device.kind.rawValue) \(device.id)" }
        let old = Set(before.map(key)), new = Set(after.map(key))
        return before.filter { !new.contains(key($0)) }.map { DeviceChange(event: .left, device: $0) }
            + after.filter { !old.contains(key($0)) }.map { DeviceChange(event: .arrived, device: $0) }
    }
}
