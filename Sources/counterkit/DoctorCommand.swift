import ArgumentParser
import Attachments
import CLibUSB
import CPNG
import CTurboJPEG
import Cameras
import Foundation
import SignaturePads
import Scanning

/// One diagnostic line.
struct Check: Codable {
    enum Status: String, Codable { case pass = "PASS", warn = "WARN", fail = "FAIL" }
    var id: String
    var status: Status
    var message: String
    /// How to fix it (for WARN and FAIL).
    var hint: String?
}

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check libraries, SANE configuration and device access; one PASS / WARN / FAIL line each with a fix.",
        discussion: "Exit status 1 when any check fails.")

    @Flag(help: "Print the checks as JSON.")
    var json = false

    @Option(help: "Seconds to wait for scanner discovery.")
    var timeout: Int = 15

    func run() throws {
        let checks = Doctor(timeout: timeout).run()
        if json {
            try printJSON(["checks": checks])
        } else {
            for check in checks {
                print("\(check.status.rawValue)  \(check.id): \(check.message)")
                if let hint = check.hint, check.status != .pass { print("      fix: \(hint)") }
            }
        }
        if checks.contains(where: { $0.status == .fail }) { throw ExitCode(1) }
    }
}

/// The checks, in the order they are printed.
struct Doctor {
    var timeout: Int
    var environment = ProcessInfo.processInfo.environment

    func run() -> [Check] {
        var checks = libraryChecks()
        checks.append(saneConfigCheck())
        checks.append(contentsOf: scannerChecks())
        checks.append(usbAccessCheck())
        checks.append(videoAccessCheck())
        checks.append(contentsOf: cameraChecks())
        checks.append(contentsOf: padChecks())
        return checks
    }

    /// One line per signature pad: opened with its driver, what it reports; HID interfaces without a pen are not pads.
    func padChecks() -> [Check] {
        let interfaces: [USBHIDInterface]
        do { interfaces = try SignaturePadDrivers.candidates() } catch {
            return [Check(id: "pads", status: .fail, message: "USB enumeration failed: \(error.message)",
                          hint: "check that /dev/bus/usb is present and readable")]
        }
        var checks: [Check] = []
        for interface in interfaces {
            let id = "pad." + interface.id
            do throws(SignaturePadError) {
                let (connection, driver) = try SignaturePadDrivers.open(interface)
                connection.close()
                let pad = driver.description
                var facts = ["\(String(format: "%.1fx%.1f", pad.areaWidth, pad.areaHeight)) mm", "\(pad.maxPressure) pressure levels"]
                if let width = pad.screenWidth, let height = pad.screenHeight { facts.append("\(width)x\(height) screen") }
                if let rate = pad.reportRate { facts.append("\(rate) reports/s") }
                let firmware = pad.firmware.map { " firmware \($0)" } ?? ""
                checks.append(Check(id: id, status: .pass, message: "\(pad.model)\(firmware) (\(pad.driver) driver): " + facts.joined(separator: ", ")))
            } catch where error.code == .unsupportedDevice {
                continue // a HID interface without a pen: not a signature pad
            } catch {
                let hint: String = switch error.code {
                case .accessDenied: "install udev/60-counterkit.rules (group counterkit on the pad's USB ids) and add the user to the counterkit group: sudo usermod -aG counterkit $USER"
                case .deviceBusy: "another program holds the pad; when `counterkit serve` runs, use the service (`counterkit sign` goes through it)"
                default: "replug the pad and check `dmesg | tail`"
                }
                checks.append(Check(id: id, status: .fail, message: "\(error.code.rawValue): \(error.message)", hint: hint))
            }
        }
        if checks.isEmpty {
            checks.append(Check(id: "pads", status: .warn, message: "no signature pad found",
                                hint: "connect the pad and check `lsusb` (Wacom STU pads are 056a:00a1…00a9)"))
        }
        return checks
    }

    /// One line per camera: what it offers and whether CounterKit can save from it; a line per node it cannot use.
    func cameraChecks(discovery: CameraDiscovery = CameraDiscovery()) -> [Check] {
        let found = discovery.diagnose()
        guard !found.isEmpty else {
            return [Check(id: "cameras", status: .warn, message: "no camera found",
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
                    return Check(id: id, status: .warn, message: message + "; none of its formats can be saved ("
                                 + camera.formats.map(\.pixelFormat.name).joined(separator: ", ") + ")",
                                 hint: "use a UVC camera that offers MJPEG or YUYV")
                }
                return Check(id: id, status: .pass, message: message)
            }
            let error = diagnosis.error ?? CameraError(.ioError, "unknown failure")
            let hint: String = switch error.code {
            case .accessDenied:
                "install udev/60-counterkit.rules (group counterkit on video4linux) or add the user to the video group: sudo usermod -aG video $USER"
            case .deviceBusy: "another program holds \(diagnosis.path): find it with `fuser -v \(diagnosis.path)` and close it"
            default: "replug the camera and check `dmesg | tail` for driver errors"
            }
            return Check(id: id, status: .fail, message: "\(diagnosis.path): \(error.code.rawValue): \(error.message)", hint: hint)
        }
    }

