import DeviceService
import Foundation

/// `sd_notify(3)`: tells systemd (Type=notify) that the service is ready or stopping. Does nothing outside systemd.
enum SystemdNotifier {
    static func notify(_ state: String) {
        guard let path = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"], !path.isEmpty else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = state.withCString { text in UnixSocket.withAddress(path) { sendto(fd, text, strlen(text), 0, $0, $1) } }
    }
}
