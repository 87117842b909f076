import Attachments
import Cameras
import Foundation
import Scanning
import SignaturePads

/// The device families a counter is expected to have; a missing expected family is a FAIL, not a WARN.
public enum DeviceFamily: String, Sendable, Codable, CaseIterable {
    /// A SANE scanner.
    case scanner
    /// A V4L2 camera.
    case camera
    /// A USB signature pad.
    case pad
}

/// One section of checks per device family: what each device is and whether CounterKit can use it.
public struct DeviceChecks: Sendable {
    /// Families the counter must have (from `counterkit doctor --expect`).
    public var expected: Set<DeviceFamily>
    /// Pads the caller holds open itself (the service's sessions), by id, with what holds them.
    public var padsInUse: [String: String]

    /// Device checks expecting `expected` families, with `padsInUse` reported as busy by their holder instead of opened.
    public init(expected: Set<DeviceFamily> = [], padsInUse: [String: String] = [:]) {
        self.expected = expected
        self.padsInUse = padsInUse
    }

    private func missing(_ kind: DeviceFamily, id: String, section: DiagnosticCheck.Section, message: String, hint: String) -> DiagnosticCheck {
        DiagnosticCheck(id: id, section: section, status: expected.contains(kind) ? .fail : .warn, message: message, hint: hint)
    }

    /// Scanner lines from a discovery's outcome (the doctor discovers through the worker; the service passes its cache).
    public func scanners(_ outcome: Result<[ScannerInfo], ScanError>, saneVersion: String?) -> [DiagnosticCheck] {
        switch outcome {
        case .failure(let error):
            return [DiagnosticCheck(
                id: "sane.scanners", section: .scanners, status: .fail, message: "discovery failed: \(error.code.rawValue): \(error.message)",
                hint: error.code == .timeout ? "a backend hangs: remove network backends (net, escl, airscan) from dll.conf or raise --timeout"
                    : "check that the counterkit binary can run its worker; run `scanimage -L` to compare")]
        case .success(let devices):
            var checks = [DiagnosticCheck(id: "lib.libsane", section: .scanners, status: .pass,
                                          message: "libsane \(saneVersion ?? "?") (in the scan worker)")]
            if devices.isEmpty {
                checks.append(missing(.scanner, id: "sane.scanners", section: .scanners, message: "no scanner found",
                                      hint: "connect and power on the scanner; check `lsusb`; run `scanimage -L` as the service user; install the udev rules"))
            }
            checks += devices.map {
                DiagnosticCheck(id: "scanner.\($0.id)", section: .scanners, status: .pass, message: "\($0.vendor) \($0.model) (\($0.type))")
            }
            return checks
        }
    }

    /// Scanner lines from a discovery through a scan worker, bounded by the scanner's discovery timeout.
    public func scanners(discoveringWith scanner: DocumentScanner) -> [DiagnosticCheck] {
        let outcome = Result { () throws(ScanError) in try scanner.devices(refresh: true) }
        return scanners(outcome, saneVersion: scanner.saneVersion)
    }

