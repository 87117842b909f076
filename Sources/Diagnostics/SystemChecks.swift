import CLibUSB
import CPNG
import CTurboJPEG
import ChildProcesses
import Foundation
import ServiceDiscovery

/// What the doctor learns from knocking on the service's socket.
public enum ServiceProbe: Sendable, Equatable {
    /// A service answered `GET /v1/health` with its version.
    case answering(version: String)
    /// Nothing answered; the reason (errno text or HTTP status).
    case unreachable(reason: String, accessDenied: Bool)
}

/// The machine-level checks: libraries, SANE configuration, udev rules, the service group, device node
/// permissions, the service socket and the systemd units.
public struct SystemChecks: Sendable {
    /// Environment to read SANE_CONFIG_DIR and XDG_RUNTIME_DIR from.
    public var environment: [String: String]
    /// The group the service and its devices use.
    public var serviceGroup = "counterkit"
    /// Where installed udev rules are looked for, in udev's order of precedence.
    public var udevRuleDirectories = ["/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"]
    /// Where SANE backend libraries are looked for.
    public var saneLibraryDirectories = ["/usr/lib/x86_64-linux-gnu/sane", "/usr/lib/aarch64-linux-gnu/sane", "/usr/lib/sane", "/usr/local/lib/sane"]
    /// The device directory (`/dev`).
    public var deviceDirectory = "/dev"
    /// The socket named by the user; nil checks the default places.
    public var socketPath: String?
    /// The `systemctl` command to ask about the units (a seam for tests: any command line taking systemctl's arguments);
    /// nil when there is none.
    public var systemctl: [String]? = ["/usr/bin/systemctl", "/bin/systemctl"].first { FileManager.default.isExecutableFile(atPath: $0) }.map { [$0] }

    /// Checks with the defaults for this machine.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// The sockets a service may listen on, the system one first.
    public var socketCandidates: [String] {
        if let socketPath { return [socketPath] }
        var paths = ["/run/counterkit/api.sock"]
        if getuid() != 0 {
            if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { paths.append(runtime + "/counterkit/api.sock") }
            paths.append("/tmp/counterkit-\(getuid())/api.sock")
        }
        return paths
    }

    /// Every system check; the socket lines use `probe` to ask the service for its health.
    public func run(probe: (String) async -> ServiceProbe) async -> [DiagnosticCheck] {
        var checks = libraries()
        checks.append(saneConfig())
        checks.append(udevRules())
        checks.append(group())
        checks.append(usbAccess())
        checks.append(videoAccess())
        checks.append(await socket(probe: probe))
        checks.append(systemdUnits())
        checks.append(mdns())
        return checks
    }

    /// Whether `serve --escl` can advertise its scanners over mDNS: an avahi daemon and `avahi-publish`. A warning
    /// only: eSCL works without it, clients are then given its address by hand.
    public func mdns() -> DiagnosticCheck {
        let (available, detail) = MDNSAvailability.check(for: "eSCL")
        guard available else {
            return DiagnosticCheck(
                id: "escl.mdns", status: .warn, message: detail,
                hint: "sudo apt-get install avahi-daemon avahi-utils && sudo systemctl enable --now avahi-daemon "
                    + "(only where eSCL is served to other machines: counterkit serve --escl HOST:PORT)")
        }
        return DiagnosticCheck(id: "escl.mdns", status: .pass, message: "\(detail): serve --escl advertises each scanner as _uscan._tcp")
    }

    /// The C libraries linked in, with their versions.
    public func libraries() -> [DiagnosticCheck] {
        let usb = ck_libusb_version().pointee
        return [
            DiagnosticCheck(id: "lib.libpng", status: .pass, message: "libpng \(String(cString: ck_png_version()))"),
            DiagnosticCheck(id: "lib.libjpeg", status: .pass, message: "libjpeg-turbo (libjpeg API \(ck_libjpeg_version() / 10))"),
            DiagnosticCheck(id: "lib.libusb", status: .pass, message: "libusb \(usb.major).\(usb.minor).\(usb.micro)"),
            DiagnosticCheck(id: "lib.libv4l", status: .pass, message: "libv4l2 and libv4lconvert linked"),
        ]
    }

