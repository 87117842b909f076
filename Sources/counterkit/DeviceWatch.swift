import Attachments
import DeviceHub
import Foundation
import Scanning

/// `counterkit devices --watch`: the devices present, then arrivals and departures as they happen, one line each (or
/// one JSON object per line), from the device catalog's change stream: cameras and pads rediscovered every second,
/// scanners every `scannerInterval` seconds (SANE discovery is slow). Nothing is opened for long or claimed, so a
/// running service keeps its devices.
struct DeviceWatch {
    /// One line of `--json` output.
    struct Line: Encodable {
        var event: String
        var kind: String
        var id: String
        var name: String
        var time: Date
    }

    let json: Bool
    let scannerInterval: Double
    let discoveryTimeout: Int

    /// Watches until Ctrl-C.
    func run() async throws -> Never {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-watch-\(getpid())")
        let store: AttachmentStore
        do { store = try AttachmentStore(directory: directory) } catch { throw fail(error.code, error.message) }
        InterruptHandler.install {
            try? FileManager.default.removeItem(at: directory)
            fflush(nil)
            exit(0)
        }
        let catalog = DeviceCatalog(scanner: SANEScanner(store: store, discoveryTimeout: .seconds(discoveryTimeout)))
        for await change in catalog.changes(interval: .seconds(1), scannerInterval: .milliseconds(Int(scannerInterval * 1000))) {
            report(change)
        }
        exit(0)
    }

    private func report(_ change: DeviceChange) {
        let device = change.device
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            let line = Line(
                event: change.event.rawValue, kind: device.kind.rawValue, id: device.id, name: "\(device.vendor) \(device.model)",
                time: Date())
            if let data = try? encoder.encode(line) { print(String(decoding: data, as: UTF8.self)) }
        } else {
            print("\(change.event == .arrived ? "+" : "-") \(device.kind.rawValue)\t\(device.id)\t\(device.vendor) \(device.model)")
        }
        fflush(nil)
    }
}
