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

/// Runs a command and returns its exit status and raw standard output.
public func runCommandData(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: [UInt8]) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, [UInt8](data))
}

/// The repository's root (two levels above a test file's folder).
public func repositoryRoot(_ file: String = #filePath) -> URL {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