    /// The SANE configuration directory and the backends its dll.conf enables; a backend without its library fails.
    public func saneConfig() -> DiagnosticCheck {
        let directory = environment["SANE_CONFIG_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/etc/sane.d"
        let path = directory.split(separator: ":").first.map { "\($0)/dll.conf" } ?? "/etc/sane.d/dll.conf"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return DiagnosticCheck(
                id: "sane.config", status: .fail, message: "\(path) is missing or unreadable",
                hint: "sudo apt-get install libsane1, or set SANE_CONFIG_DIR to a directory with a dll.conf")
        }
        let backends = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !backends.isEmpty else {
            return DiagnosticCheck(
                id: "sane.config", status: .fail, message: "\(path) enables no backend",
                hint: "add your scanner's backend name (e.g. epson2, hpaio, test) on a line of its own in \(path)")
        }
        let missing = backends.filter { backend in
            !saneLibraryDirectories.contains { FileManager.default.fileExists(atPath: "\($0)/libsane-\(backend).so.1") }
        }
        if !missing.isEmpty {
            return DiagnosticCheck(
                id: "sane.config", status: .fail,
                message: "\(path) enables \(missing.joined(separator: ", ")), but no backend library was found for "
                    + (missing.count == 1 ? "it" : "them") + " (looked for libsane-\(missing[0]).so.1)",
                hint: "install the driver package that provides libsane-\(missing[0]).so.1 (`apt-file search libsane-\(missing[0]).so.1`), "
                    + "or remove the line '\(missing[0])' from \(path)")
        }
        let listed = backends.prefix(8).joined(separator: ", ") + (backends.count > 8 ? " and \(backends.count - 8) more" : "")
        return DiagnosticCheck(id: "sane.config", status: .pass, message: "\(path) enables \(listed)")
    }

    /// Whether CounterKit's udev rules are installed, and the same as this version's.
    public func udevRules() -> DiagnosticCheck {
        let installed = udevRuleDirectories.map { "\($0)/\(UdevRules.fileName)" }.first { FileManager.default.fileExists(atPath: $0) }
        guard let installed else {
            return DiagnosticCheck(
                id: "udev.rules", status: .fail,
                message: "\(UdevRules.fileName) is not installed (looked in \(udevRuleDirectories.joined(separator: ", ")))",
                hint: UdevRules.installCommand)
        }
        guard let text = try? String(contentsOfFile: installed, encoding: .utf8) else {
            return DiagnosticCheck(id: "udev.rules", status: .fail, message: "\(installed) is not readable", hint: "sudo chmod 0644 \(installed)")
        }
        guard Self.sameRules(text, UdevRules.text) else {
            return DiagnosticCheck(
                id: "udev.rules", status: .warn,
                message: "\(installed) differs from this version's rules (an older or edited copy)",
                hint: UdevRules.installCommand)
        }
        return DiagnosticCheck(id: "udev.rules", status: .pass, message: "\(installed) installed and up to date")
    }

    /// Rules compare by their rule lines: comments and blank lines do not count.
    static func sameRules(_ a: String, _ b: String) -> Bool {
        func rules(_ text: String) -> [String] {
            text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        }
        return rules(a) == rules(b)
    }

    /// The service's group exists and this user is in it (in this login session, too).
    public func group() -> DiagnosticCheck {
        let name = serviceGroup
        guard let entry = getgrnam(name) else {
            return DiagnosticCheck(
                id: "group", status: .fail, message: "group \(name) does not exist",
                hint: "sudo groupadd --system \(name)")
        }
        let gid = entry.pointee.gr_gid
        if getuid() == 0 { return DiagnosticCheck(id: "group", status: .pass, message: "group \(name) exists (gid \(gid)); running as root") }
        let user = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(getuid())"
        if getgid() == gid || currentGroups().contains(gid) {
            return DiagnosticCheck(id: "group", status: .pass, message: "user \(user) is in group \(name) (gid \(gid))")
        }
        if let account = getpwuid(getuid()), configuredGroups(of: account.pointee.pw_name, primary: account.pointee.pw_gid).contains(gid) {
            return DiagnosticCheck(
                id: "group", status: .warn,
                message: "user \(user) was added to group \(name), but this login session started before that",
                hint: "log out and in again (or run `newgrp \(name)`)")
        }
        return DiagnosticCheck(
            id: "group", status: .fail, message: "user \(user) is not in group \(name)",
            hint: "sudo usermod -aG \(name) \(user), then log out and in again")
    }

