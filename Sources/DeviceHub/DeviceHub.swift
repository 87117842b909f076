import Attachments
import Cameras
import Foundation
import Scanning

/// What a capture produced, the same whoever ran it: the device, the settings it used, the pages, the attachments.
public struct Capture: Sendable, Equatable {
    /// The device's id.
    public var device: String
    /// The settings actually used (normalized and vendor values).
    public var settings: [String: String]
    /// Pages captured (1 for a photo).
    public var pages: Int
    /// The stored attachments, in page order.
    public var attachments: [AttachmentManifest]

    /// Creates a capture.
    public init(device: String, settings: [String: String], pages: Int, attachments: [AttachmentManifest]) {
        self.device = device
        self.settings = settings
        self.pages = pages
        self.attachments = attachments
    }
}

/// What counter software asks of its devices, one interface whoever serves it: ``LocalDeviceHub`` opens the devices in
/// this process, the device service's `ServiceDeviceHub` asks a running `counterkit serve` over its socket, and
/// ``FakeDeviceHub`` answers from memory for an integrator's own tests. The `counterkit` CLI programs against it, so a
/// command behaves the same either way. Errors are `CounterKitError`s with the one vocabulary's codes.
public protocol DeviceHub: Sendable {
    /// Where the attachments live, for people ("/var/spool/counterkit", "the service at /run/counterkit/api.sock").
    var location: String { get }
    /// Every device, in one schema; `refresh` discovers anew.
    func devices(refresh: Bool) async throws -> DeviceList
    /// A scanner's capabilities and every backend option.
    func scanner(_ id: String) async throws -> DeviceDetail
    /// A camera's formats and controls.
    func camera(_ id: String) async throws -> CameraDetail
    /// Scans, reporting progress; cancelling the calling task cancels the scan and stores nothing.
    func scan(_ request: ScanRequest, progress: @escaping @Sendable (ScanProgress) -> Void) async throws -> Capture
    /// Takes a photo; cancelling the calling task cancels it.
    func photo(_ request: PhotoRequest) async throws -> Capture
    /// Copies an attachment's bytes to `path`, never half-written (a temp file beside it, then a rename).
    func export(_ attachment: AttachmentManifest, to path: String) async throws
}

/// A failure reported by a hub that has only the code and the message (a service's answer, a fake's scripted error).
public struct DeviceHubError: CounterKitError, Equatable {
    /// The stable code.
    public var code: ErrorCode
    /// A message for people.
    public var message: String

    /// Creates an error.
    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// The devices of this machine, opened in this process: discovery through a ``DeviceCatalog``, one capture per device
/// at a time (`device_busy` otherwise), attachments in the given store.
public final class LocalDeviceHub: DeviceHub {
    /// The store captures go to.
    public let store: AttachmentStore
    /// The scanner front-end (its worker and timeouts).
    public let scanner: DocumentScanner
    /// The camera front-end.
    public let camera: PhotoCamera
    /// The discovery.
    public let catalog: DeviceCatalog
    private let busy = DeviceLocks()

    /// A hub over `store`, scanning through `scanner` (default: a scanner over the same store).
    public init(store: AttachmentStore, scanner: DocumentScanner? = nil, cameras: CameraDiscovery = CameraDiscovery()) {
        self.store = store
        self.scanner = scanner ?? DocumentScanner(store: store)
        self.camera = PhotoCamera(store: store, discovery: cameras)
        self.catalog = DeviceCatalog(scanner: self.scanner, cameras: cameras)
    }

    public var location: String { store.directory.path }

    public func devices(refresh: Bool) async throws -> DeviceList {
        await catalog.snapshot(refresh: refresh).list(busy: busy.held)
    }

    public func scanner(_ id: String) async throws -> DeviceDetail {
        let scanner = self.scanner
        return DeviceDetail(try await BlockingCalls.shared.run { () throws(ScanError) in try scanner.options(device: id) }.get(),
                            busy: busy.held.contains(id))
    }

    public func camera(_ id: String) async throws -> CameraDetail {
        guard let node = await catalog.knownCamera(id) else { throw CameraError(.deviceNotFound, "no camera '\(id)'") }
        let discovery = camera.discovery
        let info = try await BlockingCalls.shared.run { () throws(CameraError) in try discovery.resolve(node.path) }.get()
        return CameraDetail(node: node, camera: info, busy: busy.held.contains(node.id))
    }

    public func scan(_ request: ScanRequest, progress: @escaping @Sendable (ScanProgress) -> Void) async throws -> Capture {
        var request = request
        // A named scanner is opened as named (no discovery first, which can take seconds on a network); the worker
        // says `device_not_found` for a wrong name.
        if request.device == nil { request.device = try await catalog.resolveScanner(nil) }
        let device = request.device!
        try busy.take(device)
        defer { busy.release(device) }
        let result = try await scanner.scan(request, progress: progress)
        return Capture(device: result.device.id, settings: result.settings, pages: result.pages, attachments: result.attachments)
    }

    public func photo(_ request: PhotoRequest) async throws -> Capture {
        var request = request
        if request.device == nil { request.device = try await catalog.resolveCamera(nil).path }
        let device = request.device!
        try busy.take(device)
        defer { busy.release(device) }
        let result = try await camera.capture(request)
        return Capture(device: result.device, settings: result.settings, pages: 1, attachments: [result.attachment])
    }

    public func export(_ attachment: AttachmentManifest, to path: String) async throws {
        try AttachmentExport.publish(try store.fileURL(id: attachment.id).path, at: path)
    }
}

/// Which devices a capture holds in this process.
final class DeviceLocks: Sendable {
    private let state = NSLock()
    nonisolated(unsafe) private var devices: Set<String> = []  // guarded by `state`

    var held: Set<String> { state.withLock { devices } }

    func take(_ device: String) throws(DeviceHubError) {
        let taken = state.withLock { devices.insert(device).inserted }
        guard taken else { throw DeviceHubError(.deviceBusy, "\(device) is busy with another capture of this program") }
    }

    func release(_ device: String) { _ = state.withLock { devices.remove(device) } }
}

/// Copies of attachments that are never half-written.
public enum AttachmentExport {
    /// The temp name beside `path` that an output is written under before its rename (`.NAME.PID.part`), cleared.
    public static func temporaryPath(for path: String) -> String {
        let target = URL(fileURLWithPath: path)
        let temp = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(getpid()).part").path
        unlink(temp)
        return temp
    }

    /// Publishes the stored file at `path`: a hard link when on the same filesystem (no copy), else a copy, made under a
    /// temp name beside `path` and renamed into place.
    public static func publish(_ storedPath: String, at path: String) throws {
        let temp = temporaryPath(for: path)
        do {
            if link(storedPath, temp) != 0 {
                try FileManager.default.copyItem(atPath: storedPath, toPath: temp)
            }
            guard rename(temp, path) == 0 else {
                throw DeviceHubError(.ioError, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
        } catch let error as DeviceHubError {
            unlink(temp)
            throw error
        } catch {
            unlink(temp)
            throw DeviceHubError(.ioError, "cannot write \(path): \(error.localizedDescription)")
        }
    }
}