    func libraryChecks() -> [Check] {
        let usb = ck_libusb_version().pointee
        return [
            Check(id: "lib.libpng", status: .pass, message: "libpng \(String(cString: ck_png_version()))"),
            Check(id: "lib.libjpeg", status: .pass, message: "libjpeg-turbo (libjpeg API \(ck_libjpeg_version() / 10))"),
            Check(id: "lib.libusb", status: .pass, message: "libusb \(usb.major).\(usb.minor).\(usb.micro)"),
            Check(id: "lib.libv4l", status: .pass, message: "libv4l2 and libv4lconvert linked"),
        ]
    }

    /// The SANE configuration directory and the backends its dll.conf enables.
    func saneConfigCheck() -> Check {
        let directory = environment["SANE_CONFIG_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/etc/sane.d"
        let path = directory.split(separator: ":").first.map { "\($0)/dll.conf" } ?? "/etc/sane.d/dll.conf"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return Check(id: "sane.config", status: .fail, message: "\(path) is missing or unreadable",
                         hint: "apt-get install libsane1, or set SANE_CONFIG_DIR to a directory with a dll.conf")
        }
        let backends = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !backends.isEmpty else {
            return Check(id: "sane.config", status: .fail, message: "\(path) enables no backend",
                         hint: "add your scanner's backend name (e.g. epson2, hpaio, test) on a line of its own in \(path)")
        }
        let missing = backends.filter { backend in
            !["/usr/lib/x86_64-linux-gnu/sane", "/usr/lib/sane", "/usr/local/lib/sane", "/usr/lib/aarch64-linux-gnu/sane"]
                .contains { FileManager.default.fileExists(atPath: "\($0)/libsane-\(backend).so.1") }
        }
        if !missing.isEmpty {
            return Check(id: "sane.config", status: .warn,
                         message: "\(path) enables \(backends.joined(separator: ", ")) but no library was found for \(missing.joined(separator: ", "))",
                         hint: "install the package providing libsane-\(missing[0]).so.1 (apt-get install libsane1) or remove the line from \(path)")
        }
        return Check(id: "sane.config", status: .pass, message: "\(path) enables \(backends.prefix(8).joined(separator: ", "))\(backends.count > 8 ? " and \(backends.count - 8) more" : "")")
    }

    /// Discovery through the worker, bounded by the timeout.
    func scannerChecks() -> [Check] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-doctor-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        guard let store = try? AttachmentStore(directory: directory) else {
            return [Check(id: "sane.scanners", status: .fail, message: "cannot create a temp directory", hint: "check TMPDIR")]
        }
        let scanner = DocumentScanner(store: store, discoveryTimeout: .seconds(timeout))
        do {
            let devices = try scanner.devices()
            var checks = [Check(id: "lib.libsane", status: .pass, message: "libsane \(scanner.saneVersion ?? "?") (in the scan worker)")]
            if devices.isEmpty {
                checks.append(Check(id: "sane.scanners", status: .warn, message: "no scanner found",
                                    hint: "connect and power on the scanner; check `lsusb`; run `scanimage -L` as the service user; check udev rules (udev/60-counterkit.rules)"))
            } else {
                checks.append(Check(id: "sane.scanners", status: .pass,
                                    message: "\(devices.count) found: " + devices.map { "\($0.id) (\($0.vendor) \($0.model))" }.joined(separator: ", ")))
            }
            return checks
        } catch {
            return [Check(id: "sane.scanners", status: .fail, message: "discovery failed: \(error)",
                          hint: error.code == .timeout ? "a backend hangs: remove network backends (net, escl, airscan) from dll.conf or raise --timeout"
                              : "check that the counterkit binary can run its worker; run `scanimage -L` to compare")]
        }
    }

    func usbAccessCheck() -> Check {
        deviceNodeCheck(id: "access.usb", nodes: usbNodes(), kind: "USB device nodes",
                        absent: "no /dev/bus/usb (no USB here, or a container without it)",
                        hint: "install udev/60-counterkit.rules and add the user to the counterkit group: sudo usermod -aG counterkit $USER")
    }

    func videoAccessCheck() -> Check {
        let nodes = ((try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? [])
            .filter { $0.hasPrefix("video") }.sorted().map { "/dev/\($0)" }
        return deviceNodeCheck(id: "access.video", nodes: nodes, kind: "video device nodes",
                               absent: "no /dev/video* (no camera connected, or no V4L2 in this kernel)",
                               hint: "install udev/60-counterkit.rules (group counterkit on video4linux) or add the user to the video group: sudo usermod -aG video $USER")
    }

    private func usbNodes() -> [String] {
        let root = "/dev/bus/usb"
        let buses = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return buses.flatMap { bus in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(bus)")) ?? []).map { "\(root)/\(bus)/\($0)" }
        }.sorted()
    }

    private func deviceNodeCheck(id: String, nodes: [String], kind: String, absent: String, hint: String) -> Check {
        guard !nodes.isEmpty else { return Check(id: id, status: .warn, message: absent, hint: hint) }
        let denied = nodes.filter { access($0, R_OK | W_OK) != 0 }
        if denied.isEmpty { return Check(id: id, status: .pass, message: "\(nodes.count) \(kind), all readable and writable") }
        return Check(id: id, status: .fail, message: "no read/write access to \(denied.prefix(4).joined(separator: ", "))\(denied.count > 4 ? " and \(denied.count - 4) more" : "")", hint: hint)
    }
}