    private func currentGroups() -> [gid_t] {
        let count = getgroups(0, nil)
        guard count > 0 else { return [] }
        var groups = [gid_t](repeating: 0, count: Int(count))
        let got = getgroups(count, &groups)
        return Array(groups.prefix(Int(max(0, got))))
    }

    private func configuredGroups(of user: UnsafePointer<CChar>, primary: gid_t) -> [gid_t] {
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(user, primary, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(user, primary, &groups, &count)
        }
        return Array(groups.prefix(Int(max(0, count))))
    }

    /// Read and write access to the USB device nodes (scanners and pads go through them).
    public func usbAccess() -> DiagnosticCheck {
        let root = "\(deviceDirectory)/bus/usb"
        let buses = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let nodes = buses.flatMap { bus in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(bus)")) ?? []).map { "\(root)/\(bus)/\($0)" }
        }.sorted()
        return nodeAccess(
            id: "access.usb", nodes: nodes, kind: "USB device nodes",
            absent: "no \(root): this system shows no USB devices (a container or VM without USB, or no USB support)",
            absentHint: "USB is missing, not a permission: give a container the host's USB (docker run --device /dev/bus/usb, "
                + "or a privileged container), or attach a USB controller to the VM",
            hint: "\(UdevRules.installCommand); then sudo usermod -aG \(serviceGroup) $USER")
    }

    /// Read and write access to the V4L2 nodes.
    public func videoAccess() -> DiagnosticCheck {
        let nodes = ((try? FileManager.default.contentsOfDirectory(atPath: deviceDirectory)) ?? [])
            .filter { $0.hasPrefix("video") }.sorted().map { "\(deviceDirectory)/\($0)" }
        return nodeAccess(
            id: "access.video", nodes: nodes, kind: "video device nodes",
            absent: "no \(deviceDirectory)/video* (no camera connected, or no V4L2 in this kernel)",
            absentHint: "connect the camera; a container needs the host's /dev/video* passed through (docker run --device /dev/video0)",
            hint: "install the udev rules (group \(serviceGroup) on video4linux) or add the user to the video group: sudo usermod -aG video $USER")
    }

    private func nodeAccess(id: String, nodes: [String], kind: String, absent: String, absentHint: String, hint: String) -> DiagnosticCheck {
        guard !nodes.isEmpty else { return DiagnosticCheck(id: id, status: .warn, message: absent, hint: absentHint) }
        let denied = nodes.filter { access($0, R_OK | W_OK) != 0 }
        if denied.isEmpty { return DiagnosticCheck(id: id, status: .pass, message: "\(nodes.count) \(kind), all readable and writable") }
        let listed = denied.prefix(4).joined(separator: ", ") + (denied.count > 4 ? " and \(denied.count - 4) more" : "")
        return DiagnosticCheck(id: id, status: .fail, message: "no read/write access to \(listed)", hint: hint)
    }

