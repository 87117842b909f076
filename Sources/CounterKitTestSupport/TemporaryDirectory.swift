import ChildProcesses
import Foundation

/// A fresh directory under the system temp dir, removed when released.
public final class TemporaryDirectory: Sendable {
    /// Its location.
    public let url: URL

    /// Creates the directory.
    public init(_ label: String = "counterkit") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside it.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Runs a command and returns its exit status and standard output as text.
@discardableResult
public func runCommand(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
    let result = try runCommandData(arguments, environment: environment)
    return (result.status, String(decoding: result.output, as: UTF8.self))
}

/// Runs a command and returns its exit status and raw standard output (stderr is discarded).
public func runCommandData(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: [UInt8]) {
    let child = try ChildProcess(
        executable: arguments[0], arguments: Array(arguments.dropFirst()), environment: environment ?? [:],
        pipeInput: false, discardErrors: true)
    let output = child.readAllOutput()
    switch child.wait() {
    case .exited(let status): return (status, output)
    case .signalled(let signal): return (128 + signal, output)
    }
}

/// The repository's root (two levels above a test file's folder).
public func repositoryRoot(_ file: String = #filePath) -> URL {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// `runCommand` off the cooperative pool, for async tests (see `offThePool`).
public func runCommandAsync(_ arguments: [String], environment: [String: String]? = nil) async throws -> (status: Int32, output: String) {
    try await offThePool { try runCommand(arguments, environment: environment) }
}

/// `runCommandData` off the cooperative pool, for async tests (see `offThePool`).
public func runCommandDataAsync(_ arguments: [String], environment: [String: String]? = nil) async throws -> (status: Int32, output: [UInt8]) {
    try await offThePool { try runCommandData(arguments, environment: environment) }
}

/// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice for port 0, released at once).
public func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestVMError(message: "socket: \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw TestVMError(message: "bind: \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
