import ChildProcesses
import CounterKitTestSupport
import Diagnostics
import ESCL
import Foundation
import Scanning
import Testing

@testable import DeviceService

/// eSCL driven by real clients nobody here wrote: `scanimage` through sane-airscan (the device given by hand in
/// `airscan.conf`, discovery off) and through libsane's own `escl` backend, with the SANE test backend (and the
/// duplex feeder fixture) behind the service. Pages are compared with a direct scan of the same area.
@Suite(.serialized) struct ESCLClientTests {
    /// Client configurations: one SANE_CONFIG_DIR holding only sane-airscan, one only libsane's escl backend.
    struct Clients {
        let directory: TemporaryDirectory
        let root: String
        static let airscanDevice = "airscan:e0:CounterKit"

        init(_ esclURL: String) throws {
            directory = try TemporaryDirectory("ck-escl-clients")
            root = String(esclURL.dropLast("/eSCL/".count))
            for name in ["airscan", "escl"] {
                try FileManager.default.createDirectory(atPath: directory.path(name), withIntermediateDirectories: true)
                try "\(name)\n".write(toFile: directory.path("\(name)/dll.conf"), atomically: true, encoding: .utf8)
            }
            try "[devices]\n\"CounterKit\" = \(esclURL), eSCL\n[options]\ndiscovery = disable\n"
                .write(toFile: directory.path("airscan/airscan.conf"), atomically: true, encoding: .utf8)
            try "".write(toFile: directory.path("escl/escl.conf"), atomically: true, encoding: .utf8)
        }

        var airscan: [String: String] { ["SANE_CONFIG_DIR": directory.path("airscan")] }
        var escl: [String: String] { ["SANE_CONFIG_DIR": directory.path("escl")] }
        var esclDevice: String { "escl:\(root)" }
    }

    /// A service serving eSCL whose device list already holds its scanners and whose default scanner's capabilities are
    /// read (the clients' first request is then not also the first discovery, nor the first opening of the scanner: on a
    /// loaded machine that took sane-airscan past its own deadline, "open of device … failed: Error during device I/O").
    static func service(
        escl: ESCLConfiguration, deviceOptions: [String: [String: String]] = [:],
        scanWorker: ScanWorkerLauncher = SANETestEnvironment.launcher
    ) async throws -> RunningService {
        let service = try await RunningService.start(deviceOptions: deviceOptions, scanWorker: scanWorker, escl: escl)
        _ = try await service.get("/v1/devices?refresh=true")
        if let url = service.esclURL {
            let capabilities = try await ESCLHTTP.request("GET", url + "ScannerCapabilities").text
            #expect(capabilities.contains("ScannerCapabilities"), "the default scanner's capabilities are served: \(capabilities.prefix(200))")
        }
        return service
    }

