import Attachments
import ChildProcesses
import CounterKitTestSupport
import Foundation
import Testing

@testable import DeviceService

/// What a new user tripped on: requests refused before the paper moves, answers that say what is true, events a UI can
/// count on. Each test would have caught the behaviour it is named after.
@Suite struct HonestAnswersTests {
    /// curl against the service, as counter software would call it: status, headers and body.
    func curl(_ service: RunningService, _ arguments: [String]) async throws -> (status: Int, headers: String, body: String) {
        let headers = service.directory.path("headers-\(UUID().uuidString)")
        let run = try await runCommandAsync(
            [
                "curl", "-sS", "--max-time", "60", "--unix-socket", service.socket, "-D", headers,
                "-w", "\n%{http_code}",
            ] + arguments)
        let body = run.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (
            Int(body.last ?? "") ?? 0, (try? String(contentsOfFile: headers, encoding: .utf8)) ?? "",
            body.dropLast().joined(separator: "\n")
        )
    }

    func counterkit(_ arguments: [String], umask mask: String = "022") async throws -> (status: Int32, output: String) {
        try await runCommandAsync(
            ["/bin/sh", "-c", "umask \(mask); \"$0\" \"$@\" 2>&1", SANETestEnvironment.counterkitExecutable] + arguments,
            environment: SANETestEnvironment.environment)
    }

    // MARK: Refused before anything is scanned