    /// The service socket: present, its owner and mode, and a service answering on it.
    public func socket(probe: (String) async -> ServiceProbe) async -> DiagnosticCheck {
        let candidates = socketCandidates
        let start = "sudo systemctl enable --now counterkit.socket (or run `counterkit serve`)"
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            // Asked about one socket: its absence is a failure. Otherwise only when the units say a service should run.
            let expected = socketPath != nil || unitState("is-enabled", "counterkit.socket") == "enabled"
            return DiagnosticCheck(
                id: "service.socket", status: expected ? .fail : .warn,
                message: "no service socket at \(candidates.joined(separator: " or ")): the service is not running",
                hint: start)
        }
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else {
            return DiagnosticCheck(
                id: "service.socket", status: .fail, message: "\(path) exists but is not a socket",
                hint: "remove it (sudo rm \(path)) and start the service: \(start)")
        }
        let owner = getpwuid(info.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "\(info.st_uid)"
        let groupName = getgrgid(info.st_gid).map { String(cString: $0.pointee.gr_name) } ?? "\(info.st_gid)"
        let mode = String(info.st_mode & 0o777, radix: 8)
        let facts = "\(path) (owner \(owner):\(groupName), mode 0\(mode))"
        switch await probe(path) {
        case .unreachable(let reason, let accessDenied):
            return DiagnosticCheck(
                id: "service.socket", status: .fail, message: "\(facts): \(reason)",
                hint: accessDenied
                    ? "sudo usermod -aG \(groupName) $USER, then log out and in again"
                    : "the service is not answering: \(start); see `journalctl -u counterkit -n 50`")
        case .answering(let version):
            if info.st_mode & 0o002 != 0 {
                return DiagnosticCheck(
                    id: "service.socket", status: .warn, message: "\(facts): anyone on this machine may use the API",
                    hint: "run the service with --mode 0660 --group \(serviceGroup) (the systemd socket unit does)")
            }
            return DiagnosticCheck(id: "service.socket", status: .pass, message: "\(facts): counterkit \(version) answering")
        }
    }

    /// The systemd units' state: installed, enabled, active.
    public func systemdUnits() -> DiagnosticCheck {
        let install =
            "sudo cp systemd/counterkit.socket systemd/counterkit.service /etc/systemd/system/ && sudo systemctl daemon-reload && sudo systemctl enable --now counterkit.socket"
        guard systemctl != nil else {
            return DiagnosticCheck(
                id: "service.units", status: .warn, message: "no systemctl: the service is not managed by systemd here",
                hint: "run `counterkit serve` from your own supervisor, or install systemd")
        }
        let system = unitState("is-system-running")
        if system == "offline" || system == nil {
            return DiagnosticCheck(
                id: "service.units", status: .warn, message: "systemd is not running on this machine (a container?)",
                hint: "start the service with `counterkit serve` from the container's entry point")
        }
        let enabled = unitState("is-enabled", "counterkit.socket") ?? "unknown"
        guard enabled != "not-found", enabled != "unknown" else {
            return DiagnosticCheck(id: "service.units", status: .fail, message: "counterkit.socket and counterkit.service are not installed", hint: install)
        }
        let socketActive = unitState("is-active", "counterkit.socket") ?? "unknown"
        let serviceActive = unitState("is-active", "counterkit.service") ?? "unknown"
        let message = "counterkit.socket \(enabled), \(socketActive); counterkit.service \(serviceActive)"
        if serviceActive == "failed" {
            return DiagnosticCheck(
                id: "service.units", status: .fail, message: message,
                hint: "see why: journalctl -u counterkit.service -n 50; then sudo systemctl restart counterkit.service")
        }
        if socketActive != "active" {
            return DiagnosticCheck(
                id: "service.units", status: .fail, message: message,
                hint: "sudo systemctl enable --now counterkit.socket; see journalctl -u counterkit.socket")
        }
        if enabled != "enabled" {
            return DiagnosticCheck(
                id: "service.units", status: .warn, message: message + " (not started at boot)",
                hint: "sudo systemctl enable counterkit.socket")
        }
        return DiagnosticCheck(id: "service.units", status: .pass, message: message)
    }

    /// The first word `systemctl VERB [UNIT]` prints, or nil when it cannot run.
    func unitState(_ verb: String, _ unit: String? = nil) -> String? {
        guard let systemctl else { return nil }
        guard let executable = systemctl.first,
            let child = try? ChildProcess(
                executable: executable, arguments: systemctl.dropFirst() + [verb] + (unit.map { [$0] } ?? []),
                pipeInput: false, discardErrors: true)
        else { return nil }
        let output = String(decoding: child.readAllOutput(), as: UTF8.self)
        _ = child.wait()
        let word = output.split(whereSeparator: \.isWhitespace).first.map(String.init)
        if word == nil, verb == "is-enabled" { return "not-found" }
        return word
    }
}
