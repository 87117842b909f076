import Foundation

/// Whether this machine can advertise services over mDNS (DNS-SD): an avahi daemon to publish through, and
/// `avahi-publish` to ask it. The eSCL advertiser and the doctor both ask this, so it lives apart from either.
public enum MDNSAvailability {
    /// The avahi daemon's socket, present while it runs.
    public static let daemonSocket = "/run/avahi-daemon/socket"

    /// Whether advertising `what` can work here, and if not, why (`what` names it in the messages, e.g. "eSCL").
    public static func check(for what: String) -> (available: Bool, detail: String) {
        guard FileManager.default.fileExists(atPath: daemonSocket) else {
            return (false, "no avahi daemon runs (\(daemonSocket) is missing): \(what) is not advertised; clients need its address by hand")
        }
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        guard paths.contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/avahi-publish") }) else {
            return (false, "avahi-publish is missing (Debian package avahi-utils): \(what) is not advertised")
        }
        return (true, "the avahi daemon runs")
    }
}
