import CounterKitCore
import DeviceHub
import Diagnostics
import Foundation
import SystemPackage

extension ServiceClient {
    /// Asks the service at this socket for its health within `timeout`: what the doctor's socket line reports.
    public func probe(timeout: Duration = .seconds(3)) async -> ServiceProbe {
        switch UnixSocket.connecting(socketPath) {
        case .failure(let failure):
            let refused = failure == .connectionRefused ? " (a stale socket: the service is gone)" : ""
            return .unreachable(
                reason: "cannot connect: \(failure.description)\(refused)",
                accessDenied: failure == .permissionDenied || failure == .notPermitted)
        case .success(let fd):
            close(fd)
        }
        struct Health: Decodable { var version: String }
        let client = self
        let answer = await withTaskGroup(of: ServiceProbe?.self) { group in
            group.addTask {
                do { return .answering(version: try await client.send("GET", "/v1/health").decode(Health.self).version) } catch {
                    return .unreachable(reason: "GET /v1/health failed: \(error)", accessDenied: false)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        return answer ?? .unreachable(reason: "no answer to GET /v1/health within \(timeout)", accessDenied: false)
    }
}

extension ServiceCore {
    /// The doctor's report as the service sees it: its own socket answers, and the device sections come from its hub
    /// (its discovery cache; pads its sessions hold are reported busy instead of opened).
    func diagnostics() async -> DiagnosticReport {
        let addresses = listening.withLockedValue { $0 }
        let doctor = Doctor()
        let system = await BlockingCalls.shared.run { () throws(Never) -> [DiagnosticCheck] in
            var checks = doctor.system.libraries()
            checks.append(doctor.system.saneConfig())
            checks.append(doctor.system.udevRules())
            checks.append(doctor.system.group())
            checks.append(doctor.system.usbAccess())
            checks.append(doctor.system.videoAccess())
            checks.append(
                DiagnosticCheck(
                    id: "service.socket", status: .pass,
                    message: "this report comes from the service (pid \(getpid())) listening on \(addresses)"))
            checks.append(doctor.system.systemdUnits())
            return checks
        }.get()
        let devices = await doctor.devices.run(on: hub, refresh: false, saneVersion: hub.scanner.saneVersion)
        return DiagnosticReport(checks: system + devices)
    }
}
