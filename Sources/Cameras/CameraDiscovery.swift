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
        var cameras: [CameraInfo] = []
        for path in nodePaths() {
            guard let device = try? V4L2Device(path: path), let capability = try? device.capability(), capability.isCapture else { continue }
            cameras.append(CameraInfo(
                id: "", path: path, driver: capability.driver, card: capability.card, bus: capability.bus,
                formats: device.formats(), controls: device.controls()))
        }
        return assignIDs(cameras)
    }

    /// The camera for a request's device (an id, a node path, or nil for the first camera).
    public func resolve(_ device: String?) throws(CameraError) -> CameraInfo {
        if let device, device.hasPrefix("/") {
            let node = try V4L2Device(path: device)
            let capability = try node.capability()
            guard capability.isCapture else { throw CameraError(.deviceNotFound, "\(device) is not a video capture device") }
            let all = cameras()
            if let known = all.first(where: { $0.path == device }) { return known }
            return CameraInfo(id: "v4l2:" + Self.sanitize(capability.bus), path: device, driver: capability.driver,
                              card: capability.card, bus: capability.bus, formats: node.formats(), controls: node.controls())
        }
        let all = cameras()
        guard let device else {
            guard let first = all.first else { throw CameraError(.deviceNotFound, "no camera found in \(deviceDirectory)/video*") }
            return first
        }
        guard let match = all.first(where: { $0.id == device }) else {
            let known = all.map(\.id).joined(separator: ", ")
            throw CameraError(.deviceNotFound, "no camera with id \(device)" + (known.isEmpty ? "; none found" : "; cameras: \(known)"))
        }
        return match
    }

    /// `/dev/video<N>` nodes in number order.
    func nodePaths() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: deviceDirectory)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("video"), let number = Int(name.dropFirst(5)) else { return nil }
            return (number, deviceDirectory + "/" + name)
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// Ids from the bus: `v4l2:<bus>`, with `:2`, `:3`… for further capture nodes on the same bus.
    private func assignIDs(_ cameras: [CameraInfo]) -> [CameraInfo] {
        var seen: [String: Int] = [:]
        return cameras.map { camera in
            var camera = camera
            let base = "v4l2:" + Self.sanitize(camera.bus.isEmpty ? camera.card : camera.bus)
            let count = (seen[base] ?? 0) + 1
            seen[base] = count
            camera.id = count == 1 ? base : "\(base):\(count)"
            return camera
        }
    }

    static func sanitize(_ text: String) -> String {
        String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._:-".contains($0)) ? $0 : "-" })
    }
}
