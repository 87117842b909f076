import Foundation
import Scanning

/// The real libsane `test` backend, enabled through the repository's own SANE_CONFIG_DIR (its dll.conf holds `test`).
public enum SANETestEnvironment {
    /// The repository's `fixtures/sane/` folder.
    public static let configDirectory = repositoryRoot().appendingPathComponent("fixtures/sane").path
    /// Environment for anything that loads libsane.
    public static let environment = ["SANE_CONFIG_DIR": configDirectory]

    /// The scan worker: `counterkit-scan-worker` (or `counterkit`) built beside the test bundle (scripts/test
    /// builds them first).
    public static var launcher: ScanWorkerLauncher {
        var launcher = ScanWorkerLauncher.locate()
        launcher.environment = environment
        return launcher
    }

    /// The `counterkit` executable beside the worker (the test bundle's build directory).
    public static var counterkitExecutable: String {
        let sibling = URL(fileURLWithPath: launcher.executable).deletingLastPathComponent().appendingPathComponent("counterkit").path
        return FileManager.default.isExecutableFile(atPath: sibling) ? sibling : "counterkit"
    }
}
