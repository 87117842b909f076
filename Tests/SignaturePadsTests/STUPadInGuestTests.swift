import Attachments
import ChildProcesses
import CounterKitTestSupport
import Foundation
import SignaturePads
import Synchronization
import Testing

/// The STU driver against an emulated STU-530 on a real USB stack: a FunctionFS gadget on dummy_hcd in the
/// test VM whose feature reports and pen reports come from `STUEmulator`.
@Suite(.ownThreads, .serialized, .enabled(if: insideTestVM, "runs in the test VM (scripts/vm-run)"))
struct STUPadInGuestTests {
    func waitForPad(productID: UInt16 = 0xA5) throws -> USBHIDInterface {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let found = try USBTransport.hidInterfaces().first(where: { $0.vendorID == STU.vendorID && $0.productID == productID }) {
                return found
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw TestVMError(message: "the emulated STU pad did not appear on the bus")
    }

    @Test func aSignatureFromAnEmulatedSTU530ArrivesWhole() throws {
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "stu", emulator: emulator)
        defer { pad.remove() }
        let interface = try waitForPad()
        #expect(interface.product == "STU-530")
        let (connection, driver) = try SignaturePadDrivers.open(interface)
        #expect(driver.description.driver == "stu" && driver.description.model == "STU-530" && driver.description.firmware == "2.10")
        #expect(driver.description.screenWidth == 800 && driver.description.reportRate == 200)
        #expect(try connection.reportDescriptor() == FunctionFSPad.stuReportDescriptor)

        let log = EventLog()
        let session = try SignatureSession(transport: connection, driver: driver, onEvent: log.append)
        // The host's SET_REPORT returns once the gadget has read the data; the emulator records it just after.
        waitUntil(5) { emulator.sentCommands.count >= 3 }
        #expect(
            emulator.sentCommands == [STU.Command.timeCountSequence, STU.Command.clearScreen, STU.Command.inking(true)],
            "report 0x34 on, the screen cleared after Status said Ready, inking on: through SET_REPORT")
        emulator.push(stroke(from: 0, count: 300, skipping: [100, 101]))
        waitUntil(10) { session.snapshot.samples.count == 298 }
        let signature = try session.finish()
        #expect(signature.samples.count == 298 && signature.lostReports == 2)
        #expect(signature.samples.last?.time == 299 * 5 && signature.strokes.count == 1)
        waitUntil(5) { emulator.sentCommands.last == STU.Command.clearScreen }
        #expect(emulator.sentCommands.suffix(2) == [STU.Command.inking(false), STU.Command.clearScreen])
    }

    @Test func unplugMidSessionKeepsTheSamplesAndAReplugWorks() throws {
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "stu2", emulator: emulator)
        defer { pad.remove() }
        let interface = try waitForPad()
        let (connection, driver) = try SignaturePadDrivers.open(interface)
        let log = EventLog()
        let session = try SignatureSession(transport: connection, driver: driver, onEvent: log.append)
        emulator.push(stroke(from: 0, count: 40))
        waitUntil(10) { session.snapshot.samples.count == 40 }
        try pad.unplug()
        waitUntil(10) { log.ended != nil }
        #expect(log.ended?.0 == .failed && log.ended?.1?.code == .deviceDisconnected, "\(String(describing: log.ended))")
        #expect(session.partialSignature().samples.count == 40)

        try pad.plug()
        let again = try waitForPad()
        #expect(again.id == interface.id)
        let (reconnected, reopened) = try SignaturePadDrivers.open(again)
        let second = try SignatureSession(transport: reconnected, driver: reopened)
        emulator.push(stroke(from: 0, count: 10))
        waitUntil(10) { second.snapshot.samples.count == 10 }
        #expect(try second.finish().samples.count == 10)
    }
}

