import Attachments
import ChildProcesses
import CounterKitTestSupport
import Foundation
import Testing

@testable import DeviceService

/// A command behaves the same whether it goes through a running service or opens devices itself: the same output
/// (one schema) and the same exit status.
@Suite struct CommandParityTests {
    private func counterkit(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runCommandAsync(
            ["/bin/sh", "-c", "\"$0\" \"$@\" 2>/dev/null", SANETestEnvironment.counterkitExecutable] + arguments,
            environment: SANETestEnvironment.environment)
    }

    /// The output with the one thing that differs by when it ran: the discovery time.
    private func withoutDiscoveryTime(_ output: String) -> String {
        output.split(separator: "\n").filter { !$0.contains("\"discoveredAt\"") }.joined(separator: "\n")
    }

    @Test(arguments: [
        ["devices", "--json"], ["devices"], ["devices", "--options", "test:0", "--json"], ["devices", "--options", "test:0"],
        ["devices", "--options", "nope:9"],
    ])
    func devicesGivesTheSameAnswerEitherWay(arguments: [String]) async throws {
        let service = try await RunningService.start()
        let through = try await counterkit(arguments + ["--socket", service.socket])
        let direct = try await counterkit(arguments + ["--direct"])
        #expect(through.status == direct.status, "exit \(through.status) through the service, \(direct.status) direct")
        #expect(
            withoutDiscoveryTime(through.output) == withoutDiscoveryTime(direct.output),
            "through the service:\n\(through.output)\ndirect:\n\(direct.output)")
        if arguments == ["devices", "--json"] {
            let list = try AttachmentManifest.makeDecoder().decode(DeviceList.self, from: Data(direct.output.utf8))
            #expect(list.devices.first?.id == "test:0" && list.devices.first?.kind == .scanner)
        }
        try await service.stop()
    }

    /// The same scan both ways: the same exit status, and the same report but for what names this capture (its
    /// attachment id, file names and times); the pages are the same bytes.
    @Test func scanGivesTheSameAnswerEitherWay() async throws {
        let service = try await RunningService.start()
        var reports: [[String: Any]] = []
        for way in [["--socket", service.socket], ["--direct", "--spool", service.directory.path("cli-spool")]] {
            let output = service.directory.path("card-\(way[0].dropFirst(2)).png")
            let run = try await counterkit(["scan", "--paper", "ID1", "--resolution", "75", "--format", "png", "--output", output, "--json"] + way)
            #expect(run.status == 0, "\(way): \(run.output)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
            let attachment = try #require((report["attachments"] as? [[String: Any]])?.first)
            #expect(try AttachmentStore.hashFile(atPath: output).sha256 == attachment["sha256"] as? String, "the file is the attachment")
            reports.append(report)
        }
        func comparable(_ report: [String: Any]) -> String {
            var report = report
            report["files"] = nil
            report["attachments"] = (report["attachments"] as? [[String: Any]])?.map { attachment in
                attachment.filter { !["id", "fileName", "capturedAt", "storedAt"].contains($0.key) }
            }
            let data = (try? JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
        #expect(comparable(reports[0]) == comparable(reports[1]))
        try await service.stop()
    }

    /// `--timeout` is honoured through the service too (it used to be ignored there): a backend silent for longer
    /// fails the scan with `timeout`, both ways.
    @Test func scanTimeoutIsTheSameEitherWay() async throws {
        let service = try await RunningService.start()
        for way in [["--socket", service.socket], ["--direct", "--spool", service.directory.path("cli-spool")]] {
            let run = try await runCommandAsync(
                [
                    "/bin/sh", "-c", "\"$0\" \"$@\" 2>&1 >/dev/null", SANETestEnvironment.counterkitExecutable,
                    "scan", "--resolution", "50", "--timeout", "0.05", "--option", "read-delay=yes",
                    "--option", "read-delay-duration=200000", "--output", service.directory.path("slow.jpg"),
                ] + way,
                environment: SANETestEnvironment.environment)
            #expect(run.status == 1 && run.output.contains("error: timeout: "), "\(way): \(run.output)")
        }
        try await service.stop()
    }

    /// Ctrl-C cancels the scan either way: exit 1 with `error: cancelled`, no output file, nothing stored, and
    /// through the service the job ends cancelled.
    @Test func ctrlCCancelsTheScanEitherWay() async throws {
        let service = try await RunningService.start()
        for way in [["--socket", service.socket], ["--direct", "--spool", service.directory.path("cli-spool")]] {
            let output = service.directory.path("cancelled-\(way[0].dropFirst(2)).jpg")
            let log = service.directory.path("cancelled-\(way[0].dropFirst(2)).log")
            let child = try ChildProcess(
                executable: "/bin/sh",
                arguments: [
                    "-c", "exec \"$0\" \"$@\" 2>\(log)", SANETestEnvironment.counterkitExecutable, "scan", "--resolution", "100",
                    "--option", "read-delay=yes", "--option", "read-delay-duration=200000", "--output", output,
                ] + way,
                environment: SANETestEnvironment.environment, pipeInput: false, pipeOutput: false)
            // Interrupted mid-page: once the scan's first rows are in its spool's temp file (the page takes a minute).
            let spool = way[0] == "--socket" ? service.spool.path : way[2]
            #expect(
                await eventually(within: .seconds(60)) {
                    ((try? FileManager.default.contentsOfDirectory(atPath: spool + "/tmp")) ?? []).contains { $0.hasSuffix(".part") }
                }, "\(way): the scan began writing")
            child.signal(SIGINT)
            let ended = await child.ended()
            let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(ended == .exited(1) && said.contains("error: cancelled: "), "\(way): \(ended) \(said)")
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        // The CLI waits for the service to end the job before it exits.
        let jobs = try await service.get("/v1/jobs").decode(JobList.self).jobs
        #expect(jobs.count == 1 && jobs.first?.state == .cancelled, "\(jobs.map(\.state)) \(jobs.map(\.error))")
        #expect(try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.isEmpty)
        try await service.stop()
    }

    /// Failures read the same either way: the same `error: CODE: message` on stderr and the same exit status, for sign,
    /// photo and scan (the pad, camera and scanner here do not exist, or the values are refused before any device is opened).
    @Test(arguments: [
        ["sign", "--device", "usb:9-9:0", "--output-dir", "OUT"], ["sign", "--timeout", "0", "--output-dir", "OUT"],
        ["sign", "--size", "wide", "--output-dir", "OUT"], ["photo", "--device", "v4l2:nowhere", "--output", "OUT/p.jpg"],
        ["scan", "--device", "nope:9", "--output", "OUT/s.jpg"],
    ])
    func failuresGiveTheSameErrorEitherWay(arguments: [String]) async throws {
        let service = try await RunningService.start()
        var answers: [(status: Int32, said: String)] = []
        for way in [["--socket", service.socket], ["--direct", "--spool", service.directory.path("cli-spool")]] {
            let out = service.directory.path("out-\(way[0].dropFirst(2))")
            let run = try await runCommandAsync(
                ["/bin/sh", "-c", "\"$0\" \"$@\" 2>&1 >/dev/null", SANETestEnvironment.counterkitExecutable]
                    + arguments.map { $0.replacingOccurrences(of: "OUT", with: out) } + way,
                environment: SANETestEnvironment.environment)
            answers.append((run.status, run.output.replacingOccurrences(of: out, with: "OUT")))
            #expect(!FileManager.default.fileExists(atPath: out + "/p.jpg") && !FileManager.default.fileExists(atPath: out + "/s.jpg"))
        }
        #expect(answers[0].status == 1 && answers[1].status == 1, "\(answers)")
        #expect(
            answers[0].said.hasPrefix("error: ") && answers[0].said == answers[1].said,
            "through the service: \(answers[0].said)direct: \(answers[1].said)")
        try await service.stop()
    }
}
