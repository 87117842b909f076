import Attachments
import ChildProcesses
import CounterKitTestSupport
import Foundation
import Scanning
import Testing

@testable import DeviceService

/// Nothing lost when the service is killed or a scanner is pulled out: the job journal, and unplugging mid-page.
@Suite struct SurvivalTests {
    /// `counterkit serve` on `spool`, started as its own process (so that it can be SIGKILLed).
    func serve(_ directory: TemporaryDirectory, spool: String, _ extra: [String] = []) async throws -> (ChildProcess, ServiceClient) {
        let socket = directory.path("api.sock")
        unlink(socket)
        let serve = try ChildProcess(
            executable: SANETestEnvironment.counterkitExecutable,
            arguments: ["serve", "--socket", socket, "--spool", spool, "--log-level", "warning"] + extra,
            environment: SANETestEnvironment.environment, pipeInput: false, pipeOutput: false)
        #expect(await eventually(within: .seconds(20)) { ServiceClient.isServing(at: socket) })
        return (serve, ServiceClient(socketPath: socket, idleTimeout: .seconds(60)))
    }

    func job(_ reply: ServiceClient.Reply) throws -> JobSnapshot { try reply.decode(JobSnapshot.self) }

    /// A service killed with jobs in flight reports them, after its restart, as `failed` with `interrupted`; the jobs
    /// that had ended keep their outcome and attachments; `GET /v1/jobs` lists them all; the journal stays bounded.
    @Test func jobsInFlightWhenTheServiceIsKilledAreReportedInterruptedAfterARestart() async throws {
        let directory = try TemporaryDirectory("ck-journal")
        let spool = directory.path("spool")
        var (service, client) = try await serve(directory, spool: spool)
        let done = try job(try await client.send("POST", "/v1/scans?wait=true", json: Data(#"{"device":"test:0","resolution":50,"paper":"ID1"}"#.utf8)))
        #expect(done.state == .completed && done.attachments.count == 1)
        // Long enough (seconds) to be still running when the second is queued and the service is killed, on a loaded machine.
        let slow = #"{"device":"test:0","resolution":300,"options":{"read-delay":true,"read-delay-duration":200000}}"#
        let running = try job(try await client.send("POST", "/v1/scans", json: Data(slow.utf8)))
        let queued = try job(try await client.send("POST", "/v1/scans?queue=true", json: Data(slow.utf8)))
        #expect(running.state == .running && queued.state == .queued)
        try await Task.sleep(for: .milliseconds(500))
        service.signal(SIGKILL)
        _ = await service.ended()

        (service, client) = try await serve(directory, spool: spool)
        let listed = try await client.send("GET", "/v1/jobs").decode(JobList.self).jobs
        #expect(Set(listed.map(\.id)) == [done.id, running.id, queued.id], "\(listed.map(\.state))")
        for id in [running.id, queued.id] {
            let after = try job(try await client.send("GET", "/v1/jobs/\(id)"))
            #expect(after.state == .failed && after.error?.code == .interrupted && after.attachments.isEmpty, "\(after)")
            // Its events end at once, with its final event, like any ended job's.
            var names: [String] = []
            _ = try await client.events("/v1/jobs/\(id)/events") {
                names.append($0.name); return true
            }
            #expect(names == ["state", "failed"])
        }
        let kept = try job(try await client.send("GET", "/v1/jobs/\(done.id)"))
        #expect(kept == done, "an ended job is what it was")
        let bytes = try await client.send("GET", "/v1/attachments/\(done.attachments[0].id)")
        let hash = try AttachmentStore.hashFile(atPath: spool + "/" + done.attachments[0].fileName).sha256
        #expect(bytes.status == 200 && hash == done.attachments[0].sha256)
        let next = try job(try await client.send("POST", "/v1/scans?wait=true", json: Data(#"{"device":"test:0","resolution":50}"#.utf8)))
        #expect(next.state == .completed, "the scanner works after the restart")
        service.signal(SIGTERM)
        _ = await service.ended()

        // Bounded: with room for two, the journal keeps the newest two.
        (service, client) = try await serve(directory, spool: spool, ["--journal-jobs", "2"])
        let bounded = try await client.send("GET", "/v1/jobs").decode(JobList.self).jobs
        #expect(bounded.map(\.id) == [next.id, queued.id] || bounded.map(\.id) == [next.id, running.id], "\(bounded.map(\.id))")
        let lines = try String(contentsOfFile: spool + "/journal/jobs.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2, "compacted to two lines")
        service.signal(SIGTERM)
        _ = await service.ended()
    }

    /// Lines recorded at once from many tasks are written in groups: each is on disk, whole, once `synced` returns for
    /// it (read back here before the journal is closed), and a reopened journal recovers every one.
    @Test func journalLinesRecordedAtOnceAreEachOnDiskWhenSynced() async throws {
        let directory = try TemporaryDirectory("ck-group-commit")
        let journal = try JobJournal(directory: directory.url)
        let ids = (0..<200).map { "job-\($0)" }
        await withTaskGroup(of: Void.self) { group in
            for id in ids {
                group.addTask {
                    let job = JobSnapshot(
                        id: id, kind: .scan, device: "test:0", state: .completed, createdAt: Date(), finishedAt: Date(), pages: 1, attachments: [])
                    await journal.synced(journal.record(job))
                }
            }
        }
        let lines = try String(contentsOfFile: journal.path, encoding: .utf8).split(separator: "\n")
        struct Line: Decodable { var job: JobSnapshot }
        let written = try lines.map { try AttachmentManifest.makeDecoder().decode(Line.self, from: Data($0.utf8)).job.id }
        #expect(Set(written) == Set(ids) && written.count == ids.count, "every line whole, none twice")
        let reopened = try JobJournal(directory: directory.url)
        #expect(Set(reopened.recoveredJobs.map(\.id)) == Set(ids) && reopened.recoveredJobs.allSatisfy { $0.state == .completed })
    }

    /// A torn last line (the power went mid-write) is left out; the lines before it are read.
    @Test func aTornLastLineIsIgnored() async throws {
        let directory = try TemporaryDirectory("ck-torn")
        let journal = try JobJournal(directory: directory.url)
        let job = JobSnapshot(id: "a", kind: .scan, device: "test:0", state: .running, createdAt: Date(), pages: 0, attachments: [])
        await journal.synced(journal.record(job))
        let handle = try #require(FileHandle(forWritingAtPath: journal.path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"job":{"id":"b","kind":"sc"#.utf8))
        try handle.close()
        let reopened = try JobJournal(directory: directory.url)
        #expect(reopened.recoveredJobs.map(\.id) == ["a"] && reopened.recoveredJobs.first?.error?.code == .interrupted)
        #expect(try String(contentsOfFile: journal.path, encoding: .utf8).split(separator: "\n").count == 1, "compaction drops the torn line")
    }

    /// A scanner pulled out mid-page (the fixture backend answers IO_ERROR and leaves the device list): the job fails
    /// `device_disconnected` with nothing kept, the list drops the scanner, and shows it again when it is plugged back
    /// in, without a restart; then it scans.
    @Test func aScannerPulledOutMidPageFailsDisconnectedAndComesBack() async throws {
        let fixture = try DuplexFixtureBackend()
        let plug = fixture.directory.path("unplugged")
        var launcher = ScanWorkerLauncher.locate()
        launcher.environment = fixture.environment.merging(["CKDUPLEX_UNPLUGGED": plug, "CKDUPLEX_READ_DELAY_US": "100000"]) { $1 }
        let service = try await RunningService.start(scanWorker: launcher)
        let device = DuplexFixtureBackend.device
        #expect(try await service.get("/v1/devices?refresh=true").decode(DeviceList.self).devices.contains { $0.id == device })
        let body = #"{"device":"\#(device)","source":"adf","maxPages":1,"format":"png"}"#
        let started = try service.job(try await service.post("/v1/scans", body))
        // Pulled out once the page is coming in (its first rows read), not before the scanner was opened.
        let reading = try await eventually(within: .seconds(30)) {
            (try await service.get("/v1/jobs/\(started.id)").decode(JobSnapshot.self).progress?.bytesReceived ?? 0) > 0
        }
        #expect(reading, "the scan started reading the page")
        #expect(FileManager.default.createFile(atPath: plug, contents: nil))
        let failed = try await service.waitForJob(started.id, timeout: .seconds(30))
        #expect(failed.state == .failed && failed.error?.code == .deviceDisconnected && failed.attachments.isEmpty, "\(failed)")
        #expect(failed.error?.message.contains("io_error") == true, "\(failed.error?.message ?? "no error")")
        #expect(try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.isEmpty)
        let tmp = (try? FileManager.default.contentsOfDirectory(atPath: service.spool.appendingPathComponent("tmp").path)) ?? []
        #expect(tmp.isEmpty, "no partial file: \(tmp)")
        #expect(!(try await service.get("/v1/devices").decode(DeviceList.self).devices.contains { $0.id == device }), "the list dropped it")

        unlink(plug)
        #expect(
            await eventually(within: .seconds(15)) {
                (try? await service.get("/v1/devices").decode(DeviceList.self).devices.contains { $0.id == device }) == true
            }, "listed again once it is back, without a refresh asked for")
        let again = try service.job(try await service.post("/v1/scans?wait=true", body))
        #expect(again.state == .completed && again.attachments.count == 1)
        try await service.stop()
    }
}
