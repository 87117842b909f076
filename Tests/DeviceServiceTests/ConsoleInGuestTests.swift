import Attachments
import CounterKitTestSupport
import Foundation
import SignaturePads
import Testing

@testable import Cameras
@testable import DeviceService

/// The device console's camera preview and live signature ink, against the kernel's vivid camera and an emulated
/// STU-530 pad in the test VM, driven by headless Chromium on the host (`clients/js/test/console_vm_test.py`, which
/// `VMHarnessTests` runs beside the guest). The host reaches this guest's service through `scripts/vm-run --forward`
/// and `scripts/guest-bridge-relay`; the relay hands the host the console's token and brings back its verdict.
@Suite(
    .serialized,
    .enabled(
        if: insideTestVM && ProcessInfo.processInfo.environment["COUNTERKIT_CONSOLE_PORT"] != nil,
        "runs in the test VM, with the host's browser test beside it (VMHarnessTests)"))
struct ConsoleInGuestTests {
    /// Pen reports 5 ms apart along a wave; the last one lifts the pen.
    func stroke(_ count: Int, from start: Int) -> [STU.PenData] {
        (start..<start + count).map { index in
            let wave = Int(900 * sin(Double(index) / 6))
            return STU.PenData(
                ready: true, switches: index == start + count - 1 ? 0 : 1, pressure: 700,
                x: UInt16(800 + (index - start) * 40), y: UInt16(2000 + wave),
                timeCount: UInt16(truncatingIfNeeded: index * 5), sequence: UInt16(truncatingIfNeeded: index))
        }
    }

    @Test func theHostsChromiumShowsThePreviewTakesAPhotoAndMirrorsTheInk() async throws {
        let environment = ProcessInfo.processInfo.environment
        let port = try #require(environment["COUNTERKIT_CONSOLE_PORT"].flatMap(Int.init))
        let control = try #require(environment["COUNTERKIT_CONSOLE_CONTROL_PORT"].flatMap(Int.init))
        try VividModule.load()
        let camera = try V4L2Device(path: VividModule.capturePath)
        for (name, value) in [("osd_text_mode", Int64(2)), ("test_pattern", 0)] {
            if let found = camera.controls().first(where: { $0.name == name }) { try? camera.setControl(found, to: value) }
        }
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "stuconsole", emulator: emulator)
        defer { pad.remove() }
        let service = try await RunningService.start(tcp: true, tcpPort: port, bridge: BridgeConfiguration(console: true))
        // Both devices listed before the browser comes.
        #expect(
            try await eventually(every: .milliseconds(200)) {
                let kinds = try await service.get("/v1/devices?refresh=true").decode(DeviceList.self).devices.map(\.kind)
                return kinds.contains(.camera) && kinds.contains(.signaturePad)
            }, "vivid and the pad are listed")
        let token = try await service.pair("http://127.0.0.1:\(port)")

        // The pen: once the console's session is open (the pad is busy), strokes arrive in batches, as a hand signs.
        let pen = Task {
            while !Task.isCancelled {
                let busy = try await service.get("/v1/devices").decode(DeviceList.self).devices.first { $0.kind == .signaturePad }?.busy
                if busy == true { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            try await Task.sleep(for: .seconds(2))
            for batch in 0..<6 {
                emulator.push(stroke(40, from: batch * 40))
                try await Task.sleep(for: .milliseconds(400))
            }
        }
        defer { pen.cancel() }
        let relay = repositoryRoot().appendingPathComponent("scripts/guest-bridge-relay").path
        let run = try await runCommandAsync(["/usr/bin/python3", relay, "\(port)", "\(control)", token, "900"])
        let verdict = run.output.split(separator: "\n").last { $0.hasPrefix("verdict: ") } ?? "no verdict"
        #expect(run.status == 0 && verdict == "verdict: ok", "the host's browser test: \(run.output)")

        // What the console did is in the service: a photo from vivid's colour bars, and a finished signature.
        struct Attachments: Decodable { var attachments: [AttachmentManifest] }
        let stored = try await service.get("/v1/attachments").decode(Attachments.self).attachments
        let photo = try #require(stored.first { $0.kind == .photo }, "the console's capture was stored: \(stored.map(\.kind))")
        let jpeg = try DecodedImage.jpeg(try await service.get("/v1/attachments/\(photo.id)").body)
        let row = jpeg.height / 2
        let bars = Set(
            stride(from: jpeg.width / 16, to: jpeg.width, by: jpeg.width / 8).compactMap { x in
                colourBars75.firstIndex { close(jpeg.pixels[(row * jpeg.width + x) * 3..<(row * jpeg.width + x) * 3 + 3], $0, tolerance: 40) }
            })
        #expect(bars.count >= 6, "the photo shows vivid's colour bars: \(bars.sorted())")
        let signature = stored.filter { $0.kind == .signature }
        #expect(
            signature.contains { $0.format == .png } && signature.contains { $0.format == .iso19794 },
            "the console's signature was finished into its attachments: \(signature.map(\.format))")
        try await service.stop()
    }
}
