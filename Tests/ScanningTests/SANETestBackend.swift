import Attachments
import CounterKitTestSupport
import Foundation
import Scanning
import Testing

/// Helpers around the real libsane `test` backend (see `SANETestEnvironment`).
enum SANETestBackend {
    static let environment = SANETestEnvironment.environment
    static var launcher: ScanWorkerLauncher { SANETestEnvironment.launcher }

    static func scanner(idleTimeout: Duration = .seconds(30)) throws -> (SANEScanner, TemporaryDirectory) {
        let directory = try TemporaryDirectory("counterkit-scan")
        let store = try AttachmentStore(directory: directory.url)
        return (SANEScanner(store: store, worker: launcher, idleTimeout: idleTimeout), directory)
    }

    /// What `scanimage` writes as PNM for the same options.
    static func scanimage(_ arguments: [String]) throws -> DecodedImage {
        let command = ["scanimage", "-d", "test:0", "--format=pnm"] + arguments
        let result = try runCommandData(command, environment: environment)  // blocking: callers run on .ownThreads
        #expect(result.status == 0, "scanimage \(arguments) failed")
        return try DecodedImage.pnm(result.output, stripPadding: true)
    }

    /// Our PNM attachment for a request.
    static func ours(_ request: ScanRequest) throws -> DecodedImage {
        let (scanner, directory) = try scanner()
        let result = try scanner.scan(request)
        #expect(result.attachments.count == 1)
        let path = try scanner.store.fileURL(id: result.attachments[0].id).path
        _ = directory
        return try DecodedImage.pnm([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    /// The spool holds nothing but committed attachments (no temp files).
    static func tempFiles(_ directory: TemporaryDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path("tmp"))
    }
}
