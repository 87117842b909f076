import ArgumentParser
import Attachments
import DeviceService
import Foundation
import Scanning
import Cameras
import SignaturePads

struct DevicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices", abstract: "List scanners (discovery in a worker, with a time limit), cameras and signature pads.")

    @Flag(help: "Print as JSON.")
    var json = false

    @Option(help: "Show every option of this device with its current value.")
    var options: String?

    @Option(help: "Seconds to wait for discovery.")
    var timeout: Int = 15

    @Flag(help: "Keep running: print the devices present, then each arrival and departure (+/-) until Ctrl-C.")
    var watch = false

    @Option(help: "With --watch, seconds between scanner discoveries (cameras and pads are followed within a second).")
    var scannerInterval: Double = 10

    @OptionGroup var service: ServiceConnection

    func run() async throws {
        if watch {
            guard scannerInterval >= 1 else { throw fail(.invalidValue, "--scanner-interval must be at least 1 second") }
            try DeviceWatch(json: json, scannerInterval: scannerInterval, discoveryTimeout: timeout).run()
        }
        if let socket = try service.socketToUse() {
            try await listThroughService(ServiceClient(socketPath: socket, idleTimeout: .seconds(30)))
            return
        }
        let store = try AttachmentStore(directory: FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-devices-\(getpid())"))
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let scanner = DocumentScanner(store: store, discoveryTimeout: .seconds(timeout))
        if let id = options, id.hasPrefix("v4l2:") || id.hasPrefix("/dev/video") {
            let camera: CameraInfo
            do { camera = try CameraDiscovery().resolve(id) } catch { throw fail(error.code, error.message) }
            if json { try printJSON(camera); return }
            printCamera(camera)
            return
        }
        let cameras = CameraDiscovery().cameras()
        let pads = (try? SignaturePadDrivers.candidates()) ?? []
        do {
            if let id = options {
                let result = try scanner.options(device: id)
                if json { try printJSON(result); return }
                printOptions(result.device.id, "\(result.device.vendor) \(result.device.model)", result.descriptors, result.values)
                return
            }
            let devices = try scanner.devices()
            if json {
                struct Listing: Encodable { var scanners: [ScannerInfo]; var cameras: [CameraInfo]; var signaturePads: [USBHIDInterface] }
                try printJSON(Listing(scanners: devices, cameras: cameras, signaturePads: pads))
                return
            }
            if devices.isEmpty && cameras.isEmpty && pads.isEmpty { print("no devices found (run `counterkit doctor` for hints)") }
            for device in devices { print("\(device.id)\tscanner\t\(device.vendor) \(device.model) (\(device.type))") }
            for camera in cameras {
                let largest = camera.largestSize.map { ", up to \($0)" } ?? ""
                print("\(camera.id)\tcamera\t\(camera.card) (\(camera.driver), \(camera.path)\(largest))")
            }
            for pad in pads {
                let kind = STU.model(vendorID: pad.vendorID, productID: pad.productID).map { "Wacom \($0.name)" } ?? "HID digitizer?"
                let name = [pad.manufacturer, pad.product].compactMap { $0 }.joined(separator: " ")
                print("\(pad.id)\tsignature_pad\t\(name.isEmpty ? kind : name) (\(kind), USB \(String(format: "%04x:%04x", pad.vendorID, pad.productID)))")
            }
        } catch let error as ScanError {
            throw fail(error.code, error.message)
        }
    }

    /// The same listing, from the service (which never loses the device to this command).
    private func listThroughService(_ client: ServiceClient) async throws {
        struct Listed: Decodable { var devices: [DeviceSummary] }
        struct Detail: Decodable { var device: DeviceSummary; var options: [OptionDescriptor]; var values: [String: String] }
        let path = options.map { "/v1/devices/\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" } ?? "/v1/devices"
        let reply = try await client.send("GET", path)
        if let error = reply.error { throw fail(code: error.code, error.message) }
        if json {
            let object = try JSONSerialization.jsonObject(with: Data(reply.body))
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
            return
        }
        if options != nil {
            let detail = try reply.decode(Detail.self)
            printOptions(detail.device.id, "\(detail.device.vendor) \(detail.device.model)", detail.options, detail.values)
            return
        }
        let devices = try reply.decode(Listed.self).devices
        if devices.isEmpty { print("no devices found (run `counterkit doctor` for hints)") }
        for device in devices {
            print("\(device.id)\t\(device.kind.rawValue)\t\(device.vendor) \(device.model) (\(device.type))\(device.busy ? "\tbusy" : "")")
        }
    }

    private func printCamera(_ camera: CameraInfo) {
        print("\(camera.id): \(camera.card) (\(camera.driver), \(camera.path), \(camera.bus))")
        print("\n  formats")
        for format in camera.formats {
            let sizes = format.sizes.map { size in
                size.framesPerSecond.max().map { "\(size)@\(Int($0.rounded()))" } ?? size.description
            }.joined(separator: " ")
            print("    \(format.pixelFormat.name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(format.savable ? "" : "(not savable) ")\(format.description): \(sizes)")
        }
        print("\n  controls")
        for control in camera.controls {
            let value = control.value.map { control.describe($0) } ?? (control.kind == .button ? "button" : "-")
            let range = control.menu.map { $0.map { "\($0.index)=\($0.name)" }.joined(separator: ", ") } ?? "\(control.minimum)…\(control.maximum)"
            let flags = [control.readOnly ? "read-only" : nil, control.inactive ? "inactive" : nil].compactMap { $0 }.joined(separator: ", ")
            print("    --control \(control.name)=\(value)  [\(control.kind.rawValue) \(range)]\(flags.isEmpty ? "" : " (\(flags))")")
        }
    }

    private func printOptions(_ id: String, _ name: String, _ descriptors: [OptionDescriptor], _ values: [String: String]) {
        print("\(id): \(name)")
        for descriptor in descriptors {
            if descriptor.type == .group { print("\n  \(descriptor.title)"); continue }
            let state = descriptor.capabilities.isActive ? (values[descriptor.name] ?? "") : "inactive"
            print("    --\(descriptor.name) [\(descriptor.type.rawValue)\(descriptor.unit == .none ? "" : ", \(descriptor.unit.rawValue)")] = \(state)  \(describe(descriptor.constraint))")
        }
    }

    private func describe(_ constraint: OptionConstraint) -> String {
        switch constraint {
        case .none: ""
        case .range(let low, let high, let quant): "range \(OptionValue.fixed([low]))..\(OptionValue.fixed([high]))\(quant > 0 ? " step \(OptionValue.fixed([quant]))" : "")"
        case .wordList(let values): "one of " + values.map { OptionValue.fixed([$0]).description }.joined(separator: "|")
        case .stringList(let values): "one of " + values.joined(separator: "|")
        }
    }
}
