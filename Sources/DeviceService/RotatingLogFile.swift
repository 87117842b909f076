import Foundation
import Logging
import Synchronization

/// A log file that stays small, for machines without journald (containers, a counter PC without systemd): lines are
/// appended; once the file passes `maxBytes` it becomes `NAME.1` (the one before is dropped) and a new file begins. The
/// support bundle collects both.
public final class RotatingLogFile: Sendable {
    /// The file's path.
    public let path: String
    /// The size after which the file is rotated.
    public let maxBytes: Int
    private let state: Mutex<(descriptor: Int32, size: Int)>

    /// Opens (creating it and its directory, mode 0640) the log at `path`.
    public init(path: String, maxBytes: Int = 1 << 20) throws {
        self.path = path
        self.maxBytes = maxBytes
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let descriptor = Self.open(path)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
        var info = stat()
        fstat(descriptor, &info)
        state = Mutex((descriptor, Int(info.st_size)))
    }

    deinit { state.withLock { _ = close($0.descriptor) } }

    /// Appends one line (a newline is added).
    public func append(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        state.withLock { state in
            if state.size + bytes.count > maxBytes && state.size > 0 {
                rename(path, path + ".1")
                let reopened = Self.open(path)
                if reopened >= 0 {
                    close(state.descriptor)
                    state = (reopened, 0)
                }
            }
            let written = bytes.withUnsafeBytes { write(state.descriptor, $0.baseAddress, $0.count) }
            if written > 0 { state.size += written }
        }
    }

    private static func open(_ path: String) -> Int32 { Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640) }
}

/// A swift-log handler that writes lines like `StreamLogHandler`'s to a ``RotatingLogFile``.
public struct RotatingLogFileHandler: LogHandler {
    /// The file.
    public let file: RotatingLogFile
    /// The label of the logger it serves.
    public let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// A handler for the logger `label`, writing to `file`.
    public init(label: String, file: RotatingLogFile) {
        self.label = label
        self.file = file
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let own = event.metadata { all.merge(own) { $1 } }
        let extra = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
        file.append("\(time) \(event.level) \(label):\(extra) \(event.message)")
    }
}
