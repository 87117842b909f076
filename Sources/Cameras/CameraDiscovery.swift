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
            return try describe(CaptureNode(id: "v4l2:" + Self.sanitize(capability.bus), path: device, capability: capability),
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

    struct CaptureNode {
        var id: String
        var path: String
        var capability: V4L2Device.Capability
    }

    /// Capture nodes with their ids: `v4l2:<bus>`, with `:2`, `:3`… for further capture nodes on the same bus.
    func captureNodes() -> [CaptureNode] {
        var seen: [String: Int] = [:]
        return nodePaths().compactMap { path in
            guard let device = try? V4L2Device(path: path), let capability = try? device.capability(), capability.isCapture else { return nil }
            let base = "v4l2:" + Self.sanitize(capability.bus.isEmpty ? capability.card : capability.bus)
            let count = (seen[base] ?? 0) + 1
            seen[base] = count
            return CaptureNode(id: count == 1 ? base : "\(base):\(count)", path: path, capability: capability)
        }
    }

    private func describe(_ node: CaptureNode, frameRates: Bool = true) throws(CameraError) -> CameraInfo {
        let device = try V4L2Device(path: node.path)
        return CameraInfo(id: node.id, path: node.path, driver: node.capability.driver, card: node.capability.card,
                          bus: node.capability.bus, formats: device.formats(frameRates: frameRates), controls: device.controls())
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