    @Test(arguments: [
        (#"{"device":"test:0","area":{"x":300,"y":300,"width":10,"height":10}}"#, "invalid_value", "the area lies outside the scanner's bed"),
        (#"{"device":"test:0","options":{"no-such-option":"1"}}"#, "unsupported_option", "this scanner has no option 'no-such-option'"),
        (#"{"device":"test:0","options":{"test-picture":"Kittens"}}"#, "invalid_value", "test-picture=Kittens: expected one of"),
        (#"{"device":"test:0","options":{"read-delay-duration":"99999999"}}"#, "invalid_value", "read-delay-duration=99999999: outside"),
    ])
    func aRequestTheScannersOptionsRefuseIsA400NotAJobBoundToFail(body: String, code: String, message: String) async throws {
        let service = try await RunningService.start()
        let refused = try await service.post("/v1/scans", body)
        #expect(
            refused.status == 400 && refused.error?.code == code && refused.error?.message.contains(message) == true,
            "\(refused.status) \(String(decoding: refused.body, as: UTF8.self))")
        #expect(try await service.get("/v1/jobs").decode(JobList.self).jobs.isEmpty, "no job was made")
        // The same request as a job would fail the same way: the message is the scan's own.
        if code == "unsupported_option" {
            let direct = try await counterkit([
                "scan", "--direct", "--spool", service.directory.path("cli"), "--option", "no-such-option=1",
                "--output", service.directory.path("x.jpg"),
            ])
            #expect(direct.status == 1 && direct.output.contains("error: unsupported_option: \(message)"), "\(direct.output)")
        }
        try await service.stop()
    }

    @Test func aPaperLargerThanTheBedIsScannedToTheBedAndSaysSo() async throws {
        let service = try await RunningService.start()
        let job = try service.job(try await service.post("/v1/scans?wait=true", #"{"device":"test:0","paper":"A4","resolution":50}"#))
        #expect(
            job.state == .completed && job.settings?["clamped"] == "true" && job.settings?["requestedArea"] == "0,0,210,297"
                && job.settings?["area"] == "0,0,200,200", "\(String(describing: job.settings))")
        let manifest = try await service.get("/v1/attachments/\(try #require(job.attachments.first).id)/manifest").decode(AttachmentManifest.self)
        #expect(manifest.settings["clamped"] == "true" && manifest.settings["requestedArea"] == "0,0,210,297")
        let cli = try await counterkit([
            "scan", "--direct", "--spool", service.directory.path("cli"), "--paper", "A4", "--resolution", "50",
            "--output", service.directory.path("a4.jpg"),
        ])
        #expect(
            cli.status == 0 && cli.output.contains("warning: the area asked for (0,0,210,297 mm) does not fit the scanner's bed; scanned 0,0,200,200 mm"),
            "\(cli.output)")
        try await service.stop()
    }

    @Test func theCLIChecksItsOutputBeforeTheScannerIsOpened() async throws {
        let directory = try TemporaryDirectory()
        let spool = directory.path("spool")
        func scan(_ arguments: [String]) async throws -> (status: Int32, output: String) {
            try await counterkit(["scan", "--direct", "--spool", spool, "--resolution", "50"] + arguments)
        }
        let feeder = try await scan(["--source", "adf", "--format", "png", "--output", directory.path("pages.png")])
        #expect(
            feeder.status == 1 && feeder.output.contains("error: invalid_value: several pages may come from the feeder: --output needs %d"),
            "\(feeder.output)")
        let nowhere = try await scan(["--output", directory.path("missing/card.jpg")])
        #expect(
            nowhere.status == 1 && nowhere.output.contains("the directory of --output \(directory.path("missing/card.jpg")) does not exist"),
            "\(nowhere.output)")
        let contradiction = try await scan(["--format", "jpeg", "--output", directory.path("grid.png")])
        #expect(contradiction.status == 1 && contradiction.output.contains("--format jpeg contradicts the extension"), "\(contradiction.output)")
        // Nothing was scanned for any of them: the spool holds no attachment.
        #expect(try AttachmentStore(directory: URL(fileURLWithPath: spool)).list().isEmpty)

        // Without --format the extension decides.
        let png = try await scan(["--output", directory.path("grid.png")])
        #expect(png.status == 0 && png.output.contains("image/png"), "\(png.output)")
        let bytes = try #require(FileManager.default.contents(atPath: directory.path("grid.png")))
        let decoded = try DecodedImage.png(atPath: directory.path("grid.png"))
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) && decoded.width > 0)
    }

    /// `--output` files follow one rule either way: a new file of the user's (0666 less the umask).
    @Test func outputFilesHaveOneModeDirectOrThroughTheService() async throws {
        let service = try await RunningService.start()
        for (mask, expected) in [("022", 0o644), ("077", 0o600)] {
            for way in [["--socket", service.socket], ["--direct", "--spool", service.directory.path("cli")]] {
                let output = service.directory.path("card-\(mask)-\(way[0].dropFirst(2)).jpg")
                let run = try await counterkit(["scan", "--resolution", "50", "--paper", "ID1", "--output", output] + way, umask: mask)
                #expect(run.status == 0, "\(run.output)")
                var info = stat()
                #expect(
                    stat(output, &info) == 0 && Int(info.st_mode & 0o777) == expected,
                    "\(way[0]) umask \(mask): \(String(info.st_mode & 0o777, radix: 8))")
            }
        }
        try await service.stop()
    }

    // MARK: Answers that say what is true

    @Test func cancellingARunningJobAnswers202CancellingAndIsIdempotent() async throws {
        let service = try await RunningService.start()
        let slow = #"{"device":"test:0","resolution":150,"options":{"read-delay":true,"read-delay-duration":200000}}"#
        let job = try service.job(try await service.post("/v1/scans", slow))
        #expect(job.state == .running)
        let first = try await service.delete("/v1/jobs/\(job.id)")
        let firstJob = try first.decode(JobSnapshot.self)
        #expect(first.status == 202 && (firstJob.state == .cancelling), "\(first.status) \(firstJob.state)")
        let again = try await service.delete("/v1/jobs/\(job.id)")
        #expect(again.status == 202 || again.status == 200, "a second DELETE is not an error: \(again.status)")
        var ended = try await service.get("/v1/jobs/\(job.id)").decode(JobSnapshot.self)
        for _ in 0..<100 where !ended.state.isFinished {
            try await Task.sleep(for: .milliseconds(100))
            ended = try await service.get("/v1/jobs/\(job.id)").decode(JobSnapshot.self)
        }
        #expect(ended.state == .cancelled)
        let afterwards = try await service.delete("/v1/jobs/\(job.id)")
        let final = try afterwards.decode(JobSnapshot.self)
        #expect(afterwards.status == 200 && final.state == .cancelled)
        try await service.stop()
    }

    @Test func errorsAreNeverOfferedAsADownload() async throws {
        let service = try await RunningService.start()
        let job = try service.job(try await service.post("/v1/scans?wait=true", #"{"device":"test:0","resolution":50,"paper":"ID1"}"#))
        let id = try #require(job.attachments.first).id
        let ok = try await curl(service, ["http://localhost/v1/attachments/\(id)"])
        #expect(ok.status == 200 && ok.headers.lowercased().contains("content-disposition: inline; filename="))
        let range = try await curl(service, ["-H", "Range: bytes=99999999-", "http://localhost/v1/attachments/\(id)"])
        #expect(range.status == 416 && !range.headers.lowercased().contains("content-disposition") && range.body.contains("range_not_satisfiable"))
        let missing = try await curl(service, ["http://localhost/v1/attachments/00000000-0000-0000-0000-000000000000"])
        #expect(missing.status == 404 && !missing.headers.lowercased().contains("content-disposition"))
        // `--fail-with-body` (as the README's examples use it) never leaves an error in a file named like an image.
        let saved = service.directory.path("saved.jpg")
        let failed = try await runCommandAsync([
            "curl", "-sS", "--fail-with-body", "--unix-socket", service.socket, "-o", saved,
            "-H", "Range: bytes=99999999-", "http://localhost/v1/attachments/\(id)",
        ])
        #expect(failed.status != 0)
        try await service.stop()
    }

    @Test func anUnknownCameraIsNamedACamera() async throws {
        let service = try await RunningService.start()
        let reply = try await service.get("/v1/devices/v4l2:platform:nowhere")
        #expect(
            reply.status == 404 && reply.error?.code == "device_not_found" && reply.error?.message.contains("no camera") == true,
            "\(String(decoding: reply.body, as: UTF8.self))")
        try await service.stop()
    }

    @Test func requestBodiesAreJSONOnceAndSayWhatTheyAccept() async throws {
        let service = try await RunningService.start()
        let plain = try await curl(service, ["-H", "Content-Type: text/plain", "-d", #"{"device":"test:0"}"#, "http://localhost/v1/scans"])
        #expect(plain.status == 415 && plain.body.contains("unsupported_media_type"), "\(plain)")
        let form = try await curl(service, ["-d", #"{"device":"test:0"}"#, "http://localhost/v1/scans"])
        #expect(form.status == 415, "curl -d sends a form: \(form)")
        let twice = try await curl(service, ["--json", #"{"resolution":75,"resolution":300}"#, "http://localhost/v1/scans"])
        #expect(twice.status == 400 && twice.body.contains("invalid_json") && twice.body.contains("'resolution' is given twice"), "\(twice)")
        let nested = try await curl(service, ["--json", #"{"options":{"mode":"Gray","mode":"Color"}}"#, "http://localhost/v1/scans"])
        #expect(nested.status == 400 && nested.body.contains("'mode' is given twice"), "\(nested)")
        let null = try await curl(service, ["--json", #"{"options":{"test-picture":null}}"#, "http://localhost/v1/scans"])
        #expect(
            null.status == 400 && null.body.contains("invalid_type")
                && null.body.contains("'options.test-picture' must be a string, a number or true/false"), "\(null)")
        let huge = try await curl(service, ["--json", #"{"resolution":1e400}"#, "http://localhost/v1/scans"])
        #expect(huge.status == 400 && huge.body.contains("invalid_value") && huge.body.contains("'resolution': the number 1e400 is too large"), "\(huge)")
        #expect(try await service.get("/v1/jobs").decode(JobList.self).jobs.isEmpty)
        try await service.stop()
    }

    // MARK: Events a UI can rely on

    @Test(arguments: [1, 3, 10])
    func everyPageHasOnePageEventAndTheLastEventComesToLateSubscribersToo(pages: Int) async throws {
        let service = try await RunningService.start()
        let body = #"{"device":"test:0","source":"adf","resolution":75,"paper":"ID1","maxPages":\#(pages)}"#
        let job = try service.job(try await service.post("/v1/scans", body))
        var events: [(name: String, job: JobSnapshot)] = []
        try await service.client.events("/v1/jobs/\(job.id)/events") { event in
            events.append((event.name, try AttachmentManifest.makeDecoder().decode(JobSnapshot.self, from: Data(event.data.utf8))))
            return true
        }
        let names = events.map(\.name)
        #expect(names.first == "state" && names.last == "completed", "\(names)")
        let pageEvents = events.filter { $0.name == "page" }
        let before = events.first?.job.pages ?? 0
        #expect(
            pageEvents.map(\.job.pages) == Array(stride(from: before + 1, through: pages, by: 1)),
            "one page event per page, in order: \(pageEvents.map(\.job.pages))")
        #expect(events.last?.job.pages == pages && events.last?.job.attachments.count == pages)
        // Progress carries the page's fraction and the job's.
        let fractions = events.filter { $0.name == "progress" }.compactMap(\.job.progress?.jobFraction)
        #expect(fractions == fractions.sorted(), "the job's fraction never goes back: \(fractions)")
        #expect(events.filter { $0.name == "progress" }.allSatisfy { $0.job.progress?.pagesExpected == pages })
        // A subscriber after the end gets the state and the final event, as a live one did.
        var late: [String] = []
        try await service.client.events("/v1/jobs/\(job.id)/events") { event in
            late.append(event.name); return true
        }
        #expect(late == ["state", "completed"], "\(late)")
        try await service.stop()
    }

    // MARK: A technician's view

    /// `counterkit serve` logs its start and stop, each job's start and end with what it used, and the devices it
    /// found, to stderr and to a rotating file in the spool, which the support bundle collects with the versions.
    @Test func theServiceLogsWhatTheCounterDidAndTheBundleKeepsIt() async throws {
        let directory = try TemporaryDirectory("ck-log")
        let socket = directory.path("api.sock"), spool = directory.path("spool")
        let serve = try ChildProcess(
            executable: SANETestEnvironment.counterkitExecutable,
            arguments: ["serve", "--socket", socket, "--spool", spool],
            environment: SANETestEnvironment.environment, pipeInput: false, pipeOutput: false)
        #expect(await eventually(within: .seconds(20)) { ServiceClient.isServing(at: socket) })
        let client = ServiceClient(socketPath: socket, idleTimeout: .seconds(60))
        let done = try await client.send("POST", "/v1/scans?wait=true", json: Data(#"{"device":"test:0","resolution":50,"paper":"ID1"}"#.utf8))
        #expect(done.status == 200)
        let jam = try await client.send(
            "POST", "/v1/scans?wait=true",
            json: Data(#"{"device":"test:0","resolution":50,"options":{"read-return-value":"SANE_STATUS_JAMMED"}}"#.utf8))
        #expect(jam.status == 200)
        serve.signal(SIGTERM)
        _ = await serve.ended()
        let log = try String(contentsOfFile: spool + "/log/service.log", encoding: .utf8)
        for expected in [
            "info counterkit: counterkit \(CounterKitVersion.current) starting", "device arrived: scanner test:0",
            "started: scan on test:0", "completed: scan on test:0, 1 page(s)", "paper=ID1",
            "warning counterkit: job", "failed: scan on test:0, 0 page(s)", "jammed",
            "shutting down", "counterkit stopped",
        ] {
            #expect(log.contains(expected), "the log says '\(expected)':\n\(log)")
        }

        let bundle = directory.path("bundle.tar.gz")
        let made = try await runCommandAsync(
            [
                SANETestEnvironment.counterkitExecutable, "bundle", "--direct", "--no-self-tests", "--spool", spool,
                "--timeout", "30", "--output", bundle,
            ], environment: SANETestEnvironment.environment)
        #expect(made.status == 0, "\(made.output)")
        #expect(try await runCommandAsync(["tar", "-xzf", bundle, "-C", directory.url.path]).status == 0)
        let root = try #require(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).first { $0.hasPrefix("counterkit-bundle-") })
        let fileLog = try String(contentsOfFile: directory.path("\(root)/service-file.log"), encoding: .utf8)
        #expect(fileLog.contains("completed: scan on test:0"))
        let page = try String(contentsOfFile: directory.path("\(root)/report.html"), encoding: .utf8)
        #expect(page.contains("<h2>Versions</h2>") && page.contains("kernel: Linux") && page.contains("completed: scan on test:0"))
    }

    /// A pad that is not there is not signed on; a self-test's steps belong to their device's section.
    @Test func selfTestsSayWhatIsThere() async throws {
        let missing = try await runCommandAsync(
            [
                "/bin/sh", "-c", "\"$0\" \"$@\" 2>&1", SANETestEnvironment.counterkitExecutable,
                "test", "usb:1-2:0", "--direct", "--pad-seconds", "1",
            ], environment: SANETestEnvironment.environment)
        #expect(missing.status == 1 && !missing.output.contains("sign on the pad") && missing.output.contains("device_not_found"), "\(missing.output)")
        let scanner = try await runCommandAsync(
            [SANETestEnvironment.counterkitExecutable, "test", "test:0", "--direct", "--json"],
            environment: SANETestEnvironment.environment)
        struct Result: Decodable { struct Step: Decodable { var id: String; var section: String }; var steps: [Step] }
        let results = try JSONDecoder().decode([Result].self, from: Data(scanner.output.utf8))
        #expect(results.first?.steps.isEmpty == false && results.first?.steps.allSatisfy { $0.section == "scanners" } == true, "\(scanner.output)")
    }
}
