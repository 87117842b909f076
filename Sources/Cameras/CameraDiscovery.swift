import Foundation

/// Finds video capture devices among `/dev/video*` (metadata, output and
/// other non-capture nodes are skipped) and gives each a stable id.
public struct CameraDiscovery: Sendable {
    /// The directory holding the device nodes.
    public var deviceDirectory: String

    /// Discovery over `deviceDirectory` (default `/dev`).
    public init(deviceDirectory: String = "/dev") {
        self.deviceDirectory = deviceDirectory
    }

    /// Every capture device with formats and controls. Nodes that cannot be opened are skipped.
    public func cameras() -> [CameraInfo] {
        captureNodes().compactMap { try? describe($0) }
    }

    /// The camera for a request's device (an id, a node path, or nil for the first camera).
    /// Only the chosen node is described; the others are asked for their capabilities alone.
    public func resolve(_ device: String?, frameRates: Bool = true) throws(CameraError) -> CameraInfo {
        let nodes = captureNodes()
        if let device, device.hasPrefix("/") {
            if let node = nodes.first(where: { $0.path == device }) { return try describe(node, frameRates: frameRates) }
            // Not listed: say why (missing, no permission, not a capture device).
            let capability = try V4L2Device(path: device).capability()
            guard capability.isCapture else { throw CameraError(.deviceNotFound, "\(device) is not a video capture device") }
            return try describe(
                CameraNode(id: "v4l2:" + Self.sanitize(capability.bus), path: device, capability: capability),
                frameRates: frameRates)
        }
        guard let device else {
            guard let first = nodes.first else { throw CameraError(.deviceNotFound, "no camera found in \(deviceDirectory)/video*") }
            return try describe(first, frameRates: frameRates)
        }
        guard let match = nodes.first(where: { $0.id == device }) else {
            let known = nodes.map(\.id).joined(separator: ", ")
            throw CameraError(.deviceNotFound, "no camera with id \(device)" + (known.isEmpty ? "; none found" : "; cameras: \(known)"))
        }
        return try describe(match, frameRates: frameRates)
    }

    /// Capture nodes with their ids, asked for their capabilities only (one open and one ioctl each):
    /// cheap enough for a device list. `cameras()` adds formats and controls.
    public func nodes() -> [CameraNode] { captureNodes() }

    /// For diagnostics: every capture node described, and every `/dev/video*` node that could not be opened
    /// or asked what it is, with why (`access_denied`, `device_busy`…). Non-capture nodes are left out.
    public func diagnose() -> [CameraDiagnosis] {
        let nodes = captureNodes()
        var results: [CameraDiagnosis] = nodes.map { node in
            do throws(CameraError) {
                return CameraDiagnosis(path: node.path, node: node, camera: try describe(node, frameRates: false), error: nil)
            } catch {
                return CameraDiagnosis(path: node.path, node: node, camera: nil, error: error)
            }
        }
        results += unusableNodes(besides: nodes)
        return results.sorted { $0.path.localizedStandardCompare($1.path) == .orderedAscending }
    }

    /// The `/dev/video*` nodes that could not be opened or asked what they are, with why (`access_denied`,
    /// `device_busy`…): the ones `nodes()` cannot list.
    public func unusableNodes() -> [CameraDiagnosis] { unusableNodes(besides: captureNodes()) }

    private func unusableNodes(besides nodes: [CameraNode]) -> [CameraDiagnosis] {
        nodePaths().filter { path in !nodes.contains { $0.path == path } }.compactMap { path in
            do throws(CameraError) {
                _ = try V4L2Device(path: path).capability()
                return nil
            } catch {
                return CameraDiagnosis(path: path, node: nil, camera: nil, error: error)
            }
        }
    }

    /// Capture nodes with their ids: `v4l2:<bus>`, with `:2`, `:3`… for further capture nodes on the same bus.
    func captureNodes() -> [CameraNode] {
        var seen: [String: Int] = [:]
        return nodePaths().compactMap { path in
            guard let device = try? V4L2Device(path: path), let capability = try? device.capability(), capability.isCapture else { return nil }
            let base = "v4l2:" + Self.sanitize(capability.bus.isEmpty ? capability.card : capability.bus)
            let count = (seen[base] ?? 0) + 1
            seen[base] = count
            return CameraNode(id: count == 1 ? base : "\(base):\(count)", path: path, capability: capability)
        }
    }

    private func describe(_ node: CameraNode, frameRates: Bool = true) throws(CameraError) -> CameraInfo {
        let device = try V4L2Device(path: node.path)
        return CameraInfo(
            id: node.id, path: node.path, driver: node.driver, card: node.card, bus: node.bus, formats: device.formats(frameRates: frameRates),
            controls: device.controls())
    }

    /// `/dev/video<N>` nodes in number order.
    func nodePaths() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: deviceDirectory)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("video"), let number = Int(name.dropFirst(5)) else { return nil }
            return (number, deviceDirectory + "/" + name)
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    static func sanitize(_ text: String) -> String {
        String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._:-".contains($0)) ? $0 : "-" })
    }
}

/// A capture node found by discovery, before its formats and controls are read.
public struct CameraNode: Sendable, Equatable {
    /// Stable id: `v4l2:<bus>` (`:N` for a further capture node on the same bus).
    public var id: String
    /// The device node, e.g. `/dev/video0`.
    public var path: String
    /// The kernel driver (`uvcvideo`, `vivid`…).
    public var driver: String
    /// The driver's name for the device.
    public var card: String
    /// Where it is attached.
    public var bus: String
    /// The USB manufacturer string from sysfs, when the camera is on USB and says.
    public var manufacturer: String?

    init(id: String, path: String, capability: V4L2Device.Capability) {
        self.id = id
        self.path = path
        driver = capability.driver
        card = capability.card
        bus = capability.bus
        manufacturer = Self.usbManufacturer(of: path)
    }

    /// `/sys/class/video4linux/videoN/device` is the USB interface; its parent device holds `manufacturer`.
    private static func usbManufacturer(of path: String) -> String? {
        let name = (path as NSString).lastPathComponent
        let file = "/sys/class/video4linux/\(name)/device/../manufacturer"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }
}

/// What diagnostics found at one video device node.
public struct CameraDiagnosis: Sendable {
    /// The device node.
    public var path: String
    /// The capture node, when it could be asked for its capabilities.
    public var node: CameraNode?
    /// Formats and controls, when they could be read.
    public var camera: CameraInfo?
    /// Why the node could not be used.
    public var error: CameraError?
}
