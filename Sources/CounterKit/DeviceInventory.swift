import Foundation

/// Every device CounterKit can drive on this machine, found in one call.
public struct DeviceInventory: Sendable {
    /// Scanners from SANE discovery (run in the scan worker, with its time limit).
    public var scanners: [ScannerInfo]
    /// V4L2 capture nodes.
    public var cameras: [CameraNode]
    /// USB HID interfaces that a signature-pad driver takes (Wacom STU, HID pen digitizers).
    public var signaturePads: [USBHIDInterface]
    /// What could not be listed, family by family; the other families are still listed.
    public var problems: [Problem]

    /// A family that could not be listed, with the error's stable code.
    public struct Problem: Sendable, Equatable {
        /// `scanner`, `camera` or `signature_pad`.
        public var family: String
        /// The stable error code (`access_denied`, `timeout`…).
        public var code: String
        /// A message for people.
        public var message: String
    }

    /// Lists the three families at once; a family that fails is reported in `problems`, not thrown.
    /// Pass the scanner front-end to use its worker and its discovery cache.
    public static func discover(scanner: DocumentScanner, cameras: CameraDiscovery = CameraDiscovery(),
                                refresh: Bool = false) async -> DeviceInventory {
        // Discovery blocks (a worker process, libusb): on threads of their own, not the caller's executor.
        async let scanners = onThread { Result { () throws(ScanError) in try scanner.devices(refresh: refresh) } }
        async let pads = onThread { Result { () throws(SignaturePadError) in try SignaturePadDrivers.candidates() } }
        let nodes = cameras.nodes()
        var inventory = DeviceInventory(scanners: [], cameras: nodes, signaturePads: [], problems: [])
        switch await scanners {
        case .success(let found): inventory.scanners = found
        case .failure(let error): inventory.problems.append(Problem(family: "scanner", code: error.codeName, message: error.message))
        }
        switch await pads {
        case .success(let found): inventory.signaturePads = found
        case .failure(let error): inventory.problems.append(Problem(family: "signature_pad", code: error.codeName, message: error.message))
        }
        return inventory
    }
}

/// Runs blocking work on a thread of its own and waits for it without blocking the task's executor.
private func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: work()) }
    }
}
