import Attachments
import Cameras
import DeviceHub
import Foundation
import Scanning
import SignaturePads
import Synchronization

/// `counterkit devices --watch`: the devices present, then arrivals and departures as they happen, one
/// line each (or one JSON object per line). Pads through `USBHotplugMonitor`; cameras by rescanning
/// /dev/video* every second; scanners by SANE discovery every `scannerInterval` seconds (it is slow).
/// Nothing is opened for long or claimed, so a running service keeps its devices.
final class DeviceWatch: Sendable {
    struct Change: Encodable {
        var event: String
        var kind: String
        var id: String
        var name: String
        var time: Date
    }

    let json: Bool
    let scannerInterval: Double
    let discoveryTimeout: Int

    private let output = Mutex<Void>(())

    init(json: Bool, scannerInterval: Double, discoveryTimeout: Int) {
        self.json = json
        self.scannerInterval = scannerInterval
        self.discoveryTimeout = discoveryTimeout
    }

    func report(_ event: String, _ kind: String, _ id: String, _ name: String) {
        output.withLock { _ in
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                if let data = try? encoder.encode(Change(event: event, kind: kind, id: id, name: name, time: Date())) {
                    print(String(decoding: data, as: UTF8.self))
                }
            } else {
                print("\(event == "arrived" ? "+" : "-") \(kind)\t\(id)\t\(name)")
            }
            fflush(nil)
        }
    }

    /// Watches until Ctrl-C.
    func run() throws -> Never {
        let pads = USBHotplugMonitor(interval: .seconds(1), filter: SignaturePadDrivers.isCandidate) { [self] change in
            switch change {
            case .arrived(let pad): report("arrived", DeviceSummary(pad: pad))
            case .left(let pad): report("left", DeviceSummary(pad: pad))
            }
        }
        pads.start()
        let watcher = self
        Thread.detachNewThread { watcher.watchCameras() }
        Thread.detachNewThread { watcher.watchScanners() }
        InterruptHandler.install {
            fflush(nil)
            exit(0)
        }
        while true { sleep(60) }
    }

    /// Reports a device by its summary, named as every listing names it.
    func report(_ event: String, _ device: DeviceSummary) { report(event, device.kind.rawValue, device.id, "\(device.vendor) \(device.model)") }

    private func watchCameras() {
        var known: [String: CameraNode] = [:]
        while true {
            let now = Dictionary(CameraDiscovery().nodes().map { ("\($0.id)@\($0.path)", $0) }, uniquingKeysWith: { first, _ in first })
            for (key, camera) in known where now[key] == nil { report("left", DeviceSummary(camera: camera)) }
            for (key, camera) in now.sorted(by: { $0.key < $1.key }) where known[key] == nil { report("arrived", DeviceSummary(camera: camera)) }
            known = now
            sleep(1)
        }
    }

    private func watchScanners() {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-watch-\(getpid())")
        guard let store = try? AttachmentStore(directory: directory) else { return }
        let scanner = DocumentScanner(store: store, discoveryTimeout: .seconds(discoveryTimeout))
        var known: [String: ScannerInfo] = [:]
        while true {
            if let found = try? scanner.devices(refresh: true) {
                let now = Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                for (id, device) in known where now[id] == nil { report("left", DeviceSummary(scanner: device)) }
                for (id, device) in now.sorted(by: { $0.key < $1.key }) where known[id] == nil { report("arrived", DeviceSummary(scanner: device)) }
                known = now
            }
            Thread.sleep(forTimeInterval: scannerInterval)
        }
    }
}


