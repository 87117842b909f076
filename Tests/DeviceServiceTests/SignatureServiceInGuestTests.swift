import Attachments
import CounterKitTestSupport
import DocumentImaging
import Foundation
import Sealing
import SignaturePads
import SignedDocuments
import Testing

@testable import DeviceService

/// `/v1/signatures` on a real service against an emulated STU-530 on the guest's USB stack (FunctionFS gadget).
@Suite(.serialized, .enabled(if: insideTestVM, "runs in the test VM (scripts/vm-run)"))
struct SignatureServiceInGuestTests {
    /// Pen reports with time count and sequence, 5 ms apart; the last one lifts the pen.
    func stroke(_ count: Int, from start: Int = 0) -> [STU.PenData] {
        (start..<start + count).map { index in
            STU.PenData(
                ready: true, switches: index == start + count - 1 ? 0 : 1, pressure: 600, x: UInt16(1000 + index * 15),
                y: UInt16(2500 + (index % 40) * 12), timeCount: UInt16(index * 5), sequence: UInt16(index))
        }
    }

    /// Downloads a finished session's four attachments through the API and says what is wrong with them.
    func servedOutputProblems(_ session: SignatureSessionSnapshot, _ service: RunningService, drawn count: Int) async throws -> [String] {
        var files: [AttachmentFormat: [UInt8]] = [:]
        for manifest in session.attachments {
            let reply = try await service.get("/v1/attachments/\(manifest.id)")
            if reply.status == 200 { files[manifest.format] = reply.body }
        }
        // Every stroke ends with a pen-up report, which the JSON stroke document leaves out.
        return SignatureFilesCheck(samples: count, touchingSamples: count - 1).problems(files, manifests: session.attachments)
    }

    func waitForPad(_ service: RunningService) async throws -> DeviceSummary {
        var pad: DeviceSummary?
        _ = try await eventually(every: .milliseconds(100)) {
            pad = try await service.get("/v1/devices?refresh=true").decode(DeviceList.self).devices.first { $0.kind == .signaturePad }
            return pad != nil
        }
        guard let pad else { throw TestVMError(message: "the pad never appeared in /v1/devices") }
        return pad
    }

    /// Pushes an 80-sample stroke from a thread once the pad is next told to start inking (the CLI's session began).
    func signOnceInkingStarts(_ emulator: STUEmulator) {
        let inkingBefore = emulator.sentCommands.filter { $0 == STU.Command.inking(true) }.count
        let strokes = stroke(80)
        Thread {
            let deadline = Date().addingTimeInterval(20)
            while emulator.sentCommands.filter({ $0 == STU.Command.inking(true) }).count == inkingBefore && Date() < deadline { usleep(10_000) }
            emulator.push(strokes)
        }.start()
    }

    /// The samples a session holds now.
    func samples(_ id: String, _ service: RunningService) async throws -> Int {
        try await service.get("/v1/signatures/\(id)").decode(SignatureSessionSnapshot.self).samples
    }

    @Test func aSessionStreamsPointsClearsAndFinishesIntoFourAttachments() async throws {
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "stusvc", emulator: emulator)
        defer { pad.remove() }
        // Sealed: the pad's four attachments are signed like every other capture.
        let key = try CounterKey.generate(.ed25519)
        let service = try await RunningService.start(signer: CounterSealer(key: key))
        let listed: DeviceSummary
        do { listed = try await waitForPad(service) } catch { throw pad.unansweredRequest("the first listing failed (\(error))") }
        #expect(listed.model == "STU-530" && listed.type == "signature pad (Wacom STU)" && !listed.busy)

