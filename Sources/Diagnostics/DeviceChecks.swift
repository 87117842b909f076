import Attachments
import Cameras
import CounterKitCore
import DeviceHub
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

/// One section of checks per device family, from a device hub's list: what each device is and whether CounterKit can
/// use it. The doctor, `counterkit doctor` through a running service and the service's own diagnostics all check
/// through a hub, so each sees the devices the same way.
public struct DeviceChecks: Sendable {
    /// Families the counter must have (from `counterkit doctor --expect`).
    public var expected: Set<DeviceFamily>

    /// Device checks expecting `expected` families.
    public init(expected: Set<DeviceFamily> = []) {
        self.expected = expected
    }

    private func missing(_ kind: DeviceFamily, id: String, section: DiagnosticCheck.Section, message: String, hint: String) -> DiagnosticCheck {
        DiagnosticCheck(id: id, section: section, status: expected.contains(kind) ? .fail : .warn, message: message, hint: hint)
    }

    /// Every device section: the hub's list (`refresh` discovers anew), each camera described, each free pad opened.
    public func run(on hub: any DeviceHub, refresh: Bool, saneVersion: String?) async -> [DiagnosticCheck] {
        let list: DeviceList
        do { list = try await hub.devices(refresh: refresh) } catch {
            let code = (error as? CounterKitError)?.codeName ?? ErrorCode.internal.rawValue
            return [
                DiagnosticCheck(
                    id: "devices", section: .scanners, status: .fail, message: "listing devices failed: \(code): \(error)",
                    hint: "check that \(hub.location) is reachable")
            ]
        }
        return scanners(list, saneVersion: saneVersion) + (await cameras(list, hub: hub)) + (await pads(list))
    }

    /// Scanner lines from a device list, with its scanner discovery's failure if there was one.
    public func scanners(_ list: DeviceList, saneVersion: String?) -> [DiagnosticCheck] {
        let scanners = list.devices.filter { $0.kind == .scanner }
        if let failure = list.errors.first(where: { $0.kind == .scanner }), scanners.isEmpty {
            return [
                DiagnosticCheck(
                    id: "sane.scanners", section: .scanners, status: .fail, message: "discovery failed: \(failure.code): \(failure.message)",
                    hint: failure.code == ErrorCode.timeout.rawValue
                        ? "a backend hangs: remove network backends (net, escl, airscan) from dll.conf or raise --timeout"
                        : "check that the counterkit binary can run its worker; run `scanimage -L` to compare")
            ]
        }
        var checks = [
            DiagnosticCheck(
                id: "lib.libsane", section: .scanners, status: .pass,
                message: "libsane \(saneVersion ?? "?") (in the scan worker)")
        ]
        if scanners.isEmpty {
            checks.append(
                missing(
                    .scanner, id: "sane.scanners", section: .scanners, message: "no scanner found",
                    hint: "connect and power on the scanner; check `lsusb`; run `scanimage -L` as the service user; install the udev rules"))
        }
        checks += scanners.map {
            DiagnosticCheck(id: "scanner.\($0.id)", section: .scanners, status: .pass, message: "\($0.vendor) \($0.model) (\($0.type))")
        }
        return checks
    }

