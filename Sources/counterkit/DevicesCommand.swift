import ArgumentParser
import Attachments
import Cameras
import DeviceHub
import DeviceService
import Foundation
import Scanning
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
            try await DeviceWatch(json: json, scannerInterval: scannerInterval, discoveryTimeout: timeout).run()
        }
        // Listing never touches the spool: the local hub stores nothing, in a temp directory removed at the end.
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-devices-\(getpid())")
        defer { try? FileManager.default.removeItem(at: temp) }
        let hub = try service.hub(storingIn: temp, discoveryTimeout: .seconds(timeout), idleTimeout: .seconds(30)).hub
        if let id = options {
            if DeviceKind(guessingFrom: id) == .camera {
                show(try await interruptible { try await hub.camera(id) })
            } else {
                show(try await interruptible { try await hub.scanner(id) })
            }
        } else {
            show(try await interruptible { try await hub.devices(refresh: false) })
        }
    }

    private func show(_ list: DeviceList) {
        for failure in list.errors {
            let what = failure.node == nil ? "\(failure.kind.rawValue) discovery failed" : "a \(failure.kind.rawValue) cannot be used"
            FileHandle.standardError.write(Data("warning: \(what): \(failure.code): \(failure.message)\n".utf8))
        }
        if json { try? printJSON(list); return }
        if list.devices.isEmpty { print("no devices found (run `counterkit doctor` for hints)") }
        for device in list.devices { print(device.line) }
    }

    private func show(_ detail: DeviceDetail) {
        if json { try? printJSON(detail); return }
        printOptions(detail.device.id, "\(detail.device.vendor) \(detail.device.model)", detail.options, detail.values)
    }

    private func show(_ detail: CameraDetail) {
        if json { try? printJSON(detail); return }
        printCamera(detail.camera)
    }

    private func printCamera(_ camera: CameraInfo) {
        print("\(camera.id): \(camera.card) (\(camera.driver), \(camera.path), \(camera.bus))")
        print("\n  formats")
        for format in camera.formats {
            let sizes = format.sizes.map { size in
                size.framesPerSecond.max().map { "\(size)@\(Int($0.rounded()))" } ?? size.description
            }.joined(separator: " ")
            print(
                "    \(format.pixelFormat.name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(format.savable ? "" : "(not savable) ")\(format.description): \(sizes)"
            )
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
            print(
                "    --\(descriptor.name) [\(descriptor.type.rawValue)\(descriptor.unit == .none ? "" : ", \(descriptor.unit.rawValue)")] = \(state)  \(describe(descriptor.constraint))"
            )
        }
    }

    private func describe(_ constraint: OptionConstraint) -> String {
        switch constraint {
        case .none: ""
        case .range(let low, let high, let quant):
            "range \(OptionValue.fixed([low]))..\(OptionValue.fixed([high]))\(quant > 0 ? " step \(OptionValue.fixed([quant]))" : "")"
        case .wordList(let values): "one of " + values.map { OptionValue.fixed([$0]).description }.joined(separator: "|")
        case .stringList(let values): "one of " + values.joined(separator: "|")
        }
    }
}
