import DeviceService
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking HTTP/1.1 keep-alive connection over a Unix socket, for load generators: one request at a time,
/// each answer read to its Content-Length. Reconnects after any failure.
final class KeepAliveConnection {
    private let path: String
    private var fd: Int32?
    private var buffer = [UInt8](repeating: 0, count: 65536)

    init(socket path: String) {
        self.path = path
        fd = UnixSocket.connect(path)
    }

    deinit { if let fd { close(fd) } }

    /// Sends one request; the status and body, or nil when the exchange failed (the connection is then renewed).
    func send(_ method: String, _ target: String, body: String? = nil) -> (status: Int, body: [UInt8])? {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n"
        if let body { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)" } else { text += "\r\n" }
        let request = Array(text.utf8)
        if fd == nil { fd = UnixSocket.connect(path) }
        guard let connection = fd,
            request.withUnsafeBytes({ Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count,
            let answer = readAnswer(connection)
        else {
            renew()
            return nil
        }
        return answer
    }

    private func readAnswer(_ connection: Int32) -> (status: Int, body: [UInt8])? {
        var received: [UInt8] = []
        var bodyStart = 0, expected: Int?, status = 0
        while true {
            let count = recv(connection, &buffer, buffer.count, 0)
            if count <= 0 { return nil }
            received += buffer[0..<count]
            if expected == nil, let end = received.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: received[..<end.lowerBound], as: UTF8.self).lowercased()
                let lines = head.split(separator: "\r\n")
                guard let first = lines.first, first.hasPrefix("http/1.1 "), let code = Int(first.dropFirst(9).prefix(3)),
                    let line = lines.first(where: { $0.hasPrefix("content-length:") }),
                    let length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces))
                else { return nil }
                status = code
                bodyStart = end.upperBound
                expected = end.upperBound + length
            }
            if let expected, received.count >= expected { return (status, Array(received[bodyStart..<expected])) }
        }
    }

    private func renew() {
        if let fd { close(fd) }
        fd = UnixSocket.connect(path)
    }
}

/// Seconds in a duration.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// The p-th fraction of sorted values (0 when empty).
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}