    /// One line per camera of the list, described through the hub: what it offers and whether CounterKit can save from
    /// it; and one per video node discovery could not use, with the fix.
    public func cameras(_ list: DeviceList, hub: any DeviceHub) async -> [DiagnosticCheck] {
        let cameras = list.devices.filter { $0.kind == .camera }
        let unusable = list.errors.filter { $0.kind == .camera && $0.node != nil }
        guard !cameras.isEmpty || !unusable.isEmpty else {
            return [
                missing(
                    .camera, id: "cameras", section: .cameras, message: "no camera found",
                    hint: "connect the camera and check `lsusb`; USB cameras need the uvcvideo module (`lsmod | grep uvcvideo`)")
            ]
        }
        var checks = unusable.map { failure in
            DiagnosticCheck(
                id: "camera.\(failure.node!)", section: .cameras, status: .fail, message: "\(failure.code): \(failure.message)",
                hint: Self.cameraHint(ErrorCode(rawValue: failure.code) ?? .ioError))
        }
        for summary in cameras {
            let id = "camera." + summary.id
            do {
                let camera = try await hub.camera(summary.id).camera
                let savable = camera.formats.filter(\.savable)
                let jpeg = savable.contains(where: \.isJPEG)
                let largest = camera.largestSize.map { ", largest \($0)" } ?? ""
                let message =
                    "\(camera.card) (\(camera.driver)) at \(camera.path): \(camera.formats.count) formats\(largest), "
                    + "\(camera.controls.count) controls" + (jpeg ? "; its MJPEG is kept as is" : "")
                guard !savable.isEmpty else {
                    checks.append(
                        DiagnosticCheck(
                            id: id, section: .cameras, status: .warn,
                            message: message + "; none of its formats can be saved ("
                                + camera.formats.map(\.pixelFormat.name).joined(separator: ", ") + ")",
                            hint: "use a UVC camera that offers MJPEG or YUYV"))
                    continue
                }
                checks.append(DiagnosticCheck(id: id, section: .cameras, status: .pass, message: message))
            } catch {
                let code = (error as? CounterKitError)?.code ?? .ioError
                let message = (error as? CounterKitError)?.message ?? "\(error)"
                checks.append(
                    DiagnosticCheck(
                        id: id, section: .cameras, status: .fail, message: "\(code.rawValue): \(message)",
                        hint: Self.cameraHint(code)))
            }
        }
        return checks.sorted { $0.id < $1.id }
    }

    private static func cameraHint(_ code: ErrorCode) -> String {
        switch code {
        case .accessDenied:
            "install the udev rules (group counterkit on video4linux) or add the user to the video group: sudo usermod -aG video $USER"
        case .deviceBusy: "another program holds the camera: find it with `fuser -v /dev/video*` and close it"
        default: "replug the camera and check `dmesg | tail` for driver errors"
        }
    }

    /// One line per signature pad of the list: a pad a session holds is reported in use; a free one is opened with its
    /// driver to read its facts. HID interfaces without a pen are not pads.
    public func pads(_ list: DeviceList) async -> [DiagnosticCheck] {
        if let failure = list.errors.first(where: { $0.kind == .signaturePad }) {
            return [
                DiagnosticCheck(
                    id: "pads", section: .pads, status: .fail, message: "USB enumeration failed: \(failure.message)",
                    hint: "check that /dev/bus/usb is present and readable")
            ]
        }
        var checks: [DiagnosticCheck] = []
        for summary in list.devices where summary.kind == .signaturePad {
            let id = "pad." + summary.id
            if summary.busy {
                checks.append(DiagnosticCheck(id: id, section: .pads, status: .pass, message: "in use by a signature session"))
                continue
            }
            let opened = await BlockingCalls.shared.run { () throws(SignaturePadError) -> PadDescription in
                let (connection, driver) = try SignaturePadDrivers.openPad(summary.id)
                connection.close()
                return driver.description
            }
            do throws(SignaturePadError) {
                checks.append(DiagnosticCheck(id: id, section: .pads, status: .pass, message: Self.describe(try opened.get())))
            } catch  where error.code == .unsupportedDevice {
                continue  // a HID interface without a pen: not a signature pad
            } catch {
                let hint: String =
                    switch error.code {
                    case .accessDenied: "\(UdevRules.installCommand); then sudo usermod -aG counterkit $USER"
                    case .deviceBusy: "another program holds the pad; when `counterkit serve` runs, go through the service (`counterkit sign` does)"
                    default: "replug the pad and check `dmesg | tail`"
                    }
                checks.append(DiagnosticCheck(id: id, section: .pads, status: .fail, message: "\(error.code.rawValue): \(error.message)", hint: hint))
            }
        }
        if checks.isEmpty {
            checks.append(
                missing(
                    .pad, id: "pads", section: .pads, message: "no signature pad found",
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
