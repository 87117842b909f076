import Cameras
import Foundation
import Scanning
import SignaturePads

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

    /// Lists the three families at once through a `DeviceCatalog`; a family that fails is reported in `problems`,
    /// not thrown. Pass the scanner front-end to use its worker and, unless `refresh`, its discovery cache.
    public static func discover(
        scanner: SANEScanner, cameras: CameraDiscovery = CameraDiscovery(),
        refresh: Bool = false
    ) async -> DeviceInventory {
        let found = await DeviceCatalog(scanner: scanner, cameras: cameras).snapshot(refresh: refresh)
        return DeviceInventory(
            scanners: found.scanners, cameras: found.cameras, signaturePads: found.pads,
            problems: found.failures.map { Problem(family: $0.kind.rawValue, code: $0.code, message: $0.message) })
    }
}