    /// Runs a SANE client; its standard error comes back too, for the failure message.
    static func client(_ arguments: [String], environment: [String: String]) async throws -> (status: Int32, output: [UInt8], errors: String) {
        let directory = try TemporaryDirectory("ck-escl-client")
        let log = directory.path("stderr")
        let run = try await runCommandDataAsync(["/bin/sh", "-c", "exec \"$0\" \"$@\" 2>\(log)"] + arguments, environment: environment)
        return (run.status, run.output, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    /// eSCL on a free loopback port, not advertised (the advertising test has a daemon of its own, and runs beside these).
    static func escl(defaultDevice: String? = nil) -> ESCLConfiguration {
        ESCLConfiguration(port: 0, defaultDevice: defaultDevice, advertise: false)
    }

    /// `scanimage` arguments for a mode, resolution and area in millimetres.
    static func arguments(_ device: String, mode: String, dpi: Int, area: [Double]) -> [String] {
        [
            "scanimage", "-d", device, "--mode", mode, "--resolution", String(dpi), "-l", String(area[0]), "-t", String(area[1]),
            "-x", String(area[2]), "-y", String(area[3]), "--format=pnm",
        ]
    }

    /// The same area scanned directly from the test backend.
    static func direct(mode: String, dpi: Int, area: [Double]) async throws -> DecodedImage {
        let scan = try await runCommandDataAsync(arguments("test:0", mode: mode, dpi: dpi, area: area), environment: SANETestEnvironment.environment)
        #expect(scan.status == 0)
        return try DecodedImage.pnm(scan.output)
    }

    /// The top-left region both images have (clients crop or pad to their own rounding of the area).
    static func overlap(_ image: DecodedImage, _ width: Int, _ height: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        let row = image.width * image.channels
        for y in 0..<height { bytes += image.pixels[(y * row)..<(y * row + width * image.channels)] }
        return bytes
    }

    @Test(arguments: [
        ("Color", 150, [0.0, 0, 127, 127]), ("Gray", 75, [0.0, 0, 127, 127]), ("Gray", 300, [0.0, 0, 50.8, 76.2]),
        ("Color", 200, [127.0, 0, 50.8, 50.8]),
    ])
    func airscanPagesAreTheDirectScansPixelForPixel(mode: String, dpi: Int, area: [Double]) async throws {
        let service = try await Self.service(escl: Self.escl())
        defer { Task { try? await service.stop() } }
        let clients = try Clients(try #require(service.esclURL))
        let scan = try await Self.client(Self.arguments(Clients.airscanDevice, mode: mode, dpi: dpi, area: area), environment: clients.airscan)
        #expect(scan.status == 0, "\(scan.errors)")
        let page = try DecodedImage.pnm(scan.output)
        let reference = try await Self.direct(mode: mode, dpi: dpi, area: area)
        #expect(page.channels == (mode == "Color" ? 3 : 1) && page.channels == reference.channels)
        // The test backend takes whole millimetres (and truncates to pixels); sane-airscan crops or pads what arrives to the
        // area it asked for in 1/300 inch: a few pixels' difference at the right and bottom edges.
        #expect(
            abs(page.width - reference.width) <= 3 && abs(page.height - reference.height) <= 3,
            "\(page.width)x\(page.height) vs \(reference.width)x\(reference.height)")
        let width = min(page.width, reference.width), height = min(page.height, reference.height)
        #expect(Self.overlap(page, width, height) == Self.overlap(reference, width, height), "PNG through eSCL is lossless")
        // The page passed through the store and left it: an eSCL scan belongs to its client.
        #expect(try await eventually(within: .seconds(30)) { try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.isEmpty })
    }

    @Test func libsaneEsclTakesAPDFWhoseJPEGIsCloseToTheDirectScan() async throws {
        let service = try await Self.service(escl: Self.escl())
        defer { Task { try? await service.stop() } }
        let clients = try Clients(try #require(service.esclURL))
        for (mode, dpi) in [("Color", 150), ("Gray", 100)] {
            let area = [0.0, 0, 127, 127]
            let scan = try await Self.client(Self.arguments(clients.esclDevice, mode: mode, dpi: dpi, area: area), environment: clients.escl)
            #expect(scan.status == 0, "\(scan.errors)")
            var page = try DecodedImage.pnm(scan.output)
            let reference = try await Self.direct(mode: mode, dpi: dpi, area: area)
            if page.channels == 3 && reference.channels == 1 {
                // The escl backend renders a PDF page as RGB; a gray page has three equal samples.
                let gray = stride(from: 0, to: page.pixels.count, by: 3).map { page.pixels[$0 + 1] }
                #expect(stride(from: 0, to: page.pixels.count, by: 3).allSatisfy { page.pixels[$0] == page.pixels[$0 + 2] })
                page = DecodedImage(width: page.width, height: page.height, channels: 1, bitDepth: 8, pixels: gray, dpi: page.dpi)
            }
            #expect(page.width == reference.width && page.height == reference.height && page.channels == reference.channels)
            guard page.pixels.count == reference.pixels.count else { continue }
            let psnr = page.psnr(against: reference.pixels)
            #expect(psnr >= 35, "\(mode) \(dpi) dpi: \(psnr) dB")
        }
        let jobs = try await service.get("/v1/jobs").decode(JobList.self).jobs
        #expect(jobs.count == 2 && jobs.allSatisfy { $0.state == .completed && $0.settings?["format"] == nil })
    }

    /// A feeder batch as a real client takes it: `scanimage --batch` through `client` (sane-airscan or libsane's `escl`),
    /// from the duplex fixture's feeder, optionally pausing between pages (`--batch-prompt` answered slowly, so the
    /// scanner has long finished while the client still takes pages). The pages it wrote, each as [sheet, side] read off
    /// its pixels, and its standard error.
    static func feederBatch(_ clients: Clients, client: String, source: String, pause: Bool, round: Int) async throws -> (pages: [[Int]], errors: String) {
        let pattern = clients.directory.path("\(client)-\(source.count)-\(pause)-\(round)-%d.pnm")
        let device = client == "airscan" ? Clients.airscanDevice : clients.esclDevice
        let environment = client == "airscan" ? clients.airscan : clients.escl
        let log = clients.directory.path("stderr-\(client)-\(round)")
        // Colour: every sample is 16 * sheet + side in R. Gray is taken too, in the other rounds.
        let mode = round == 1 ? "Color" : "Gray"
        let answers = pause ? "for i in $(seq 14); do sleep 0.4; echo; done" : "true"
        let script =
            "(\(answers)) | exec scanimage -d \"$0\" --source \"$1\" --mode \(mode) --resolution 100 --format=pnm "
            + "--batch=\"$2\" \(pause ? "--batch-prompt" : "") 2>\(log)"
        let run = try await runCommandAsync(["/bin/sh", "-c", script, device, source, pattern], environment: environment)
        let errors = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(run.status == 0, "the batch ends normally when the feeder is empty: \(errors)")
        var pages: [[Int]] = []
        for index in 1...40 {
            guard let bytes = FileManager.default.contents(atPath: pattern.replacingOccurrences(of: "%d", with: String(index))) else { break }
            let page = try DecodedImage.pnm([UInt8](bytes))
            // libsane's escl client hands every page on as RGB; a gray one then has three equal samples.
            #expect(page.channels == (mode == "Color" || client == "escl" ? 3 : 1), "\(client) \(mode): a \(mode) page")
            if mode == "Gray" && page.channels == 3 {
                let pixels = page.pixels
                let equal = stride(from: 0, to: pixels.count, by: 3).allSatisfy { (index: Int) -> Bool in
                    pixels[index] == pixels[index + 1] && pixels[index] == pixels[index + 2]
                }
                #expect(equal, "a gray page's three samples are one")
            }
            // The fixture's first sample is 16 * sheet + side; each page is one flat value in gray (and in colour's R).
            pages.append([Int(page.pixels[0]) / 16, Int(page.pixels[0]) % 16])
        }
        return (pages, errors)
    }

    /// The issue's loss: both real clients take a 10-page feeder batch twice in a row, simplex and duplex, with and
    /// without pauses between pages; every page arrives once, in order, told apart by its pixels. After each batch the
    /// job is Completed with nothing left to transfer and the feeder is not reported empty (SANE cannot tell whether
    /// the clerk reloaded it), so the second batch starts.
    @Test(arguments: ["airscan", "escl"], [("ADF", false), ("ADF Duplex", false), ("ADF", true), ("ADF Duplex", true)])
    func feederBatchesArriveWholeTwiceInARow(client: String, batch: (source: String, pause: Bool)) async throws {
        let fixture = try DuplexFixtureBackend()
        var launcher = ScanWorkerLauncher.locate()
        // An MFP: glass and feeder. libsane's escl client offers no source on a scanner without a platen (it lists
        // none and crashes when one is set), which is its limit, not the service's.
        launcher.environment = fixture.environment.merging(["CKDUPLEX_FLATBED": "1"]) { $1 }
        let duplex = batch.source == "ADF Duplex"
        // Ten pages either way: ten sheets one side, or five both sides.
        let service = try await Self.service(
            escl: Self.escl(defaultDevice: DuplexFixtureBackend.device),
            deviceOptions: [DuplexFixtureBackend.device: ["sheets": duplex ? "5" : "10"]], scanWorker: launcher)
        defer { Task { try? await service.stop() } }
        let clients = try Clients(try #require(service.esclURL))
        let expected = duplex ? (0..<5).flatMap { [[$0, 0], [$0, 1]] } : (0..<10).map { [$0, 0] }
        for round in 1...2 {
            let (pages, errors) = try await Self.feederBatch(clients, client: client, source: batch.source, pause: batch.pause, round: round)
            #expect(pages == expected, "\(client) \(batch.source) round \(round): every sheet and side once, in order: \(pages)\n\(errors)")
            let status = try await ESCLHTTP.request("GET", clients.root + "/eSCL/ScannerStatus").text
            #expect(status.contains("<pwg:State>Idle</pwg:State>") && !status.contains("ScannerAdfEmpty"), "\(status)")
            let latest = try #require(status.components(separatedBy: "<scan:JobInfo>").dropFirst().first, "the batch's job is listed")
            #expect(
                latest.contains("<pwg:ImagesCompleted>10</pwg:ImagesCompleted>") && latest.contains("<pwg:ImagesToTransfer>0</pwg:ImagesToTransfer>")
                    && latest.contains("<pwg:JobState>Completed</pwg:JobState>"), "\(latest)")
        }
        // Every page left the store once its client had it.
        #expect(try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.isEmpty)
    }

    /// While the scanner has finished and the client has not taken every page, the job is Processing with the pages
    /// still to transfer counted, and a job is Completed only once its client has them all. NextDocument's 404 has
    /// no body (libsane's client reads a body as the next image).
    @Test func aJobIsCompletedOnlyOnceItsClientHasEveryPage() async throws {
        let fixture = try DuplexFixtureBackend()
        var launcher = ScanWorkerLauncher.locate()
        launcher.environment = fixture.environment
        let service = try await Self.service(
            escl: Self.escl(defaultDevice: DuplexFixtureBackend.device),
            deviceOptions: [DuplexFixtureBackend.device: ["sheets": "4"]], scanWorker: launcher)
        defer { Task { try? await service.stop() } }
        let root = String(try #require(service.esclURL).dropLast("/eSCL/".count))
        let created = try await ESCLHTTP.request("POST", root + "/eSCL/ScanJobs", body: ESCLHTTP.settings(source: "Feeder"))
        let location = try #require(created.headers["location"])
        let id = String(location.split(separator: "/").last!)
        #expect(try await service.waitForJob(id).attachments.count == 4, "the scanner is done")
        for taken in 0...4 {
            let status = try await ESCLHTTP.request("GET", root + "/eSCL/ScannerStatus").text
            #expect(
                status.contains("<pwg:ImagesCompleted>4</pwg:ImagesCompleted>") && status.contains("<pwg:ImagesToTransfer>\(4 - taken)</pwg:ImagesToTransfer>"),
                "\(status)")
            #expect(status.contains("<pwg:JobState>\(taken == 4 ? "Completed" : "Processing")</pwg:JobState>"), "after \(taken) pages: \(status)")
            #expect(status.contains("<scan:AdfState>ScannerAdfLoaded</scan:AdfState>"), "no stale report of an empty feeder")
            let document = try await ESCLHTTP.request("GET", location + "/NextDocument")
            if taken < 4 {
                let file = try TemporaryDirectory("ck-escl-page")
                try Data(document.body).write(to: URL(fileURLWithPath: file.path("page.png")))
                let page = try DecodedImage.png(atPath: file.path("page.png"))
                #expect(document.status == 200 && page.pixels[0] == UInt8(16 * taken), "page \(taken + 1)")
            } else {
                #expect(document.status == 404 && document.body.isEmpty, "the end: 404 with no body")
            }
        }
    }

    /// A client that takes its pages slowly keeps them: the abandonment clock runs from its last request, not from the
    /// scan's end.
    @Test func aSlowClientIsNotTakenForOneThatLeft() async throws {
        let fixture = try DuplexFixtureBackend()
        var launcher = ScanWorkerLauncher.locate()
        launcher.environment = fixture.environment
        var escl = Self.escl(defaultDevice: DuplexFixtureBackend.device)
        escl.abandonedAfter = .seconds(2)
        let service = try await Self.service(escl: escl, deviceOptions: [DuplexFixtureBackend.device: ["sheets": "4"]], scanWorker: launcher)
        defer { Task { try? await service.stop() } }
        let root = String(try #require(service.esclURL).dropLast("/eSCL/".count))
        let location = try #require(try await ESCLHTTP.request("POST", root + "/eSCL/ScanJobs", body: ESCLHTTP.settings(source: "Feeder")).headers["location"])
        _ = try await service.waitForJob(String(location.split(separator: "/").last!))
        // Four pages, 1.5 s apart: 4.5 s after the scan ended, more than twice the abandonment time.
        for page in 0..<4 {
            if page > 0 { try await Task.sleep(for: .milliseconds(1500)) }
            let document = try await ESCLHTTP.request("GET", location + "/NextDocument")
            #expect(document.status == 200, "page \(page + 1) after a pause")
        }
        #expect(try await ESCLHTTP.request("GET", location + "/NextDocument").status == 404)
    }

    /// The README's block of client commands, run as written (its port 8090 replaced by the service's, HOME a directory
    /// of the test's): both clients take the test scanner's whole feeder (ten pages) into PNG files.
    @Test func theREADMEsClientCommandsRunAsWritten() async throws {
        let service = try await Self.service(escl: Self.escl(defaultDevice: "test:0"))
        defer { Task { try? await service.stop() } }
        let port = try #require(service.esclURL.flatMap { URL(string: $0)?.port })
        let readme = try String(contentsOf: repositoryRoot().appendingPathComponent("README.md"), encoding: .utf8)
        let block = try #require(
            readme.components(separatedBy: "```sh\n# eSCL clients\n").dropFirst().first?.components(separatedBy: "```").first,
            "the README has its eSCL client block")
        let lines = block.split(separator: "\n").map { $0.replacingOccurrences(of: "127.0.0.1:8090", with: "127.0.0.1:\(port)") }
        #expect(lines.contains { $0.contains("scanimage -d escl:") } && lines.contains { $0.contains("scanimage -d 'airscan:") })
        let home = try TemporaryDirectory("ck-escl-readme")
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = home.url.path
        environment["SANE_CONFIG_DIR"] = nil
        for line in lines {
            let run = try await runCommandAsync(["/bin/sh", "-c", "cd \"$HOME\" && \(line) 2>&1"], environment: environment)
            #expect(run.status == 0, "\(line): \(run.output)")
        }
        var sizes: [[Int]] = []
        for client in ["escl", "airscan"] {
            var pages = 0
            while FileManager.default.fileExists(atPath: home.path("\(client)-\(pages + 1).png")) { pages += 1 }
            #expect(pages == 10, "\(client): the test scanner's feeder holds ten pages")
            let first = try DecodedImage.png(atPath: home.path("\(client)-1.png"))
            sizes.append([first.width, first.height])
        }
        // The whole 200 mm bed at each client's default resolution: libsane's escl 75 dpi, sane-airscan 300 dpi.
        #expect(sizes == [[590, 590], [2362, 2362]], "sizes \(sizes)")
    }

    @Test func anEmptyFeederIs409AndTheStatusSaysSo() async throws {
        let fixture = try DuplexFixtureBackend()
        var launcher = ScanWorkerLauncher.locate()
        launcher.environment = fixture.environment
        // The configuration file's device defaults apply to eSCL scans too: this feeder holds no sheets.
        let service = try await Self.service(
            escl: Self.escl(), deviceOptions: [DuplexFixtureBackend.device: ["sheets": "0"]],
            scanWorker: launcher)
        defer { Task { try? await service.stop() } }
        let clients = try Clients(try #require(service.esclURL))
        let prefix = clients.root + ESCLService.prefix(for: DuplexFixtureBackend.device)
        let refused = try await ESCLHTTP.request("POST", prefix + "/ScanJobs", body: ESCLHTTP.settings(source: "Feeder"))
        #expect(refused.status == 409 && refused.text.contains("feeder is empty"), "\(refused.status) \(refused.text)")
        let status = try await ESCLHTTP.request("GET", prefix + "/ScannerStatus")
        #expect(status.text.contains("<scan:AdfState>ScannerAdfEmpty</scan:AdfState>"))
        let client = try await Self.client(["scanimage", "-d", Clients.airscanDevice, "--source", "ADF", "--format=pnm"], environment: clients.airscan)
        #expect(client.status != 0 && client.output.isEmpty, "sane-airscan reports the empty feeder")
        #expect(client.errors.contains("out of documents"), "\(client.errors)")
    }

    @Test func eSCLAndTheAPIShareTheScannerAndACancelFreesIt() async throws {
        let fixture = try DuplexFixtureBackend()
        var launcher = ScanWorkerLauncher.locate()
        // A quarter of a second a read: a page takes some 5 s, long enough to be in the middle of it even when
        // scanimage starts slowly on a loaded machine.
        launcher.environment = fixture.environment.merging(["CKDUPLEX_READ_DELAY_US": "250000"]) { $1 }
        let service = try await Self.service(escl: Self.escl(), scanWorker: launcher)
        defer { Task { try? await service.stop() } }
        let clients = try Clients(try #require(service.esclURL))
        let device = DuplexFixtureBackend.device
        let prefix = clients.root + ESCLService.prefix(for: device)
        // An eSCL job holds the scanner: the API hears device_busy.
        let created = try await ESCLHTTP.request("POST", prefix + "/ScanJobs", body: ESCLHTTP.settings(source: "Feeder"))
        #expect(created.status == 201)
        let location = try #require(created.headers["location"])
        #expect(location.hasPrefix(prefix + "/ScanJobs/"))
        let api = try await service.post("/v1/scans", #"{"device":"\#(device)","source":"adf"}"#)
        #expect(api.status == 409 && String(decoding: api.body, as: UTF8.self).contains("device_busy"))
        #expect(try await ESCLHTTP.request("GET", prefix + "/ScannerStatus").text.contains("<pwg:State>Processing</pwg:State>"))
        // DELETE cancels mid-page and releases the scanner.
        #expect(try await ESCLHTTP.request("DELETE", location).status == 200)
        let id = String(location.split(separator: "/").last!)
        let cancelled = try await service.waitForJob(id, timeout: .seconds(10))
        #expect(cancelled.state == .cancelled)
        #expect(try await ESCLHTTP.request("GET", location + "/NextDocument").status == 404)
        // The reverse: while the API scans, eSCL answers 503 with Retry-After.
        let apiJob = try service.job(try await service.post("/v1/scans", #"{"device":"\#(device)","source":"adf"}"#))
        let busy = try await ESCLHTTP.request("POST", prefix + "/ScanJobs", body: ESCLHTTP.settings(source: "Feeder"))
        #expect(busy.status == 503 && busy.headers["retry-after"] != nil)
        _ = try await service.delete("/v1/jobs/\(apiJob.id)")
        _ = try await service.waitForJob(apiJob.id, timeout: .seconds(10))
        // A real client interrupted mid-page: scanimage's cancel reaches the service as DELETE and frees the scanner.
        let child = try ChildProcess(
            executable: "scanimage", arguments: ["-d", Clients.airscanDevice, "--source", "ADF", "--format=pnm"],
            environment: clients.airscan, pipeInput: false, discardErrors: true)
        // Interrupted once the client has its job's address (the status lists the job) and rows are arriving: mid-page.
        var running: JobSnapshot?
        _ = try await eventually(within: .seconds(60), every: .milliseconds(100)) {
            let listed = try await ESCLHTTP.request("GET", prefix + "/ScannerStatus").text
            running = try await service.get("/v1/jobs").decode(JobList.self).jobs.first {
                $0.state == .running && listed.contains($0.id) && ($0.progress?.bytesReceived ?? 0) > 0
            }
            return running != nil
        }
        let job = try #require(running, "the client's scan started")
        child.signal(SIGINT)
        _ = await child.outputToEnd()
        _ = await child.ended()
        let ended = try await service.waitForJob(job.id, timeout: .seconds(10))
        #expect(ended.state == .cancelled, "\(ended.state)")
        let free = try await service.post("/v1/scans?wait=true", #"{"device":"\#(device)","source":"adf","maxPages":1,"format":"png"}"#)
        #expect(
            free.status == 200 && String(decoding: free.body, as: UTF8.self).contains("\"completed\""),
            "the scanner is free again: \(String(decoding: free.body, as: UTF8.self))")
    }

    @Test func everyScannerHasItsOwnPathAndBadRequestsGetTheirStatus() async throws {
        let service = try await Self.service(escl: Self.escl(defaultDevice: "test:1"))
        defer { Task { try? await service.stop() } }
        let root = String(try #require(service.esclURL).dropLast("/eSCL/".count))
        let main = try await ESCLHTTP.request("GET", root + "/eSCL/ScannerCapabilities")
        #expect(main.status == 200 && main.headers["content-type"]?.hasPrefix("text/xml") == true)
        #expect(main.text.contains("<pwg:SerialNumber>test:1</pwg:SerialNumber>"), "--escl-device chooses the default")
        #expect(main.text.contains("<pwg:MakeAndModel>Noname frontend-tester</pwg:MakeAndModel>"))
        #expect(main.text.contains("<scan:AdminURI>\(root)/devices/test%3A1/eSCL/ScannerCapabilities</scan:AdminURI>"), "the port it listens on")
        let other = try await ESCLHTTP.request("GET", root + "/devices/test%3A0/eSCL/ScannerCapabilities")
        #expect(
            other.text.contains("<pwg:SerialNumber>test:0</pwg:SerialNumber>") && other.text.contains("<scan:UUID>\(ESCLService.uuid("test:0"))</scan:UUID>"))
        #expect(try await ESCLHTTP.request("GET", root + "/devices/nope%3A9/eSCL/ScannerStatus").status == 404)
        #expect(try await ESCLHTTP.request("GET", root + "/eSCL/ScanJobs/unknown/NextDocument").status == 404)
        #expect(try await ESCLHTTP.request("POST", root + "/eSCL/ScanJobs", body: "<oops").status == 400)
        #expect(try await ESCLHTTP.request("POST", root + "/eSCL/ScanJobs", body: ESCLHTTP.settings(source: "Camera")).status == 409)
        // A JPEG job by hand: one document, its image info, then 404.
        let created = try await ESCLHTTP.request("POST", root + "/eSCL/ScanJobs", body: ESCLHTTP.settings(source: "Platen", format: "image/jpeg"))
        let location = try #require(created.headers["location"])
        let document = try await ESCLHTTP.request("GET", location + "/NextDocument")
        #expect(document.status == 200 && document.headers["content-type"] == "image/jpeg")
        let image = try DecodedImage.jpeg(document.body)
        // An inch square at 300 dpi; the test backend takes whole millimetres (25 mm).
        #expect(abs(image.width - 300) <= 6 && image.width == image.height && image.channels == 3, "\(image.width)x\(image.height)")
        let info = try await ESCLHTTP.request("GET", location + "/ScanImageInfo")
        #expect(
            info.text.contains("<scan:ActualWidth>\(image.width)</scan:ActualWidth>")
                && info.text.contains("<scan:ActualBytesPerLine>\(image.width * 3)<"), "\(info.text)")
        #expect(try await ESCLHTTP.request("GET", location + "/NextDocument").status == 404)
        #expect(try await ESCLHTTP.request("GET", root + "/eSCL/ScannerStatus").text.contains("<pwg:JobState>Completed</pwg:JobState>"))
    }

    @Test func pagesAClientNeverTakesAreRemovedAfterAWhile() async throws {
        var escl = Self.escl()
        escl.abandonedAfter = .seconds(1)
        let service = try await Self.service(escl: escl)
        defer { Task { try? await service.stop() } }
        let root = String(try #require(service.esclURL).dropLast("/eSCL/".count))
        let created = try await ESCLHTTP.request("POST", root + "/eSCL/ScanJobs", body: ESCLHTTP.settings(source: "Platen"))
        let location = try #require(created.headers["location"])
        let id = String(location.split(separator: "/").last!)
        #expect(try await service.waitForJob(id).attachments.count == 1)
        #expect(try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.count == 1, "kept while the client may come")
        var left = 1
        for _ in 0..<50 where left > 0 {
            try await Task.sleep(for: .milliseconds(100))
            left = try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.count
        }
        #expect(left == 0, "the untaken page is removed")
        #expect(try await ESCLHTTP.request("GET", location + "/NextDocument").status == 404)
    }
}

/// mDNS through a real avahi daemon, confined to a network namespace (`scripts/mdns-sandbox`): root only.
@Suite(.serialized, .enabled(if: getuid() == 0, "starting an avahi daemon in a network namespace needs root"))
struct ESCLAdvertisingTests {
    static let sandbox = repositoryRoot().appendingPathComponent("scripts/mdns-sandbox").path
    /// The sandbox's own system bus (not the machine's, so that nothing else is disturbed when it stops).
    static let bus = ["DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/run/counterkit-mdns-sandbox/system_bus_socket"]

    /// `avahi-browse` lines for `_uscan._tcp` on `port`, resolved (`=;…;PORT;"key=value" …`). At most 5 s a call: once
    /// in CI `avahi-browse -t` never said "all for now" and the suite waited on it for good; the callers ask again.
    static func browse(port: Int) async throws -> [String] {
        try await runCommandAsync(["timeout", "5", "avahi-browse", "-r", "-t", "-p", "_uscan._tcp"], environment: bus).output.split(separator: "\n")
            .map(String.init).filter { $0.hasPrefix("=") && $0.contains(";\(port);") }
    }

    @Test func everyScannerIsAdvertisedWithTheKeysClientsReadAndWithdrawnAtStop() async throws {
        let started = try await runCommandAsync(["/bin/sh", "-c", "\"$0\" start 2>&1", Self.sandbox])
        try #require(started.status == 0, "scripts/mdns-sandbox start: \(started.output)")
        defer { _ = try? runCommand([Self.sandbox, "stop"]) }  // blocking: a defer cannot await; stopping the daemons needs nothing of this process
        #expect(SystemChecks().mdns().status == .pass)
        var escl = ESCLConfiguration(port: 0, defaultDevice: "test:0")
        escl.advertiserEnvironment = Self.bus
        let service = try await RunningService.start(escl: escl)
        let port = try #require(service.esclURL.flatMap { URL(string: $0)?.port })
        var lines: [String] = []
        for _ in 0..<40 where lines.count < 2 {
            try await Task.sleep(for: .milliseconds(250))
            lines = try await Self.browse(port: port)
        }
        #expect(lines.count == 2, "test:0 and test:1: \(lines)")
        for (device, path) in [("test:0", "rs=eSCL"), ("test:1", "rs=devices/test%3A1/eSCL")] {
            let line = try #require(lines.first { $0.contains("uuid=\(ESCLService.uuid(device))") }, "\(device) is advertised: \(lines)")
            #expect(line.contains(";\(port);"), "on the eSCL port: \(line)")
            for key in [
                path, "ty=Noname frontend-tester", "uuid=\(ESCLService.uuid(device))", "pdl=image/jpeg,image/png,application/pdf",
                "cs=color,grayscale", "is=platen,adf", "duplex=F", "txtvers=1",
            ] {
                #expect(line.contains("\"\(key)\""), "\(key) in \(line)")
            }
        }
        try await service.stop()
        var gone = false
        for _ in 0..<40 where !gone {
            try await Task.sleep(for: .milliseconds(250))
            gone = try await Self.browse(port: port).isEmpty
        }
        #expect(gone, "the advertisements end with the service")
        _ = try await runCommandAsync([Self.sandbox, "stop"])
        #expect(SystemChecks().mdns().status == .warn, "without a daemon, doctor says eSCL is not advertised")
    }
}

/// Plain HTTP to the eSCL listener, through curl.
enum ESCLHTTP {
    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    static func request(_ method: String, _ url: String, body: String? = nil) async throws -> Reply {
        let directory = try TemporaryDirectory("ck-escl-http")
        var arguments = ["curl", "-sS", "-X", method, "-D", directory.path("headers"), "-o", directory.path("body"), "--max-time", "60"]
        if let body {
            try body.write(toFile: directory.path("request"), atomically: true, encoding: .utf8)
            arguments += ["-H", "Content-Type: text/xml", "--data-binary", "@" + directory.path("request")]
        }
        _ = try await runCommandAsync(arguments + [url])
        let head = (try? String(contentsOfFile: directory.path("headers"), encoding: .utf8)) ?? ""
        var lines = head.split(separator: "\r\n")
        let status = lines.isEmpty ? 0 : Int(lines.removeFirst().split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Reply(status: status, headers: headers, body: [UInt8](FileManager.default.contents(atPath: directory.path("body")) ?? Data()))
    }

    /// A `ScanSettings` document: 1 inch square, colour, 300 dpi.
    static func settings(source: String, format: String = "image/png") -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <scan:ScanSettings xmlns:scan="http://schemas.hp.com/imaging/escl/2011/05/03" xmlns:pwg="http://www.pwg.org/schemas/2010/12/sm">
        <pwg:Version>2.0</pwg:Version><pwg:ScanRegions><pwg:ScanRegion>
        <pwg:ContentRegionUnits>escl:ThreeHundredthsOfInches</pwg:ContentRegionUnits>
        <pwg:XOffset>0</pwg:XOffset><pwg:YOffset>0</pwg:YOffset><pwg:Width>300</pwg:Width><pwg:Height>300</pwg:Height>
        </pwg:ScanRegion></pwg:ScanRegions><pwg:InputSource>\(source)</pwg:InputSource><scan:ColorMode>RGB24</scan:ColorMode>
        <scan:XResolution>300</scan:XResolution><scan:YResolution>300</scan:YResolution>
        <pwg:DocumentFormat>\(format)</pwg:DocumentFormat></scan:ScanSettings>
        """
    }
}