    /// One line per camera: what it offers and whether CounterKit can save from it; a line per node it cannot use.
    public func cameras(discovery: CameraDiscovery = CameraDiscovery()) -> [DiagnosticCheck] {
        let found = discovery.diagnose()
        guard !found.isEmpty else {
            return [missing(.camera, id: "cameras", section: .cameras, message: "no camera found",
                            hint: "connect the camera and check `lsusb`; USB cameras need the uvcvideo module (`lsmod | grep uvcvideo`)")]
        }
        return found.map { diagnosis in
            let id = "camera." + (diagnosis.node?.id ?? diagnosis.path)
            if let camera = diagnosis.camera {
                let savable = camera.formats.filter(\.savable)
                let jpeg = savable.contains(where: \.isJPEG)
                let largest = camera.largestSize.map { ", largest \($0)" } ?? ""
                let message = "\(camera.card) (\(camera.driver)) at \(camera.path): \(camera.formats.count) formats\(largest), "
                    + "\(camera.controls.count) controls" + (jpeg ? "; its MJPEG is kept as is" : "")
                guard !savable.isEmpty else {
                    return DiagnosticCheck(id: id, section: .cameras, status: .warn,
                                           message: message + "; none of its formats can be saved ("
                                               + camera.formats.map(\.pixelFormat.name).joined(separator: ", ") + ")",
                                           hint: "use a UVC camera that offers MJPEG or YUYV")
                }
                return DiagnosticCheck(id: id, section: .cameras, status: .pass, message: message)
            }
            let error = diagnosis.error ?? CameraError(.ioError, "unknown failure")
            let hint: String = switch error.code {
            case .accessDenied:
                "install the udev rules (group counterkit on video4linux) or add the user to the video group: sudo usermod -aG video $USER"
            case .deviceBusy: "another program holds \(diagnosis.path): find it with `fuser -v \(diagnosis.path)` and close it"
            default: "replug the camera and check `dmesg | tail` for driver errors"
            }
            return DiagnosticCheck(id: id, section: .cameras, status: .fail,
                                   message: "\(diagnosis.path): \(error.code.rawValue): \(error.message)", hint: hint)
        }
    }

    /// One line per signature pad, opened with its driver; HID interfaces without a pen are not pads.
    public func pads() -> [DiagnosticCheck] {
        let interfaces: [USBHIDInterface]
        do { interfaces = try SignaturePadDrivers.candidates() } catch {
            return [DiagnosticCheck(id: "pads", section: .pads, status: .fail, message: "USB enumeration failed: \(error.message)",
                                    hint: "check that /dev/bus/usb is present and readable")]
        }
        var checks: [DiagnosticCheck] = []
        for interface in interfaces {
            let id = "pad." + interface.id
            if let holder = padsInUse[interface.id] {
                checks.append(DiagnosticCheck(id: id, section: .pads, status: .pass, message: "in use by \(holder)"))
                continue
            }
            do throws(SignaturePadError) {
                let (connection, driver) = try SignaturePadDrivers.open(interface)
                connection.close()
                checks.append(DiagnosticCheck(id: id, section: .pads, status: .pass, message: Self.describe(driver.description)))
            } catch where error.code == .unsupportedDevice {
                continue // a HID interface without a pen: not a signature pad
            } catch {
                let hint: String = switch error.code {
                case .accessDenied: "\(UdevRules.installCommand); then sudo usermod -aG counterkit $USER"
                case .deviceBusy: "another program holds the pad; when `counterkit serve` runs, go through the service (`counterkit sign` does)"
                default: "replug the pad and check `dmesg | tail`"
                }
                checks.append(DiagnosticCheck(id: id, section: .pads, status: .fail, message: "\(error.code.rawValue): \(error.message)", hint: hint))
            }
        }
        if checks.isEmpty {
            checks.append(missing(.pad, id: "pads", section: .pads, message: "no signature pad found",
                                  hint: "connect the pad (or replug it) and check `lsusb`: Wacom STU pads are 056a:00a1…00a9"))
        }
        return checks
    }

    /// A pad's facts in one line: model, firmware, driver, area, pressure, screen, report rate.
    public static func describe(_ pad: PadDescription) -> String {
        var facts = ["\(String(format: "%.1fx%.1f", pad.areaWidth, pad.areaHeight)) mm", "\(pad.maxPressure) pressure levels"]
        if let width = pad.screenWidth, let height = pad.screenHeight { facts.append("\(width)x\(height) screen") }
        if let rate = pad.reportRate { facts.append("\(rate) reports/s") }
        let firmware = pad.firmware.map { " firmware \($0)" } ?? ""
        return "\(pad.model)\(firmware) (\(pad.driver) driver): " + facts.joined(separator: ", ")
    }
}
