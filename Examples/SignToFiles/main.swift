// Captures a signature on the first signature pad and writes it as PNG, SVG, ISO/IEC 19794-7 and JSON.
//
//   sign-to-files [OUTPUT-DIRECTORY]
//
// The session finishes two seconds after the pen last touched the pad (or after a minute).
import Attachments
import Foundation
import SignaturePads
import Synchronization

let output = URL(fileURLWithPath: CommandLine.arguments.dropFirst().first ?? FileManager.default.currentDirectoryPath)

do {
    let store = try AttachmentStore(directory: output.appendingPathComponent(".spool"), retention: .keepAll)
    let (session, events) = try SignatureSession.start(prompt: "Please sign", timeout: .seconds(60))
    print("sign on the \(session.pad.model) now")

    // A watcher ends the session once the pen has been off the pad for two seconds.
    let lastInk = Mutex<ContinuousClock.Instant?>(nil)
    let watcher = Task {
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(100))
            if let last = lastInk.withLock({ $0 }), ContinuousClock.now - last > .seconds(2) {
                _ = try? session.finish()
                return
            }
        }
    }
    var samples = 0
    for await event in events {
        switch event {
        case .samples(let new):
            samples += new.count
            if new.contains(where: \.touching) { lastInk.withLock { $0 = .now } }
        case .cleared:
            samples = 0
        case .ended(let state, _):
            print("\(state.rawValue) with \(samples) samples")
        }
    }
    watcher.cancel()
    let signature = try session.finish()  // the signature of the ended session (or its error)
    for manifest in try SignatureOutputs(store: store).save(signature) {
        let destination = output.appendingPathComponent(manifest.fileName)
        try? FileManager.default.removeItem(at: destination)
        try FileManager.default.copyItem(at: try store.fileURL(id: manifest.id), to: destination)
        print(destination.path)
    }
} catch let error as CounterKitError {
    print("signature failed: \(error.codeName): \(error.message)")
    exit(1)
}
