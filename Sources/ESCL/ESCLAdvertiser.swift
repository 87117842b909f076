import ChildProcesses
import DeviceHub
import Foundation
import Logging
import ServiceDiscovery

/// Advertises each scanner's eSCL service over mDNS/DNS-SD (`_uscan._tcp`) through the avahi daemon, one
/// `avahi-publish` per scanner, kept in step with the scanners found (every 30 s). Where no avahi daemon runs it says
/// so once in the log; clients are then given the address by hand.
public struct ESCLAdvertiser: Sendable {
    private let hub: any DeviceHub
    private let service: ESCLService
    private let configuration: ESCLConfiguration
    private let port: Int
    private let logger: Logger

    /// Advertises the scanners `service` serves on `port`.
    public init(service: ESCLService, port: Int, logger: Logger) {
        self.hub = service.hub
        self.service = service
        self.configuration = service.configuration
        self.port = port
        self.logger = logger
    }

    /// Whether advertising can work here, and if not, why.
    public static func availability() -> (available: Bool, detail: String) {
        let (available, detail) = MDNSAvailability.check(for: "eSCL")
        return (available, available ? "\(detail): each scanner is advertised as _uscan._tcp" : detail)
    }

    /// The TXT record of a scanner (the keys eSCL clients read: Mopria's `rs`, `ty`, `uuid`, `pdl`, `cs`, `is`, `duplex`).
    public static func txtRecord(device: String, model: String, profile: ESCLScannerProfile, isDefault: Bool) -> [String] {
        let resourcePath = isDefault ? "eSCL" : String(ESCLService.prefix(for: device).dropFirst())
        var colours: [String] = []
        if profile.colorModes.contains("RGB24") { colours.append("color") }
        if profile.colorModes.contains("Grayscale8") { colours.append("grayscale") }
        if profile.colorModes.contains("BlackAndWhite1") { colours.append("binary") }
        var sources: [String] = []
        if profile.platen { sources.append("platen") }
        if profile.adf { sources.append("adf") }
        return [
            "txtvers=1", "vers=2.63", "ty=\(model)", "rs=\(resourcePath)", "uuid=\(ESCLService.uuid(device))",
            "pdl=\(ESCLScannerProfile.documentFormats.joined(separator: ","))", "cs=\(colours.joined(separator: ","))",
            "is=\(sources.joined(separator: ","))", "duplex=\(profile.duplex ? "T" : "F")", "note=CounterKit",
        ]
    }

    /// Advertises until cancelled, then withdraws every advertisement.
    public func run() async {
        let (available, detail) = Self.availability()
        guard available else {
            logger.notice("mDNS: \(detail)")
            return
        }
        if configuration.isLoopback {
            logger.notice("mDNS: eSCL is advertised, but listens on \(configuration.host) only: other machines cannot reach it")
        }
        var running: [String: ChildProcess] = [:]
        defer { for child in running.values { child.signal(SIGTERM); _ = child.wait() } }
        let hostName = ProcessInfo.processInfo.hostName
        while !Task.isCancelled {
            let scanners = ((try? await hub.devices(refresh: false))?.devices ?? []).filter { $0.kind == .scanner }
            let defaultID = configuration.defaultDevice ?? scanners.first?.id
            for (id, child) in running where !scanners.contains(where: { $0.id == id }) || child.poll() != nil {
                if let ended = child.poll() { logger.warning("mDNS: the advertisement of \(id) ended (\(ended))") }
                child.signal(SIGTERM)
                _ = child.wait()
                running[id] = nil
            }
            for scanner in scanners where running[scanner.id] == nil {
                // Its capabilities as eSCL clients get them (read once, shared with the service).
                guard let profile = try? await service.profile(scanner.id) else { continue }
                let model = "\(scanner.vendor) \(scanner.model)".trimmingCharacters(in: .whitespaces)
                let txt = Self.txtRecord(
                    device: scanner.id, model: model, profile: profile,
                    isDefault: scanner.id == defaultID)
                do {
                    running[scanner.id] = try ChildProcess(
                        executable: "avahi-publish",
                        arguments: ["-s", "\(model) (\(scanner.id)) on \(hostName)", "_uscan._tcp", String(port)] + txt,
                        environment: configuration.advertiserEnvironment, pipeInput: false, pipeOutput: true)
                    logger.info("mDNS: advertising \(scanner.id) as _uscan._tcp on port \(port)")
                } catch {
                    logger.warning("mDNS: \(error)")
                }
            }
            try? await Task.sleep(for: .seconds(30))
        }
    }
}
