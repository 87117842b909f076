import Cameras
import Foundation

/// The whole diagnosis: system checks, then one section per device family.
public struct Doctor: Sendable {
    /// The machine-level checks.
    public var system: SystemChecks
    /// The per-device checks.
    public var devices: DeviceChecks
    /// Where cameras are looked for.
    public var cameraDiscovery: CameraDiscovery

    /// A doctor with the given checks.
    public init(system: SystemChecks = SystemChecks(), devices: DeviceChecks = DeviceChecks(),
                cameraDiscovery: CameraDiscovery = CameraDiscovery()) {
        self.system = system
        self.devices = devices
        self.cameraDiscovery = cameraDiscovery
    }

    /// Runs every check. `scanners` gives the scanner section (a discovery, or the service's cache);
    /// `probe` asks a socket for the service's health.
    public func run(scanners: () -> [DiagnosticCheck], probe: (String) async -> ServiceProbe) async -> DiagnosticReport {
        var checks = await system.run(probe: probe)
        checks += scanners()
        checks += devices.cameras(discovery: cameraDiscovery)
        checks += devices.pads()
        return DiagnosticReport(checks: checks)
    }
}