/// `counterkit sign` and `counterkit devices` against the emulated STU-530 on the real USB stack.
@Suite(.ownThreads, .serialized, .enabled(if: insideTestVM, "runs in the test VM (scripts/vm-run)"))
struct SignCommandInGuestTests {
    @Test func signWritesTheFourFilesAfterThePenLifts() async throws {
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "stucli", emulator: emulator)
        defer { pad.remove() }
        let directory = try TemporaryDirectory("sign-cli")
        var listed = ""
        for _ in 0..<100 where !listed.contains("signature_pad") {
            listed = try await runCommandAsync([SANETestEnvironment.counterkitExecutable, "devices"], environment: SANETestEnvironment.environment).output
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(listed.contains("signature_pad") && listed.contains("STU-530 (signature pad (Wacom STU))"), "\(listed)")

        // The pen strokes arrive once the command has switched inking on; the screen the pad shows then is kept.
        let shownWhenInking = Mutex<(encoding: UInt8, data: [UInt8])?>(nil)
        let feeder = Thread {
            let deadline = Date().addingTimeInterval(20)
            while !emulator.sentCommands.contains(STU.Command.inking(true)) && Date() < deadline { usleep(10_000) }
            shownWhenInking.withLock { $0 = emulator.shownImage }
            emulator.push(stroke(from: 0, count: 200))
        }
        feeder.start()
        let prompt = "I confirm the application above"
        let run = try await runCommandAsync([
            SANETestEnvironment.counterkitExecutable, "sign", "--idle", "0.5", "--timeout", "30",
            "--prompt", prompt,
            "--size", "600x200", "--output-dir", directory.path("out"), "--spool", directory.path("spool"), "--json",
        ])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("\"samples\" : 200") && run.output.contains("\"lostReports\" : 0"), "\(run.output)")
        var files: [AttachmentFormat: [UInt8]] = [:]
        for (format, name) in [(AttachmentFormat.png, "png"), (.svg, "svg"), (.iso19794, "iso"), (.json, "json")] {
            files[format] = FileManager.default.contents(atPath: directory.path("out/signature.\(name)")).map { [UInt8]($0) }
        }
        let stored = try AttachmentStore(directory: URL(fileURLWithPath: directory.path("spool"))).list()
        let check = SignatureFilesCheck(samples: 200, touchingSamples: 199, pngSize: (600, 200))
        #expect(check.problems(files, manifests: stored).isEmpty, "\(check.problems(files, manifests: stored))")
        // `--prompt`: the pad showed exactly that prompt (the STU-530's 800x480 screen, sent 1-bit), not another.
        let shown = try #require(shownWhenInking.withLock { $0 }, "the pad showed a screen before inking")
        let expected = STU.oneBitImage(gray: try PadPrompt(text: prompt, width: 800, height: 480).render(), width: 800, height: 480)
        let other = STU.oneBitImage(gray: try PadPrompt(text: "Please sign", width: 800, height: 480).render(), width: 800, height: 480)
        #expect(shown.data == expected && shown.data != other, "the prompt on the pad's screen (\(shown.data.count) bytes)")
        waitUntil(5) { emulator.sentCommands.last == STU.Command.clearScreen }
        #expect(emulator.sentCommands.last == STU.Command.clearScreen, "the pad is left clean")
    }

    @Test func doctorHasALinePerPad() async throws {
        let pad = try FunctionFSPad(name: "studoc", emulator: STUEmulator())
        defer { pad.remove() }
        var output = ""
        _ = try await eventually(within: .seconds(30), every: .milliseconds(200)) {
            output = try await runCommandAsync(
                [SANETestEnvironment.counterkitExecutable, "doctor", "--timeout", "30"],
                environment: SANETestEnvironment.environment
            ).output
            return output.contains("pad.usb:")
        }
        let line = output.split(separator: "\n").first { $0.contains("pad.usb:") }.map(String.init) ?? output
        #expect(
            line.hasPrefix("PASS") && line.contains("STU-530 firmware 2.10 (stu driver): 108.0x64.8 mm, 1023 pressure levels, 800x480 screen, 200 reports/s"),
            "\(line)")
    }
}

/// `counterkit devices --watch` in the guest: a pad and a camera arriving and leaving.
@Suite(.ownThreads, .serialized, .enabled(if: insideTestVM, "runs in the test VM (scripts/vm-run)"))
struct DeviceWatchInGuestTests {
    @Test func arrivalsAndDeparturesOfPadsAndCameras() throws {
        try VividModule.load()
        var environment = SANETestEnvironment.environment
        environment["COUNTERKIT_VM"] = "1"
        // The watcher's lines go to a file the test reads as they come: each step waits for the change it causes.
        let directory = try TemporaryDirectory("ck-watch")
        let log = directory.path("watch.jsonl")
        let watcher = try ChildProcess(
            executable: "/bin/sh",
            arguments: [
                "-c", "exec \"$0\" devices --watch --json --scanner-interval 30 > \(log)",
                SANETestEnvironment.counterkitExecutable,
            ],
            environment: environment, pipeInput: false, discardErrors: true)
        struct Change: Decodable { var event: String; var kind: String; var id: String }
        func lines() -> [Substring] { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n") }
        func changes() -> [Change] { lines().compactMap { try? JSONDecoder().decode(Change.self, from: Data($0.utf8)) } }
        func count(_ kind: String, _ event: String) -> Int {
            changes().filter { $0.kind == kind && $0.event == event && (kind != "camera" || $0.id == "v4l2:platform:vivid-000") }.count
        }
        func waitUntil(_ what: String, _ condition: () -> Bool) {
            let deadline = Date().addingTimeInterval(30)
            while !condition() && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            #expect(condition(), "\(what): \(lines())")
        }
        waitUntil("the devices present come first") { count("camera", "arrived") == 1 && count("scanner", "arrived") >= 1 }
        let pad = try FunctionFSPad(name: "stuwatch", emulator: STUEmulator())
        waitUntil("the pad arrives") { count("signature_pad", "arrived") == 1 }
        try pad.unplug()
        waitUntil("the pad leaves") { count("signature_pad", "left") == 1 }
        pad.remove()
        try VividModule.reload()  // the camera leaves and comes back
        waitUntil("the camera leaves and comes back") { count("camera", "left") == 1 && count("camera", "arrived") == 2 }
        watcher.signal(SIGINT)
        _ = watcher.wait()
        let lines = lines()
        let changes = changes()
        let padChanges = changes.filter { $0.kind == "signature_pad" }.map(\.event)
        #expect(padChanges == ["arrived", "left"], "\(lines)")
        let cameraChanges = changes.filter { $0.kind == "camera" && $0.id == "v4l2:platform:vivid-000" }.map(\.event)
        #expect(cameraChanges.starts(with: ["arrived", "left", "arrived"]), "\(lines)")
        #expect(changes.contains { $0.kind == "scanner" && $0.id == "test:0" && $0.event == "arrived" }, "\(lines)")
    }
}
