import ArgumentParser
import Attachments
import Foundation
import Scanning

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices", abstract: "List the scanners found (discovery runs in a worker, with a time limit).")

    @Flag(help: "Print as JSON.")
    var json = false

    @Option(help: "Show every option of this device with its current value.")
    var options: String?

    @Option(help: "Seconds to wait for discovery.")
    var timeout: Int = 15

    func run() throws {
        let store = try AttachmentStore(directory: FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-devices-\(getpid())"))
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let scanner = DocumentScanner(store: store, discoveryTimeout: .seconds(timeout))
        do {
            if let id = options {
                let result = try scanner.options(device: id)
                if json { try printJSON(result); return }
                print("\(result.device.id): \(result.device.vendor) \(result.device.model)")
                for descriptor in result.descriptors {
                    if descriptor.type == .group { print("\n  \(descriptor.title)"); continue }
                    let state = descriptor.capabilities.isActive ? (result.values[descriptor.name] ?? "") : "inactive"
                    print("    --\(descriptor.name) [\(descriptor.type.rawValue)\(descriptor.unit == .none ? "" : ", \(descriptor.unit.rawValue)")] = \(state)  \(describe(descriptor.constraint))")
                }
                return
            }
            let devices = try scanner.devices()
            if json { try printJSON(["scanners": devices]); return }
            if devices.isEmpty { print("no scanners found (run `counterkit doctor` for hints)") }
            for device in devices { print("\(device.id)\tscanner\t\(device.vendor) \(device.model) (\(device.type))") }
        } catch let error as ScanError {
            throw fail(code: error.code.rawValue, error.message)
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
