import Cameras
import Foundation
import Scanning
import SignaturePads

/// The kinds of device CounterKit drives.
public enum DeviceKind: String, Sendable, Codable, CaseIterable {
    /// A SANE scanner or a V4L2 camera.
    case scanner, camera
    /// A USB signature pad.
    case signaturePad = "signature_pad"

    /// The family an id names by its form: `v4l2:…` and `/dev/video…` are cameras, `usb:…` pads, anything else a SANE
    /// scanner name.
    public init(guessingFrom id: String) {
        self = if id.hasPrefix("v4l2:") || id.hasPrefix("/dev/video") { .camera } else if id.hasPrefix("usb:") { .signaturePad } else { .scanner }
    }
}

/// A device as every listing shows it (`GET /v1/devices`, `counterkit devices`, the library): one schema and one
/// name per device, whoever lists it.
public struct DeviceSummary: Sendable, Codable, Equatable {
    /// Stable id: the SANE name for scanners, `v4l2:<bus>` for cameras, `usb:<bus>-<ports>:<interface>` for pads.
    public var id: String
    /// Scanner, camera or signature pad.
    public var kind: DeviceKind
    /// The maker, as the device reports it.
    public var vendor: String
    /// The model, as the device reports it.
    public var model: String
    /// The driver's own description of the device type ("flatbed scanner", "video camera"…).
    public var type: String
    /// Whether a job or session is using it now.
    public var busy: Bool

    /// Creates a summary.
    public init(id: String, kind: DeviceKind, vendor: String, model: String, type: String, busy: Bool = false) {
        self.id = id
        self.kind = kind
        self.vendor = vendor
        self.model = model
        self.type = type
        self.busy = busy
    }

    /// A scanner as SANE names it.
    public init(scanner: ScannerInfo, busy: Bool = false) {
        self.init(id: scanner.id, kind: .scanner, vendor: scanner.vendor, model: scanner.model, type: scanner.type, busy: busy)
    }

    /// A camera as its V4L2 node names it.
    public init(camera: CameraNode, busy: Bool = false) {
        self.init(
            id: camera.id, kind: .camera, vendor: camera.manufacturer ?? camera.driver, model: camera.card, type: "video camera",
            busy: busy)
    }

    /// A signature pad as USB names it, with the driver that will take it.
    public init(pad: USBHIDInterface, busy: Bool = false) {
        let stu = STU.model(vendorID: pad.vendorID, productID: pad.productID)
        self.init(
            id: pad.id, kind: .signaturePad, vendor: pad.manufacturer ?? (stu != nil ? "Wacom" : "USB"),
            model: pad.product ?? stu?.name ?? "HID digitizer",
            type: stu != nil ? "signature pad (Wacom STU)" : "signature pad (HID digitizer)", busy: busy)
    }

    /// One line for people: `ID<TAB>KIND<TAB>VENDOR MODEL (TYPE)`, and `busy` when it is.
    public var line: String { "\(id)\t\(kind.rawValue)\t\(vendor) \(model) (\(type))\(busy ? "\tbusy" : "")" }
}

/// A family whose discovery failed, or a device node of it that could not be used, with the error's stable code.
public struct DiscoveryFailure: Sendable, Codable, Equatable {
    /// The family.
    public var kind: DeviceKind
    /// The stable code (`timeout`, `access_denied`…).
    public var code: String
    /// A message for people.
    public var message: String
    /// The device node that failed (`/dev/video0`), when one did rather than the whole family.
    public var node: String?

    /// Creates a failure.
    public init(kind: DeviceKind, code: String, message: String, node: String? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.node = node
    }
}

/// Every device found, as every listing shows it.
public struct DeviceList: Sendable, Codable, Equatable {
    /// Scanners, then cameras, then signature pads.
    public var devices: [DeviceSummary]
    /// When the devices were last discovered (nil: discovery has not finished yet).
    public var discoveredAt: Date?
    /// Families whose discovery failed, with why; the other families are still listed.
    public var errors: [DiscoveryFailure]

    /// Creates a list.
    public init(devices: [DeviceSummary], discoveredAt: Date?, errors: [DiscoveryFailure]) {
        self.devices = devices
        self.discoveredAt = discoveredAt
        self.errors = errors
    }
}

/// A scanner in detail (`GET /v1/devices/{id}`, `counterkit devices --options ID`): the device, its normalized
/// capabilities and every backend option with its current value.
public struct DeviceDetail: Codable, Sendable, Equatable {
    /// The device.
    public var device: DeviceSummary
    /// What the normalized settings can ask of it.
    public var capabilities: ScannerCapabilities
    /// Every backend option, in the backend's order.
    public var options: [OptionDescriptor]
    /// Each readable option's current value, as text.
    public var values: [String: String]
    /// True when the options come from the cache because a job holds the device.
    public var cached: Bool

    /// The detail of a scanner whose options were read (`cached` when they come from an earlier read).
    public init(_ options: DeviceOptions, busy: Bool = false, cached: Bool = false) {
        self.device = DeviceSummary(scanner: options.device, busy: busy)
        self.capabilities = ScannerCapabilities(options)
        self.options = options.descriptors
        self.values = options.values
        self.cached = cached
    }
}

/// A camera in detail: the device and everything its driver offers, read live (reading formats and controls does not
/// disturb a capture in progress).
public struct CameraDetail: Codable, Sendable, Equatable {
    /// The device.
    public var device: DeviceSummary
    /// Formats, sizes, frame rates and controls.
    public var camera: CameraInfo

    /// The detail of a camera node as its driver describes it.
    public init(node: CameraNode, camera: CameraInfo, busy: Bool = false) {
        self.device = DeviceSummary(camera: node, busy: busy)
        self.camera = camera
    }
}
