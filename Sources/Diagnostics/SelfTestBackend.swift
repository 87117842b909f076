import Attachments
import Cameras
import DeviceHub
import Foundation
import Scanning
import SignaturePads

/// What a pad self-test captured: the pad's facts, every sample, and the reports lost on the way.
public struct PadCapture: Sendable {
    /// The pad's Information and Capability, as its driver read them.
    public var pad: PadDescription
    /// Every sample, in order.
    public var samples: [PenSample]
    /// Reports missing from the pad's sequence numbers or clock.
    public var lostReports: Int

    /// A capture of `samples` from `pad`.
    public init(pad: PadDescription, samples: [PenSample], lostReports: Int) {
        self.pad = pad
        self.samples = samples
        self.lostReports = lostReports
    }
}

/// How self-tests reach the devices: directly (``DirectSelfTestBackend``) or through a running service,
/// so that a self-test never fights the service for a device.
public protocol SelfTestBackend: Sendable {
    /// How many option descriptors the scanner has (opening it and reading them all).
    func scannerOptionCount(_ device: String) async throws -> Int
    /// Scans, reporting bytes received as they arrive; returns the saved files.
    func scan(_ request: ScanRequest, progress: @escaping @Sendable (_ bytesReceived: Int, _ linesDone: Int) -> Void) async throws -> [URL]
    /// The camera's formats, sizes and controls.
    func camera(_ device: String) async throws -> CameraInfo
    /// Takes a photo; returns the saved JPEG or PNG file.
    func photo(_ request: PhotoRequest) async throws -> URL
    /// Streams for `duration` and counts frames.
    func frameRate(_ request: PhotoRequest, duration: Duration) async throws -> FrameRateMeasurement
    /// Captures from the pad for `duration`, handing each batch of samples to `live`.
    func capturePad(_ device: String, duration: Duration, live: @escaping @Sendable ([PenSample]) -> Void) async throws -> PadCapture
}

/// Self-tests that open the devices themselves, saving into `store`.
public struct DirectSelfTestBackend: SelfTestBackend {
    /// Where test images are saved.
    public let store: AttachmentStore
    /// The scanner, with its worker.
    public let scanner: DocumentScanner
    /// The camera driver.
    public let camera: PhotoCamera

    /// A backend saving into `store`; `worker` runs libsane.
    public init(store: AttachmentStore, worker: ScanWorkerLauncher = .locate()) {
        self.store = store
        self.scanner = DocumentScanner(store: store, worker: worker)
        self.camera = PhotoCamera(store: store)
    }

    /// Opens the scanner and reads every option descriptor.
    public func scannerOptionCount(_ device: String) async throws -> Int {
        let scanner = self.scanner
        return try await BlockingCalls.shared.run { () throws(ScanError) -> Int in try scanner.options(device: device).descriptors.count }.get()
    }

    /// Scans into the store; returns the files.
    public func scan(_ request: ScanRequest, progress: @escaping @Sendable (Int, Int) -> Void) async throws -> [URL] {
        let result = try await scanner.scan(request) { progress($0.bytesReceived, $0.linesDone) }
        return try result.attachments.map { try store.fileURL(id: $0.id) }
    }

    /// Describes the camera.
    public func camera(_ device: String) async throws -> CameraInfo {
        let discovery = camera.discovery
        return try await BlockingCalls.shared.run { () throws(CameraError) -> CameraInfo in try discovery.resolve(device) }.get()
    }

    /// Takes a photo into the store.
    public func photo(_ request: PhotoRequest) async throws -> URL {
        try store.fileURL(id: try await camera.capture(request).attachment.id)
    }

    /// Streams on a thread of its own.
    public func frameRate(_ request: PhotoRequest, duration: Duration) async throws -> FrameRateMeasurement {
        let camera = self.camera
        return try await BlockingCalls.shared.run { () throws(CameraError) -> FrameRateMeasurement in
            try camera.measureFrameRate(request, duration: duration)
        }.get()
    }

    /// Opens a capture session for `duration`, then cancels it (nothing is stored).
    public func capturePad(_ device: String, duration: Duration, live: @escaping @Sendable ([PenSample]) -> Void) async throws -> PadCapture {
        let (session, events) = try SignatureSession.start(device: device)
        let collector = Task {
            for await event in events { if case .samples(let samples) = event { live(samples) } }
        }
        try? await Task.sleep(for: duration)
        let snapshot = session.snapshot
        session.cancel()
        await collector.value
        if let error = snapshot.error { throw error }
        return PadCapture(pad: session.pad, samples: snapshot.samples, lostReports: snapshot.lostReports)
    }
}