        // The first session on a freshly plugged pad must work: no replug, no retry.
        let created = try await service.post("/v1/signatures", #"{"prompt":"Please sign","timeout":60}"#)
        guard created.status == 201 else {
            throw pad.unansweredRequest("the first session got \(created.status) (\(String(decoding: created.body, as: UTF8.self)))")
        }
        let session = try created.decode(SignatureSessionSnapshot.self)
        #expect(session.state == .capturing && session.pad.driver == "stu" && session.device == listed.id)
        // (The host's SET_REPORT returns once the gadget has read it; the emulator records it just after.)
        #expect(
            await eventually(within: .seconds(5)) { emulator.shownImage?.data.count == 800 * 480 / 8 },
            "the prompt went to the screen over SET_REPORT as a 1-bit image")
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
        #expect(try await eventually { try await samples(session.id, service) >= 120 }, "120 samples arrive")
        let finished = try await service.post("/v1/signatures/\(session.id)/finish", "")
        #expect(finished.status == 200, "\(String(decoding: finished.body, as: UTF8.self))")
        let done = try finished.decode(SignatureSessionSnapshot.self)
        #expect(done.state == .finished && done.samples == 120 && done.lostReports == 0)
        #expect(done.attachments.map(\.format) == [.png, .svg, .iso19794, .json])
        let png = try await service.get("/v1/attachments/\(done.attachments[0].id)")
        #expect(png.status == 200 && png.headers.first(name: "Content-Type") == "image/png")
        let problems = try await servedOutputProblems(done, service, drawn: 120)
        #expect(problems.isEmpty, "\(problems)")
        let sealProblems = try await service.sealProblems(done.attachments.map(\.id), key: key)
        #expect(sealProblems.isEmpty && done.attachments.allSatisfy { $0.keyId == key.keyID }, "\(sealProblems)")
        #expect(try await service.delete("/v1/signatures/\(session.id)").error?.code == "session_finished")
        #expect(await eventually(within: .seconds(5)) { emulator.sentCommands.last == STU.Command.clearScreen })
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
        #expect(try await eventually { try await samples(session.id, service) >= 30 }, "30 samples arrive")
        try pad.unplug()
        var failed = try await service.get("/v1/signatures/\(session.id)?samples=true").decode(SignatureSessionSnapshot.self)
        _ = try await eventually {
            failed = try await service.get("/v1/signatures/\(session.id)?samples=true").decode(SignatureSessionSnapshot.self)
            return failed.state != .capturing
        }
        #expect(failed.state == .failed && failed.error?.code == .deviceDisconnected)
        #expect(failed.sampleData?.count == 30, "the failed session keeps its samples")
        let finish = try await service.post("/v1/signatures/\(session.id)/finish", "")
        #expect(finish.status == 409 && finish.error?.code == "session_finished" && finish.error?.message.contains("device_disconnected") == true)

