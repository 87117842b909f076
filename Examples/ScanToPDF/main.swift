// Scans two pages from the document feeder into one colour PDF and prints where it is.
//
//   scan-to-pdf [DEVICE] [OUTPUT-DIRECTORY]
//
// This program is its own scan worker (libsane runs in a child process of it), so it needs no
// `counterkit` binary. Try it with SANE's test scanner: `scan-to-pdf test:0 /tmp/scans`.
import Attachments
import Foundation
import Scanning

ScanWorker.runIfRequested()

let arguments = CommandLine.arguments.dropFirst()
let device = arguments.first
let output = URL(fileURLWithPath: arguments.dropFirst().first ?? FileManager.default.currentDirectoryPath)

do {
    let store = try AttachmentStore(directory: output.appendingPathComponent(".spool"), retention: .keepAll)
    let scanner = SANEScanner(store: store, worker: .currentProcess)
    let request = ScanRequest(device: device, source: .adf, mode: .color, resolution: 150, paper: .a4, format: .pdf, maxPages: 2)
    for try await update in scanner.updates(request) {
        switch update {
        case .progress(let progress):
            let percent = progress.fraction.map { " \(Int($0 * 100))%" } ?? ""
            print("page \(progress.page)\(percent)")
        case .completed(let result):
            let pdf = result.attachments[0]
            let destination = output.appendingPathComponent("scan.pdf")
            try? FileManager.default.removeItem(at: destination)
            try FileManager.default.copyItem(at: try store.fileURL(id: pdf.id), to: destination)
            print("\(destination.path): \(result.pages) pages, \(pdf.byteCount) bytes, sha256 \(pdf.sha256)")
        }
    }
} catch let error as CounterKitError {
    print("scan failed: \(error.codeName): \(error.message)")
    exit(1)
}
