import Foundation

/// `fixtures/sane-duplex/ckduplex.c`, a SANE backend for tests (a duplex sheet feeder that can also be "unplugged"),
/// built here with the system C compiler into a directory of its own, with a SANE configuration that holds only it.
public final class DuplexFixtureBackend: Sendable {
    /// Where the library and its configuration are.
    public let directory: TemporaryDirectory
    /// The environment that makes libsane's dll backend load the fixture (and nothing else).
    public let environment: [String: String]
    /// The device's SANE name.
    public static let device = "ckduplex:pad"

    /// Builds the fixture; throws what the compiler said when it fails.
    public init() throws {
        directory = try TemporaryDirectory("counterkit-duplex")
        let source = repositoryRoot().appendingPathComponent("fixtures/sane-duplex/ckduplex.c").path
        let library = directory.path("libsane-ckduplex.so.1")
        let compiler =
            ["cc", "clang"].first { name in
                (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
                    .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
            } ?? "cc"
        let built = try runCommand([compiler, "-shared", "-fPIC", "-O1", "-o", library, source])
        guard built.status == 0 else { throw TestVMError(message: "building the fixture backend failed: \(built.output)") }
        try FileManager.default.createDirectory(atPath: directory.path("sane"), withIntermediateDirectories: true)
        try "ckduplex\n".write(toFile: directory.path("sane/dll.conf"), atomically: true, encoding: .utf8)
        environment = ["SANE_CONFIG_DIR": directory.path("sane"), "LD_LIBRARY_PATH": directory.url.path]
    }
}
