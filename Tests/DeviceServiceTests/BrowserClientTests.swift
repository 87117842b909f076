import CounterKitTestSupport
import Foundation
import Sealing
import Testing

@testable import DeviceService

/// The JavaScript client under Node's test runner, and the bridge, a page and the device console in real headless
/// Chromium (Selenium), each against a real service scanning from the SANE test backend.
@Suite("Browser counter software: the JavaScript client in Node and pages in Chromium", .serialized)
struct BrowserClientTests {
    /// The back office's P-256 key and certificate, made by OpenSSL (`office.key`, `office.crt`).
    func backOffice() async throws -> TemporaryDirectory {
        let office = try TemporaryDirectory("ck-js-office")
        let made = try await runCommandAsync([
            "/bin/sh", "-c",
            "exec openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \"$1\" -out \"$2\" -subj /CN=office -days 30 2>&1",
            "sh", office.path("office.key"), office.path("office.crt"),
        ])
        #expect(made.status == 0, "\(made.output)")
        return office
    }

    @Test("node --test clients/js/test/ passes against a real service over the bridge")
    func javaScriptClientInNode() async throws {
        // Sealed, so that the client's signature calls are checked too (by Node's own crypto).
        let key = try CounterKey.generate(.ed25519)
        let office = try await backOffice()
        let chain = try CounterCertificateChain.parse(try key.selfSignedCertificate(subject: "CN=Counter 3"), for: key.publicKey)
        let service = try await RunningService.start(
            tcp: true, signer: CounterSealer(key: key), envelopes: try EnvelopeRecipient.load(from: office.path("office.crt")),
            certificateChainPEM: chain.pem)
        let port = try #require(service.tcpPort)
        let token = try await service.pair("http://node.test")
        var environment = ProcessInfo.processInfo.environment
        environment["COUNTERKIT_URL"] = "http://127.0.0.1:\(port)"
        environment["COUNTERKIT_TOKEN"] = token
        environment["COUNTERKIT_SEAL_PUBLIC_KEY"] = key.publicKeyPEM
        environment["COUNTERKIT_SEAL_CHAIN"] = chain.pem
        let root = repositoryRoot().path
        let run = try await runCommandAsync(
            ["/bin/sh", "-c", "cd '\(root)' && node --test --test-reporter=tap clients/js/test/ 2>&1"],
            environment: environment)
        #expect(run.status == 0, "\(run.output)")
        let summary = run.output.split(separator: "\n").filter { $0.hasPrefix("# ") }
        #expect(summary.contains("# fail 0") && summary.contains("# skipped 0"), "\(summary)")
        let passed = summary.first { $0.hasPrefix("# pass ") }.flatMap { Int($0.dropFirst(7)) } ?? 0
        #expect(passed >= 6, "every client test ran: \(summary)")
        try await service.stop()
    }

    @Test(
        "an allowed page scans and fetches the sealed attachment, a foreign page reads nothing, the console scans with rows arriving, a foreign Host is refused"
    )
    func pagesInChromium() async throws {
        // Slow reads, so that the console's rows can be seen arriving; sealed, so that the page's client fetches the
        // envelope, the signature and the audit log, which the browser test checks with OpenSSL and Python.
        let key = try CounterKey.generate(.ed25519)
        let office = try await backOffice()
        try key.publicKeyPEM.write(toFile: office.path("counter.pub"), atomically: true, encoding: .utf8)
        let service = try await RunningService.start(
            tcp: true, deviceOptions: ["test:0": ["read-delay": "yes", "read-delay-duration": "30000"]],
            bridge: BridgeConfiguration(console: true), signer: CounterSealer(key: key),
            envelopes: try EnvelopeRecipient.load(from: office.path("office.crt")))
        let port = try #require(service.tcpPort)
        let pagePort = try freeTCPPort(), foreignPort = try freeTCPPort()
        let pageToken = try await service.pair("http://127.0.0.1:\(pagePort)")
        let consoleToken = try await service.pair("http://127.0.0.1:\(port)")
        let root = repositoryRoot()
        let artifacts = root.appendingPathComponent(".build/test-artifacts/browser")
        try? FileManager.default.removeItem(at: artifacts)
        let python = root.appendingPathComponent(".build-venv/bin/python").path
        let run = try await runCommandAsync([
            "/bin/sh", "-c",
            [
                "'\(python)'", "'\(root.appendingPathComponent("clients/js/test/browser_test.py").path)'", "http://127.0.0.1:\(port)",
                "\(pagePort)", pageToken, "\(foreignPort)", consoleToken, "'\(artifacts.path)'",
                "'\(root.appendingPathComponent("README.md").path)'", "'\(office.path("office.key"))'", "'\(office.path("counter.pub"))'", "2>&1",
            ].joined(separator: " "),
        ])
        #expect(run.status == 0 && run.output.contains("browser: all passed"), "\(run.output)")
        // The screenshot shows the console with the scan: the test scanner's colour pattern is on the page.
        let image = try DecodedImage.png(atPath: artifacts.appendingPathComponent("console.png").path)
        var coloured = 0
        for index in stride(from: 0, to: image.pixels.count - image.channels + 1, by: image.channels) {
            let pixel = image.pixels[index..<(index + 3)]
            if Int(pixel.max()!) - Int(pixel.min()!) > 100 { coloured += 1 }
        }
        #expect(coloured > 20_000, "the scan is visible in the console's screenshot: \(coloured) coloured pixels")
        // Each state's screenshot shows its message box: the token hint before a token, the clamped notice after the A4
        // scan, the error after a refused token (each box has a colour of its own, counted in the picture).
        for (file, colour, what) in [
            ("console-no-token.png", [232, 241, 251], "the token hint"),
            ("console.png", [255, 244, 214], "the clamped-scan notice"),
            ("console-rejected.png", [253, 232, 232], "the refused-token error"),
        ] {
            let shot = try DecodedImage.png(atPath: artifacts.appendingPathComponent(file).path)
            let count = stride(from: 0, to: shot.pixels.count - shot.channels + 1, by: shot.channels)
                .filter { index in (0..<3).allSatisfy { Int(shot.pixels[index + $0]) == colour[$0] } }.count
            #expect(count > 3_000, "\(file) shows \(what): \(count) pixels of its colour")
        }
        // Nothing the foreign page sent started a job: the page's scan, README's page's, the document-stage scan and the
        // console's two are the only ones.
        struct Jobs: Decodable { var jobs: [JobSnapshot] }
        let jobs = try await service.get("/v1/jobs").decode(Jobs.self).jobs
        #expect(jobs.count == 5 && jobs.allSatisfy { $0.state == .completed }, "\(jobs.map(\.state))")
        try await service.stop()
    }
}
