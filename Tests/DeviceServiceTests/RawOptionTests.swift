import Attachments
import CounterKitTestSupport
import Foundation
import Scanning
import Testing

@testable import DeviceService

/// A backend option given by its SANE name that a normalized setting also covers (source, mode, depth, resolution,
/// the area's edges) becomes that setting: the scanner gets the raw value, the page loop follows it (a raw feeder
/// source scans until the feeder is empty) and the manifest names what was used. Each case is scanned through the CLI
/// and the API and compared with scanimage given the same options: pixels and page count.
@Suite(.serialized) struct RawOptionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        /// The raw options.
        let options: [String: String]
        /// Normalized settings given as such (CLI flags; the API's fields).
        let flags: [String]
        let fields: String
        let scanimage: [String]
        /// Settings the manifest must hold.
        let settings: [String: String]
        let pages: Int
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "source", options: ["source": "Automatic Document Feeder"],
            flags: ["--mode", "gray", "--resolution", "50", "--area", "0,0,30,30"],
            fields: #""mode":"gray","resolution":50,"area":{"x":0,"y":0,"width":30,"height":30}"#,
            scanimage: ["--source", "Automatic Document Feeder", "--mode", "Gray", "--resolution", "50", "-x", "30", "-y", "30"],
            settings: ["source": "adf", "source.vendor": "Automatic Document Feeder", "mode": "gray", "resolution": "50"], pages: 10),
        Case(
            name: "mode", options: ["mode": "Gray"], flags: ["--resolution", "50", "--area", "0,0,30,30"],
            fields: #""resolution":50,"area":{"x":0,"y":0,"width":30,"height":30}"#,
            scanimage: ["--mode", "Gray", "--resolution", "50", "-x", "30", "-y", "30"],
            settings: ["mode": "gray", "mode.vendor": "Gray", "source": "flatbed"], pages: 1),
        Case(
            name: "resolution", options: ["resolution": "50"], flags: ["--mode", "color", "--area", "0,0,30,30"],
            fields: #""mode":"color","area":{"x":0,"y":0,"width":30,"height":30}"#,
            scanimage: ["--mode", "Color", "--resolution", "50", "-x", "30", "-y", "30"],
            settings: ["resolution": "50", "mode": "color"], pages: 1),
        Case(
            name: "depth", options: ["depth": "16"], flags: ["--mode", "gray", "--resolution", "50", "--area", "0,0,30,30"],
            fields: #""mode":"gray","resolution":50,"area":{"x":0,"y":0,"width":30,"height":30}"#,
            scanimage: ["--mode", "Gray", "--depth", "16", "--resolution", "50", "-x", "30", "-y", "30"],
            settings: ["depth": "16", "mode": "gray"], pages: 1),
        Case(
            name: "area edges", options: ["tl-x": "10", "tl-y": "5", "br-x": "40", "br-y": "35"], flags: ["--mode", "gray", "--resolution", "50"],
            fields: #""mode":"gray","resolution":50"#,
            scanimage: ["--mode", "Gray", "--resolution", "50", "-l", "10", "-t", "5", "-x", "30", "-y", "30"],
            settings: ["area": "10,5,30,30"], pages: 1),
        Case(
            name: "all raw (the issue's command)",
            options: ["source": "Automatic Document Feeder", "mode": "Gray", "resolution": "50", "br-x": "30", "br-y": "30"],
            flags: [], fields: "",
            scanimage: ["--source", "Automatic Document Feeder", "--mode", "Gray", "--resolution", "50", "-x", "30", "-y", "30"],
            settings: ["source": "adf", "mode": "gray", "resolution": "50", "area": "0,0,30,30"], pages: 10),
    ]

    /// scanimage's pages for the same options: from a feeder `--batch`, which ends when it is empty (a flatbed never
    /// is: there a batch would go on for good), else one page.
    static func reference(_ arguments: [String], in directory: TemporaryDirectory) async throws -> [DecodedImage] {
        let pattern = directory.path("reference-%d.pnm")
        let feeder = arguments.contains("Automatic Document Feeder")
        let output = feeder ? "--batch=\"$0\"" : "> \"$(printf \"$0\" 1)\""
        let run = try await runCommandAsync(
            ["/bin/sh", "-c", "scanimage -d test:0 --format=pnm \"$@\" \(output) 2>/dev/null", pattern] + arguments,
            environment: SANETestEnvironment.environment)
        #expect(run.status == 0)
        return try Self.pages(pattern)
    }

    static func pages(_ pattern: String) throws -> [DecodedImage] {
        var pages: [DecodedImage] = []
        for index in 1...40 {
            guard let bytes = FileManager.default.contents(atPath: pattern.replacingOccurrences(of: "%d", with: String(index))) else { break }
            pages.append(try DecodedImage.pnm([UInt8](bytes)))
        }
        return pages
    }

    /// Pages equal in number, size, depth and pixels.
    static func same(_ ours: [DecodedImage], _ reference: [DecodedImage], _ way: String) {
        #expect(ours.count == reference.count, "\(way): \(ours.count) pages, scanimage \(reference.count)")
        for (page, (mine, theirs)) in zip(ours, reference).enumerated() {
            #expect(
                mine.width == theirs.width && mine.height == theirs.height && mine.channels == theirs.channels && mine.bitDepth == theirs.bitDepth,
                "\(way) page \(page + 1): \(mine.width)x\(mine.height)x\(mine.channels)@\(mine.bitDepth) vs \(theirs.width)x\(theirs.height)x\(theirs.channels)@\(theirs.bitDepth)"
            )
            #expect(mine.pixels == theirs.pixels, "\(way) page \(page + 1): the pixels")
        }
    }

    /// The manifest says what was used: the case's settings, and no covered option also listed raw.
    static func truthful(_ settings: [String: String], _ test: Case, _ way: String) {
        for (key, value) in test.settings { #expect(settings[key] == value, "\(way): \(key) is \(settings[key] ?? "missing"), not \(value)") }
        for name in test.options.keys { #expect(settings["option.\(name)"] == nil, "\(way): \(name) is a setting, not also option.\(name)") }
    }

    @Test(arguments: cases)
    func throughTheCLI(test: Case) async throws {
        let directory = try TemporaryDirectory("ck-raw-cli")
        let reference = try await Self.reference(test.scanimage, in: directory)
        let pattern = directory.path("ours-%d.pnm")
        let raw = test.options.sorted { $0.key < $1.key }.flatMap { ["--option", "\($0.key)=\($0.value)"] }
        let run = try await runCommandAsync(
            [
                SANETestEnvironment.counterkitExecutable, "scan", "--direct", "--spool", directory.path("spool"),
                "--device", "test:0", "--format", "pnm", "--output", pattern, "--json",
            ] + test.flags + raw,
            environment: SANETestEnvironment.environment)
        try #require(run.status == 0, "\(run.output)")
        Self.same(try Self.pages(pattern), reference, "CLI")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        let attachments = try #require(report["attachments"] as? [[String: Any]])
        #expect(attachments.count == test.pages)
        // Every page's manifest, as stored, read back.
        let store = try AttachmentStore(directory: URL(fileURLWithPath: directory.path("spool")))
        for attachment in attachments {
            let manifest = try store.manifest(id: try #require(attachment["id"] as? String))
            Self.truthful(manifest.settings, test, "CLI")
        }
    }

    @Test(arguments: cases)
    func throughTheAPI(test: Case) async throws {
        let service = try await RunningService.start()
        defer { Task { try? await service.stop() } }
        let directory = try TemporaryDirectory("ck-raw-api")
        let reference = try await Self.reference(test.scanimage, in: directory)
        let options = String(decoding: try JSONSerialization.data(withJSONObject: test.options, options: [.sortedKeys]), as: UTF8.self)
        let body = #"{"device":"test:0","format":"pnm","options":\#(options)\#(test.fields.isEmpty ? "" : "," + test.fields)}"#
        let reply = try await service.post("/v1/scans?wait=true", body)
        try #require(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self))")
        let job = try service.job(reply)
        #expect(job.state == .completed && job.attachments.count == test.pages)
        var ours: [DecodedImage] = []
        for attachment in job.attachments {
            let bytes = try await service.get("/v1/attachments/\(attachment.id)")
            ours.append(try DecodedImage.pnm(bytes.body))
            let manifest = try await service.get("/v1/attachments/\(attachment.id)/manifest").decode(AttachmentManifest.self)
            Self.truthful(manifest.settings, test, "API")
        }
        Self.same(ours, reference, "API")
        if let settings = job.settings { Self.truthful(settings, test, "API job") }
    }

    /// Both ways given, disagreeing: refused before any job, naming both.
    @Test func aSettingGivenTwiceIsRefusedThroughTheAPIAndTheCLI() async throws {
        let service = try await RunningService.start()
        defer { Task { try? await service.stop() } }
        let reply = try await service.post("/v1/scans", #"{"device":"test:0","source":"flatbed","options":{"source":"Automatic Document Feeder"}}"#)
        let text = String(decoding: reply.body, as: UTF8.self)
        #expect(reply.status == 400 && text.contains("invalid_value") && text.contains("source is given twice"), "\(text)")
        #expect(try await service.get("/v1/jobs").decode(JobList.self).jobs.isEmpty, "no job was made")
        let directory = try TemporaryDirectory("ck-raw-twice")
        let run = try await runCommandAsync(
            [
                "/bin/sh", "-c", "\"$0\" \"$@\" 2>&1", SANETestEnvironment.counterkitExecutable, "scan", "--direct",
                "--spool", directory.path("spool"), "--device", "test:0", "--mode", "color", "--option", "mode=Gray",
                "--output", directory.path("x.jpg"),
            ], environment: SANETestEnvironment.environment)
        #expect(run.status != 0 && run.output.contains("error: invalid_value: the mode is given twice"), "\(run.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.path("x.jpg")))
    }

    /// eSCL requests name every setting, so a device's configured raw options that cover them give way (the client
    /// gets what it asked for, pixel for pixel as scanimage gives it), while an API scan that names none of them uses
    /// them as its settings, and its manifest says so.
    @Test func configuredRawOptionsGiveWayToESCLAndAreTheSettingsOtherwise() async throws {
        let defaults = ["test:0": ["mode": "Gray", "resolution": "50", "br-x": "30", "br-y": "30"]]
        let service = try await ESCLClientTests.service(escl: ESCLClientTests.escl(defaultDevice: "test:0"), deviceOptions: defaults)
        defer { Task { try? await service.stop() } }
        let clients = try ESCLClientTests.Clients(try #require(service.esclURL))
        let area = [0.0, 0, 127, 127]
        let scan = try await ESCLClientTests.client(
            ESCLClientTests.arguments(ESCLClientTests.Clients.airscanDevice, mode: "Color", dpi: 150, area: area),
            environment: clients.airscan)
        #expect(scan.status == 0, "\(scan.errors)")
        let page = try DecodedImage.pnm(scan.output)
        let reference = try await ESCLClientTests.direct(mode: "Color", dpi: 150, area: area)
        #expect(
            page.channels == 3 && abs(page.width - reference.width) <= 3 && abs(page.height - reference.height) <= 3,
            "colour at 150 dpi as asked, not the configured gray 50 dpi: \(page.width)x\(page.height)x\(page.channels)")
        let width = min(page.width, reference.width), height = min(page.height, reference.height)
        #expect(ESCLClientTests.overlap(page, width, height) == ESCLClientTests.overlap(reference, width, height))
        let reply = try await service.post("/v1/scans?wait=true", #"{"device":"test:0","format":"pnm"}"#)
        let job = try service.job(reply)
        let manifest = try await service.get("/v1/attachments/\(try #require(job.attachments.first).id)/manifest").decode(AttachmentManifest.self)
        #expect(
            manifest.settings["mode"] == "gray" && manifest.settings["resolution"] == "50" && manifest.settings["area"] == "0,0,30,30",
            "\(manifest.settings)")
        let directory = try TemporaryDirectory("ck-raw-escl")
        let expected = try await Self.reference(["--mode", "Gray", "--resolution", "50", "-x", "30", "-y", "30"], in: directory)
        Self.same([try DecodedImage.pnm(try await service.get("/v1/attachments/\(job.attachments[0].id)").body)], expected, "API with defaults")
    }
}