        // The hotplug monitor takes the pad off the list and puts it back, with no ?refresh.
        func padListed() async throws -> Bool {
            try await service.get("/v1/devices").decode(DeviceList.self).devices.contains { $0.kind == .signaturePad }
        }
        #expect(try await eventually(every: .milliseconds(100)) { try await !padListed() }, "the unplugged pad left /v1/devices")
        try pad.plug()
        #expect(try await eventually(every: .milliseconds(100)) { try await padListed() }, "the replugged pad is back in /v1/devices")
        var again: ServiceClient.Reply?
        _ = try await eventually(every: .milliseconds(100)) {
            again = try await service.post("/v1/signatures", "{}")
            return again?.status == 201
        }
        #expect(again?.status == 201, "the replugged pad works without restarting the service")
        let next = try #require(try again?.decode(SignatureSessionSnapshot.self))
        emulator.push(stroke(10))
        #expect(try await eventually { try await samples(next.id, service) >= 10 }, "10 samples arrive after the replug")
        let nextDone = try await service.post("/v1/signatures/\(next.id)/finish", "").decode(SignatureSessionSnapshot.self)
        #expect(nextDone.attachments.count == 4)
        let problems = try await servedOutputProblems(nextDone, service, drawn: 10)
        #expect(problems.isEmpty, "\(problems)")
        try await service.stop()
    }

    @Test func finishingWithNoInkIsRefusedAndATimeoutStoresWhatWasSigned() async throws {
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "stusvc3", emulator: emulator)
        defer { pad.remove() }
        let service = try await RunningService.start()
        _ = try await waitForPad(service)

        // No ink yet: finishing is refused and the session goes on capturing.
        let session = try await service.post("/v1/signatures", #"{"timeout":4}"#).decode(SignatureSessionSnapshot.self)
        let early = try await service.post("/v1/signatures/\(session.id)/finish", "")
        #expect(early.status == 409 && early.error?.code == "no_ink", "\(String(decoding: early.body, as: UTF8.self))")
        #expect(try await service.get("/v1/signatures/\(session.id)").decode(SignatureSessionSnapshot.self).state == .capturing)

        // Ink, then nobody presses finish: the timeout finishes the session and stores the four attachments.
        emulator.push(stroke(40))
        var ended = session
        #expect(
            try await eventually {
                ended = try await service.get("/v1/signatures/\(session.id)").decode(SignatureSessionSnapshot.self)
                return ended.state != .capturing && !ended.attachments.isEmpty
            }, "the timed-out session was stored: \(ended)")
        #expect(ended.state == .finished && ended.samples == 40 && ended.error == nil)
        #expect(ended.attachments.map(\.format) == [.png, .svg, .iso19794, .json])
        let problems = try await servedOutputProblems(ended, service, drawn: 40)
        #expect(problems.isEmpty, "\(problems)")
        // Finishing it now gives the same stored session.
        let late = try await service.post("/v1/signatures/\(session.id)/finish", "").decode(SignatureSessionSnapshot.self)
        #expect(late.attachments.map(\.id) == ended.attachments.map(\.id))

        // A timeout with no ink fails the session with `timeout`; nothing is stored.
        let empty = try await service.post("/v1/signatures", #"{"timeout":1}"#).decode(SignatureSessionSnapshot.self)
        var emptyEnded = empty
        #expect(
            try await eventually {
                emptyEnded = try await service.get("/v1/signatures/\(empty.id)").decode(SignatureSessionSnapshot.self)
                return emptyEnded.state != .capturing
            })
        #expect(emptyEnded.state == .failed && emptyEnded.error?.code == .timeout && emptyEnded.attachments.isEmpty, "\(emptyEnded)")
        let refused = try await service.post("/v1/signatures/\(empty.id)/finish", "")
        #expect(refused.status == 409 && refused.error?.code == "session_finished" && refused.error?.message.contains("timeout") == true)
        #expect(try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.count == 4, "only the signed session stored files")
        try await service.stop()
    }

    /// `counterkit sign` with a service running goes through it (the service holds the pad), and prints what the
    /// same command prints when it opens the pad itself; the files are the same four, read back.
    @Test func signThroughTheServiceMatchesSigningDirectly() async throws {
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "stusvc4", emulator: emulator)
        defer { pad.remove() }
        let service = try await RunningService.start()
        do { _ = try await waitForPad(service) } catch { throw pad.unansweredRequest("the first listing failed (\(error))") }
        struct Output: Decodable { var samples: Int; var strokes: Int; var lostReports: Int; var files: [String]; var attachments: [AttachmentManifest] }
        var outputs: [String: Output] = [:]
        for way in ["--socket", "--direct"] {
            signOnceInkingStarts(emulator)
            let directory = service.directory.path("out\(way)")
            let wayArguments = way == "--socket" ? ["--socket", service.socket] : ["--direct", "--spool", service.directory.path("cli-spool")]
            let run = try await runCommandAsync(
                [
                    SANETestEnvironment.counterkitExecutable, "sign", "--idle", "0.5", "--timeout", "30",
                    "--size", "600x200", "--output-dir", directory, "--json",
                ] + wayArguments)
            #expect(run.status == 0, "\(way): \(run.output)")
            let output = try AttachmentManifest.makeDecoder().decode(Output.self, from: Data(run.output.utf8))
            outputs[way] = output
            var files: [AttachmentFormat: [UInt8]] = [:]
            for (format, path) in zip([AttachmentFormat.png, .svg, .iso19794, .json], output.files) {
                files[format] = FileManager.default.contents(atPath: path).map { [UInt8]($0) }
            }
            let problems = SignatureFilesCheck(samples: 80, touchingSamples: 79, pngSize: (600, 200)).problems(files, manifests: output.attachments)
            #expect(problems.isEmpty, "\(way): \(problems)")
        }
        let through = try #require(outputs["--socket"]), direct = try #require(outputs["--direct"])
        #expect(through.samples == direct.samples && through.strokes == direct.strokes && through.lostReports == direct.lostReports)
        #expect(through.attachments.map(\.format) == direct.attachments.map(\.format))
        #expect(through.files.map { URL(fileURLWithPath: $0).lastPathComponent } == direct.files.map { URL(fileURLWithPath: $0).lastPathComponent })
        // Through the service the session and its attachments are the service's.
        let stored = try await service.get("/v1/attachments").decode(AttachmentList.self).attachments.map(\.id)
        #expect(Set(through.attachments.map(\.id)).isSubset(of: Set(stored)))
        try await service.stop()
    }

    /// The citizen signs an uploaded form, on the STU pad and on a generic HID pen: the session checks the document
    /// first, and finishing stores the four signature files and a `signed-document` PDF whose original bytes are intact,
    /// that qpdf finds sound and OpenSSL verifies over its byte range with the counter's certificate.
    @Test func aCitizenSignsAnUploadedFormOnEitherPad() async throws {
        let directory = try TemporaryDirectory("ck-guest-doc")
        let pdf = try SignedDocumentAPITests.form(in: directory)
        let key = try CounterKey.generate(.p256)
        let pem = try key.selfSignedCertificate(subject: "CN=Counter guest")
        try pem.write(toFile: directory.path("clerk.crt"), atomically: true, encoding: .utf8)
        let chain = try CounterCertificateChain.parse(pem, for: key.publicKey).certificates
        // Timestamped by a real TSA (openssl ts -reply behind HTTP, in the guest too): PAdES B-T.
        let tsa = try await offThePool { try TestTimestampAuthority(in: directory) }
        var documentSigner = DocumentSigner(key: key, certificates: chain)
        documentSigner.timestamps = try TimestampAuthority(url: tsa.url)
        let service = try await RunningService.start(signer: CounterSealer(key: key), documentSigner: documentSigner)
        let uploaded = try await runCommandAsync([
            "curl", "-s", "--unix-socket", service.socket, "-H", "Content-Type: application/pdf", "--data-binary", "@\(directory.path("form.pdf"))",
            "http://localhost/v1/attachments",
        ])
        let form = try AttachmentManifest.makeDecoder().decode(AttachmentManifest.self, from: Data(uploaded.output.utf8))
        #expect(form.kind == .upload && form.pages == 2)
        for kind in ["stu", "hid"] {
            let emulator = STUEmulator()
            let stu = kind == "stu" ? try FunctionFSPad(name: "studoc", emulator: emulator) : nil
            let hid =
                kind == "hid"
                ? try HIDGadget(
                    name: "hiddoc", vendorID: GoodixPen.vendor, productID: GoodixPen.product, product: "Form pen", reportDescriptor: try GoodixPen.descriptor())
                : nil
            defer {
                stu?.remove()
                hid?.remove()
            }
            let listed: DeviceSummary
            do { listed = try await waitForPad(service) } catch {
                if let stu { throw stu.unansweredRequest("the first listing failed (\(error))") }
                throw error
            }
            let created = try await service.post(
                "/v1/signatures",
                #"{"device":"\#(listed.id)","timeout":60,"document":{"attachment":"\#(form.id)","page":1,"rect":[100,200,70,30],"name":"张三","reason":"申请"}}"#)
            guard created.status == 201 else {
                if let stu { throw stu.unansweredRequest("the session got \(created.status) (\(String(decoding: created.body, as: UTF8.self)))") }
                Issue.record("the session got \(created.status): \(String(decoding: created.body, as: UTF8.self))")
                return
            }
            let session = try created.decode(SignatureSessionSnapshot.self)
            if let hid {
                var reports: [[UInt8]] = []
                for index in 0..<60 {
                    let x = UInt16(1500 + index * 40), y = UInt16(1500 + (index % 20) * 30)
                    reports.append(GoodixPen.report(x: x, y: y, pressure: 2000, touching: index < 59))
                }
                let pen = reports
                let sender = Thread { for report in pen { try? hid.send(report) } }
                sender.start()
            } else {
                emulator.push(stroke(60))
            }
            #expect(try await eventually { try await samples(session.id, service) >= 59 }, "\(kind): the pen's samples arrive")
            let finished = try await service.post("/v1/signatures/\(session.id)/finish", "")
            #expect(finished.status == 200, "\(kind): \(String(decoding: finished.body, as: UTF8.self))")
            let done = try finished.decode(SignatureSessionSnapshot.self)
            #expect(
                done.attachments.map(\.kind) == [.signature, .signature, .signature, .signature, .signedDocument], "\(kind): \(done.attachments.map(\.kind))")
            let signedManifest = try #require(done.attachments.last)
            #expect(signedManifest.settings["document.attachment"] == form.id && signedManifest.pages == 2)
            #expect(signedManifest.settings["document.signature"] == "PAdES-B-T", "\(signedManifest.settings)")
            let signed = try await service.get("/v1/attachments/\(signedManifest.id)").body
            #expect(signed.count > pdf.count && Array(signed.prefix(pdf.count)) == pdf, "\(kind): the form's bytes are intact")
            try Data(signed).write(to: URL(fileURLWithPath: directory.path("signed-\(kind).pdf")))
            let check = try await runCommandAsync(["qpdf", "--check", directory.path("signed-\(kind).pdf")])
            #expect(check.status == 0, "\(kind): \(check.output)")
            let verified = try await offThePool { try SignedPDFCheck.openSSLVerifies(signed, caFile: directory.path("clerk.crt"), in: directory) }
            #expect(verified.ok, "\(kind): \(verified.output)")
            let report = try DocumentVerifier.verify(signed, trusting: chain)
            #expect(report.count == 1 && report[0].timestamped && report[0].coversWholeFile && report[0].trusted == true, "\(kind): \(report)")
        }
        try await service.stop()
    }

    /// `counterkit sign --document` through the service and with --direct: the same pen strokes give two sealed PDFs
    /// that both verify, cover the whole file, keep the form's bytes, and render to the same pixels.
    @Test func signingADocumentThroughTheServiceOrDirectlyGivesTheSameResult() async throws {
        let directory = try TemporaryDirectory("ck-guest-sign-doc")
        _ = try SignedDocumentAPITests.form(in: directory)
        let key = try CounterKey.generate(.p256)
        try key.write(to: directory.path("seal.key"))
        let pem = try key.selfSignedCertificate(subject: "CN=Counter CLI")
        try pem.write(toFile: directory.path("seal.crt"), atomically: true, encoding: .utf8)
        let chain = try CounterCertificateChain.parse(pem, for: key.publicKey).certificates
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "studoccli", emulator: emulator)
        defer { pad.remove() }
        let service = try await RunningService.start(documentSigner: DocumentSigner(key: key, certificates: chain))
        do { _ = try await waitForPad(service) } catch { throw pad.unansweredRequest("the first listing failed (\(error))") }
        let form = Array(try Data(contentsOf: URL(fileURLWithPath: directory.path("form.pdf"))))
        var pages: [String: DocumentImage] = [:]
        for way in ["--socket", "--direct"] {
            signOnceInkingStarts(emulator)
            let output = directory.path("signed\(way).pdf")
            let wayArguments =
                way == "--socket" ? ["--socket", service.socket] : ["--direct", "--spool", directory.path("cli-spool"), "--key", directory.path("seal.key")]
            let run = try await runCommandAsync(
                [
                    SANETestEnvironment.counterkitExecutable, "sign", "--idle", "0.5", "--timeout", "30", "--document", directory.path("form.pdf"),
                    "--page", "2", "--rect", "100,200,70,30", "--name", "张三", "--output", output,
                ] + wayArguments)
            #expect(run.status == 0 && run.output.contains("sealed "), "\(way): \(run.output)")
            let signed = Array(try Data(contentsOf: URL(fileURLWithPath: output)))
            #expect(Array(signed.prefix(form.count)) == form, "\(way): the form's bytes are intact")
            let reports = try DocumentVerifier.verify(signed, trusting: chain)
            #expect(reports.count == 1 && reports[0].coversWholeFile && reports[0].trusted == true && reports[0].name == "张三", "\(way): \(reports)")
            let render = try await runCommandAsync(["pdftoppm", "-r", "40", "-gray", "-f", "2", "-l", "2", "-singlefile", output, directory.path("page\(way)")])
            #expect(render.status == 0, "\(render.output)")
            pages[way] = try DocumentImage.read(path: directory.path("page\(way).pgm"))
        }
        let through = try #require(pages["--socket"]), direct = try #require(pages["--direct"])
        #expect(through.width == direct.width && through.pixels == direct.pixels, "the same strokes, the same signed page")
        try await service.stop()
    }

    /// Every curl line of the README's service section against vivid and an emulated pad: the photo, the camera, the
    /// frame count and the whole signature session do what their comments say. The emulated citizen signs whenever the
    /// pad starts inking or its screen is drawn again (a clear).
    @Test func theReadmesCurlExamplesRunWithACameraAndAPad() async throws {
        try VividModule.load()
        let emulator = STUEmulator()
        let pad = try FunctionFSPad(name: "stureadme", emulator: emulator)
        defer { pad.remove() }
        let service = try await RunningService.start()
        do { _ = try await waitForPad(service) } catch { throw pad.unansweredRequest("the first listing failed (\(error))") }
        let signing = Thread {
            var answered = 0
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline && !Thread.current.isCancelled {
                // Inking starts (a new session) or the screen is drawn again (a clear): the citizen signs.
                let asked = emulator.sentCommands.filter { $0 == STU.Command.inking(true) || $0 == STU.Command.endImage(commit: true) }.count
                if asked > answered {
                    answered = asked
                    usleep(100_000)
                    emulator.push(self.stroke(60))
                }
                usleep(20_000)
            }
        }
        signing.start()
        defer { signing.cancel() }
        let result = try await runCommandAsync([
            "python3", repositoryRoot().appendingPathComponent("scripts/readme-examples").path,
            service.socket, "--require", "camera,pad",
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("readme-examples: 22 example(s) ran as the README says, 0 skipped"), "\(result.output)")
        try await service.stop()
    }
}
