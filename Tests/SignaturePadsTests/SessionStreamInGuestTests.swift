import CounterKitTestSupport
import Foundation
import SignaturePads
import Synchronization
import Testing

/// The integrator's signature API (`SignatureSession.start` and its `AsyncStream`) and the `sign-to-files`
/// example, against an emulated STU-530 on the test VM's USB stack.
@Suite(.serialized, .enabled(if: insideTestVM, "runs in the test VM (scripts/vm-run)"))
struct SessionStreamInGuestTests {
    @Test func eventsArriveAsAStreamAndCancellingTheIteratingTaskReleasesThePad() async throws {
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "stustream", emulator: emulator)
        defer { pad.remove() }
        var started: (session: SignatureSession, events: AsyncStream<SignatureEvent>)?
        var lastError: (any Error)?
        func start() -> Bool {
            do { started = try SignatureSession.start(prompt: "Please sign") } catch { lastError = error }
            return started != nil
        }
        if await !eventually(within: .seconds(30), start) {
            throw pad.unansweredRequest("no session in 30 s (\(lastError.map { "\($0)" } ?? "no error"))")
        }
        let (session, events) = try #require(started, "the pad came up and a session started")
        #expect(session.pad.model == "STU-530")
        #expect(await eventually(within: .seconds(5)) { emulator.shownImage != nil })

        let seen = Mutex(0)
        let reader = Task { () -> Int in
            for await event in events {
                if case .samples(let new) = event { seen.withLock { $0 += new.count } }
            }
            return seen.withLock { $0 }
        }
        emulator.push(stroke(from: 0, count: 40))
        #expect(await eventually { session.snapshot.samples.count == 40 })
        // The iterating task had every sample before it was cancelled: the stream delivered, then the cancel ended it.
        #expect(await eventually { seen.withLock { $0 } == 40 }, "the reader got the stroke's 40 samples")
        reader.cancel()
        #expect(await reader.value == 40, "nothing more after the cancel")
        #expect(await eventually { session.snapshot.state == .cancelled }, "cancelling the iterating task cancelled the session")
        #expect(await eventually { emulator.sentCommands.last == STU.Command.clearScreen }, "inking off and the screen cleared")
    }

    @Test func theSignatureExampleWritesTheFourFiles() async throws {
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "stuexample", emulator: emulator)
        defer { pad.remove() }
        _ = await eventually { (try? SignaturePadDrivers.candidates().isEmpty == false) ?? false }
        let directory = try TemporaryDirectory("sign-example")
        let feeder = Thread {
            let deadline = Date().addingTimeInterval(30)
            while !emulator.sentCommands.contains(STU.Command.inking(true)) && Date() < deadline { usleep(10_000) }
            emulator.push(stroke(from: 0, count: 120))
        }
        feeder.start()
        let example = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent().appendingPathComponent("sign-to-files").path
        let run = try await runCommandAsync([example, directory.url.path])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("finished with 120 samples"), "\(run.output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.url.path).filter { !$0.hasPrefix(".") }
        #expect(Set(files.map { ($0 as NSString).pathExtension }) == ["png", "svg", "bin", "json"], "\(files)")
    }
}
