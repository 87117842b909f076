import Foundation

/// Reads a `text/event-stream` as it arrives: bytes in, complete events out (`event:` names it, `data:` lines are
/// joined; an empty line ends an event).
struct EventStreamParser {
    private var pending: [UInt8] = []
    private var name = "message"
    private var data: [String] = []

    /// Adds bytes received.
    mutating func append(_ bytes: some Sequence<UInt8>) { pending.append(contentsOf: bytes) }

    /// The next complete event in what was received, if any.
    mutating func next() -> ServiceClient.Event? {
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: pending[..<newline], as: UTF8.self)
            pending.removeSubrange(...newline)
            if line.isEmpty {
                defer { (name, data) = ("message", []) }
                if !data.isEmpty { return ServiceClient.Event(name: name, data: data.joined(separator: "\n")) }
            } else if line.hasPrefix("event:") {
                name = line.dropFirst(6).trimmingCharacters(in: .whitespaces)
            } else if line.hasPrefix("data:") {
                data.append(String(line.dropFirst(5).drop { $0 == " " }))
            }
        }
        return nil
    }
}

/// Reads a `multipart/x-mixed-replace` stream (a camera preview) as it arrives.
enum MultipartParser {
    /// The first complete part in `bytes` (delimiter, headers, a body of its Content-Length), and the bytes it took.
    static func nextPart(_ bytes: [UInt8], delimiter: [UInt8]) -> ([String: String], [UInt8], Int)? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard bytes.count > delimiter.count, let start = bytes.firstRange(of: delimiter),
            let headerEnd = bytes[start.upperBound...].firstRange(of: separator)
        else { return nil }
        var headers: [String: String] = [:]
        for line in String(decoding: bytes[start.upperBound..<headerEnd.lowerBound], as: UTF8.self).split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        guard let length = headers["content-length"].flatMap(Int.init), length >= 0 else { return nil }
        let bodyStart = headerEnd.upperBound
        guard bytes.count >= bodyStart + length else { return nil }
        return (headers, Array(bytes[bodyStart..<(bodyStart + length)]), bodyStart + length)
    }
}
