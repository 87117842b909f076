import Attachments
import Foundation

/// One line of a diagnosis: what was checked, how it went, and how to fix it.
public struct DiagnosticCheck: Codable, Sendable, Equatable {
    /// How a check went; the order is from best to worst.
    public enum Status: String, Codable, Sendable, Comparable {
        /// Works as it should.
        case pass = "PASS"
        /// Works, but something is missing or may cause trouble.
        case warn = "WARN"
        /// Does not work; the hint says what to do.
        case fail = "FAIL"

        private var rank: Int { self == .pass ? 0 : self == .warn ? 1 : 2 }
        /// Orders statuses from best (PASS) to worst (FAIL).
        public static func < (lhs: Status, rhs: Status) -> Bool { lhs.rank < rhs.rank }
    }

    /// Which part of the report a check belongs to.
    public enum Section: String, Codable, Sendable, CaseIterable {
        /// Libraries, configuration, permissions, the service and its units.
        case system
        /// One line per scanner.
        case scanners
        /// One line per camera.
        case cameras
        /// One line per signature pad.
        case pads
    }

    /// A stable id, such as `sane.config`, `udev.rules` or `camera.v4l2:usb-0000:00:14.0-1`.
    public var id: String
    /// The section the check is shown in.
    public var section: Section
    /// PASS, WARN or FAIL.
    public var status: Status
    /// What was found.
    public var message: String
    /// The concrete fix (a command to run, a rule to install) for WARN and FAIL.
    public var hint: String?

    /// A check; `hint` is shown only when the status is not PASS.
    public init(id: String, section: Section = .system, status: Status, message: String, hint: String? = nil) {
        self.id = id
        self.section = section
        self.status = status
        self.message = message
        self.hint = hint
    }
}

/// The whole diagnosis of one machine: what `counterkit doctor --json` prints and `GET /v1/diagnostics` returns.
public struct DiagnosticReport: Codable, Sendable, Equatable {
    /// CounterKit's version.
    public var version: String
    /// The machine's host name.
    public var host: String
    /// When the checks ran.
    public var generatedAt: Date
    /// The checks, system first, then one section per device family.
    public var checks: [DiagnosticCheck]

    /// A report of `checks`, stamped now.
    public init(
        checks: [DiagnosticCheck], version: String = CounterKitVersion.current, host: String = ProcessInfo.processInfo.hostName,
        generatedAt: Date = Date()
    ) {
        self.version = version
        self.host = host
        self.generatedAt = generatedAt
        self.checks = checks
    }

    /// The worst status of all checks (PASS when there are none).
    public var status: DiagnosticCheck.Status { checks.map(\.status).max() ?? .pass }

    /// Whether any check failed (the doctor's exit status).
    public var failed: Bool { status == .fail }

    /// The checks of one section, in order.
    public func checks(in section: DiagnosticCheck.Section) -> [DiagnosticCheck] { checks.filter { $0.section == section } }

    private enum CodingKeys: String, CodingKey { case version, host, generatedAt, checks, status }

    /// Decodes a report (the `status` key is derived and ignored).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(String.self, forKey: .version)
        host = try container.decode(String.self, forKey: .host)
        generatedAt = try container.decode(Date.self, forKey: .generatedAt)
        checks = try container.decode([DiagnosticCheck].self, forKey: .checks)
    }

    /// Encodes the report with its overall `status`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(host, forKey: .host)
        try container.encode(generatedAt, forKey: .generatedAt)
        try container.encode(checks, forKey: .checks)
        try container.encode(status, forKey: .status)
    }
}
