import Attachments
import CounterKitTestSupport
@testable import DeviceService
import Foundation
import SignaturePads
import Testing

/// `/v1/signatures` on a real service against an emulated STU-530 on the guest's USB stack (FunctionFS gadget).
@Suite(.serialized, .enabled(if: insideTestVM, "runs in the test VM (scripts/vm-run)"))
struct SignatureServiceInGuestTests {
    /// Pen reports with time count and sequence, 5 ms apart; the last one lifts the pen.
    func stroke(_ count: Int, from start: Int = 0) -> [STU.PenData] {
        (start..<start + count).map { index in
            STU.PenData(ready: true, switches: index == start + count - 1 ? 0 : 1, pressure: 600, x: UInt16(1000 + index * 15),
                        y: UInt16(2500 + (index % 40) * 12), timeCount: UInt16(index * 5), sequence: UInt16(index))
        }
    }

    func waitForPad(_ service: RunningService) async throws -> DeviceSummary {
        for _ in 0..<100 {
            let devices = try await service.get("/v1/devices?refresh=true").decode(DeviceList.self).devices
            if let pad = devices.first(where: { $0.kind == .signaturePad }) { return pad }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestVMError(message: "the pad never appeared in /v1/devices")
    }

    @Test func aSessionStreamsPointsClearsAndFinishesIntoFourAttachments() async throws {
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "stusvc", emulator: emulator)
        defer { pad.remove() }
        let service = try await RunningService.start()
        let listed = try await waitForPad(service)
        #expect(listed.model == "STU-530" && listed.type == "signature pad (Wacom STU)" && !listed.busy)

        let created = try await service.post("/v1/signatures", #"{"prompt":"Please sign","timeout":60}"#)
        #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
        let session = try created.decode(SignatureSessionSnapshot.self)
        #expect(session.state == .capturing && session.pad.driver == "stu" && session.device == listed.id)
        #expect(emulator.shownImage?.data.count == 800 * 480 / 8, "the prompt went to the screen over SET_REPORT as a 1-bit image")
        #expect(try await service.get("/v1/devices").decode(DeviceList.self).devices.first { $0.id == listed.id }?.busy == true)
        let second = try await service.post("/v1/signatures", #"{"device":"\#(listed.id)"}"#)
        #expect(second.status == 409 && second.error?.code == "device_busy")

        // A subscriber sees the points as they come (the pen starts once it has the state); then the ink
        // is cleared and signed again.
        var pointsSeen = 0, names: [String] = []
        try await service.client.events("/v1/signatures/\(session.id)/events") { event in
            names.append(event.name)
            if event.name == "state" { emulator.push(self.stroke(50)) }
            if event.name == "points" {
                struct Points: Decodable { var points: [[Double]] }
                pointsSeen += try JSONDecoder().decode(Points.self, from: Data(event.data.utf8)).points.count
            }
            return pointsSeen < 50
        }
        #expect(names.first == "state" && pointsSeen == 50)
        let cleared = try await service.post("/v1/signatures/\(session.id)/clear", "").decode(SignatureSessionSnapshot.self)
        #expect(cleared.samples == 0)
        emulator.push(stroke(120, from: 50))
        for _ in 0..<100 where try await service.get("/v1/signatures/\(session.id)").decode(SignatureSessionSnapshot.self).samples < 120 {
            try await Task.sleep(for: .milliseconds(50))
        }
        let finished = try await service.post("/v1/signatures/\(session.id)/finish", "")
        #expect(finished.status == 200, "\(String(decoding: finished.body, as: UTF8.self))")
        let done = try finished.decode(SignatureSessionSnapshot.self)
        #expect(done.state == .finished && done.samples == 120 && done.lostReports == 0)
        #expect(done.attachments.map(\.format) == [.png, .svg, .iso19794, .json])
        let png = try await service.get("/v1/attachments/\(done.attachments[0].id)")
        #expect(png.status == 200 && png.headers.first(name: "Content-Type") == "image/png")
        #expect(try await service.delete("/v1/signatures/\(session.id)").error?.code == "session_finished")
        #expect(emulator.sentCommands.last == STU.Command.clearScreen)
        try await service.stop()
    }

    @Test func anUnplugFailsTheSessionKeepingItsSamplesAndAReplugNeedsNoRestart() async throws {
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "stusvc2", emulator: emulator)
        defer { pad.remove() }
        let service = try await RunningService.start()
        _ = try await waitForPad(service)
        let session = try await service.post("/v1/signatures", "{}").decode(SignatureSessionSnapshot.self)
        emulator.push(stroke(30))
        for _ in 0..<100 where try await service.get("/v1/signatures/\(session.id)").decode(SignatureSessionSnapshot.self).samples < 30 {
            try await Task.sleep(for: .milliseconds(50))
        }
        try pad.unplug()
        var failed = try await service.get("/v1/signatures/\(session.id)?samples=true").decode(SignatureSessionSnapshot.self)
        for _ in 0..<100 where failed.state == .capturing {
            try await Task.sleep(for: .milliseconds(50))
            failed = try await service.get("/v1/signatures/\(session.id)?samples=true").decode(SignatureSessionSnapshot.self)
        }
        #expect(failed.state == .failed && failed.error?.code == "device_disconnected")
        #expect(failed.sampleData?.count == 30, "the failed session keeps its samples")
        let finish = try await service.post("/v1/signatures/\(session.id)/finish", "")
        #expect(finish.status == 409 && finish.error?.code == "device_disconnected")

        // The hotplug monitor takes the pad off the list and puts it back, with no ?refresh.
        var listedWhileUnplugged = true
        for _ in 0..<100 where listedWhileUnplugged {
            listedWhileUnplugged = try await service.get("/v1/devices").decode(DeviceList.self).devices.contains { $0.kind == .signaturePad }
            if listedWhileUnplugged { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(!listedWhileUnplugged, "the unplugged pad left /v1/devices")
        try pad.plug()
        var listedAgain = false
        for _ in 0..<100 where !listedAgain {
            listedAgain = try await service.get("/v1/devices").decode(DeviceList.self).devices.contains { $0.kind == .signaturePad }
            if !listedAgain { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(listedAgain, "the replugged pad is back in /v1/devices")
        var again: ServiceClient.Reply?
        for _ in 0..<100 {
            again = try await service.post("/v1/signatures", "{}")
            if again?.status == 201 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(again?.status == 201, "the replugged pad works without restarting the service")
        let next = try #require(try again?.decode(SignatureSessionSnapshot.self))
        emulator.push(stroke(10))
        for _ in 0..<100 where try await service.get("/v1/signatures/\(next.id)").decode(SignatureSessionSnapshot.self).samples < 10 {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await service.post("/v1/signatures/\(next.id)/finish", "").decode(SignatureSessionSnapshot.self).attachments.count == 4)
        try await service.stop()
    }
}
