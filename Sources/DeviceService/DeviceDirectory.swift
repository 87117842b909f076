import Cameras
import Foundation
import Scanning
import SignaturePads

/// The kinds of device the service drives.
public enum DeviceKind: String, Sendable, Codable, CaseIterable {
    /// A SANE scanner or a V4L2 camera.
    case scanner, camera
    /// A USB signature pad.
    case signaturePad = "signature_pad"
}

/// A device as `GET /v1/devices` lists it.
public struct DeviceSummary: Sendable, Codable, Equatable {
    /// Stable id: the SANE name for scanners, `v4l2:<bus>` for cameras.
    public var id: String
    /// Scanner, camera or signature pad.
    public var kind: DeviceKind
    /// The maker, as the device reports it.
    public var vendor: String
    /// The model, as the device reports it.
    public var model: String
    /// The driver's own description of the device type ("flatbed scanner", "video camera"…).
    public var type: String
    /// Whether a job is running on it now.
    public var busy: Bool
}

/// The device list answer, with any discovery failure per kind.
struct DeviceList: Sendable, Codable {
    var devices: [DeviceSummary]
    /// When the list was last discovered (nil: discovery has not finished yet).
    var discoveredAt: Date?
    /// Kinds whose discovery failed, with why.
    var errors: [DiscoveryFailure]
}

struct DiscoveryFailure: Sendable, Codable, Equatable {
    var kind: DeviceKind
    var code: String
    var message: String
}

/// Cached discovery: runs in the background from start-up so that neither start-up nor a request
/// waits on a slow backend more than once; concurrent refreshes share one discovery.
actor DeviceDirectory {
    private let scanner: DocumentScanner
    private let cameraDiscovery: CameraDiscovery
    private let metrics: ServiceMetrics
    private var scanners: [ScannerInfo] = []
    private var cameras: [CameraNode] = []
    private var pads: [USBHIDInterface] = []
    private var discoveredAt: Date?
    private var failure: DiscoveryFailure?
    private var inFlight: Task<Void, Never>?
    private var optionCache: [String: DeviceOptions] = [:]

    init(scanner: DocumentScanner, cameras: CameraDiscovery, metrics: ServiceMetrics) {
        self.scanner = scanner
        self.cameraDiscovery = cameras
        self.metrics = metrics
    }

    /// Starts a discovery unless one is running; returns at once.
    /// Cameras (one open and one ioctl per node) and scanners (libsane, possibly slow) are discovered side by side.
    func refreshInBackground() {
        guard inFlight == nil else { return }
        let scanner = self.scanner
        let cameraDiscovery = self.cameraDiscovery
        inFlight = Task {
            async let cameras = offThread { () throws(Never) in cameraDiscovery.nodes() }
            async let pads = offThread { () throws(SignaturePadError) in try SignaturePadDrivers.candidates() }
            let scanners = await offThread { () throws(ScanError) in try scanner.devices(refresh: true) }
            self.record(scanners, cameras: await cameras.get(), pads: (try? await pads.get()) ?? [])
        }
    }

    /// The devices, from the cache; with `refresh` (or before the first discovery ends) waits for a discovery.
    func list(refresh: Bool) async -> (scanners: [ScannerInfo], cameras: [CameraNode], pads: [USBHIDInterface], discoveredAt: Date?,
                                         errors: [DiscoveryFailure]) {
        if refresh || discoveredAt == nil {
            refreshInBackground()
            await inFlight?.value
        }
        return (scanners, cameras, pads, discoveredAt, failure.map { [$0] } ?? [])
    }

    /// The camera with this id or device path, if discovery knows it (an unknown one gets one rediscovery).
    func knownCamera(_ requested: String) async -> CameraNode? {
        func match(_ cameras: [CameraNode]) -> CameraNode? { cameras.first { $0.id == requested || $0.path == requested } }
        if let found = match(await list(refresh: false).cameras) { return found }
        guard requested.hasPrefix("v4l2:") || requested.hasPrefix("/dev/") else { return nil }
        return match(await list(refresh: true).cameras)
    }

    /// Resolves a requested camera: an id or device path, or nil for the first camera.
    func resolveCamera(_ requested: String?) async throws(APIError) -> CameraNode {
        if let requested {
            guard let found = await knownCamera(requested) else {
                throw APIError(.deviceNotFound, "no camera '\(requested)'; GET /v1/devices lists them")
            }
            return found
        }
        var known = await list(refresh: false).cameras
        if known.isEmpty { known = await list(refresh: true).cameras }
        guard let first = known.first else { throw APIError(.deviceNotFound, "no camera found") }
        return first
    }

    /// Resolves a requested scanner id: nil means the first scanner; an unknown id gets one rediscovery.
    func resolveScanner(_ requested: String?) async throws(APIError) -> String {
        var known = await list(refresh: false).scanners
        if let requested, known.contains(where: { $0.id == requested }) { return requested }
        if requested != nil || known.isEmpty { known = await list(refresh: true).scanners }
        if let requested {
            guard known.contains(where: { $0.id == requested }) else {
                throw APIError(.deviceNotFound, "no scanner '\(requested)'; GET /v1/devices lists them")
            }
            return requested
        }
        guard let first = known.first else {
            throw APIError(.deviceNotFound, failure.map { "no scanner found: \($0.message)" } ?? "no scanner found")
        }
        return first.id
    }

    /// Applies a pad arrival or departure from the hotplug monitor (no full rediscovery needed).
    func padChanged(_ change: USBHotplugMonitor.Change) {
        switch change {
        case .arrived(let pad):
            pads.removeAll { $0.id == pad.id }
            pads.append(pad)
            pads.sort { $0.id < $1.id }
        case .left(let pad):
            pads.removeAll { $0.id == pad.id && $0.address == pad.address }
        }
        metrics.devicesPresent(.signaturePad, pads.count)
    }

    /// Cached options of a device, if read before.
    func cachedOptions(_ id: String) -> DeviceOptions? { optionCache[id] }

    /// Remembers a device's options.
    func remember(_ options: DeviceOptions) { optionCache[options.device.id] = options }

    private func record(_ result: Result<[ScannerInfo], ScanError>, cameras: [CameraNode], pads: [USBHIDInterface]) {
        inFlight = nil
        discoveredAt = Date()
        self.cameras = cameras
        self.pads = pads
        metrics.devicesPresent(.camera, cameras.count)
        metrics.devicesPresent(.signaturePad, pads.count)
        switch result {
        case .success(let list):
            scanners = list
            failure = nil
        case .failure(let error):
            failure = DiscoveryFailure(kind: .scanner, code: error.code.rawValue, message: error.message)
        }
        metrics.devicesPresent(.scanner, scanners.count)
    }
}

/// Runs blocking work on its own thread so that no cooperative-pool thread waits on a device.
func offThread<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async -> Result<T, E> {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(returning: Result { () throws(E) in try work() })
        }
    }
}
