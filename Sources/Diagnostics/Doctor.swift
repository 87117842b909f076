import DeviceHub
import Foundation

/// The whole diagnosis: system checks, then one section per device family, the devices seen through a device hub.
public struct Doctor: Sendable {
    /// The machine-level checks.
    public var system: SystemChecks
    /// The per-device checks.
    public var devices: DeviceChecks

    /// A doctor with the given checks.
    public init(system: SystemChecks = SystemChecks(), devices: DeviceChecks = DeviceChecks()) {
        self.system = system
        self.devices = devices
    }

    /// Runs every check: the system's (`probe` asks a socket for the service's health), then the devices of `hub`
    /// (discovered anew when `refresh`).
    public func run(
        hub: any DeviceHub, refresh: Bool = true, saneVersion: String?,
        probe: (String) async -> ServiceProbe
    ) async -> DiagnosticReport {
        var checks = await system.run(probe: probe)
        checks += await devices.run(on: hub, refresh: refresh, saneVersion: saneVersion)
        return DiagnosticReport(checks: checks)
    }
}
