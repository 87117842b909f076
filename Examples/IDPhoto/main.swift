// Takes an ID photo: a 1280x720 JPEG (or the camera's nearest size) after the exposure settles.
//
//   id-photo [DEVICE] [OUTPUT-DIRECTORY]        (DEVICE: /dev/video0, or the camera's id)
import Attachments
import Cameras
import Foundation

let arguments = CommandLine.arguments.dropFirst()
let device = arguments.first
let output = URL(fileURLWithPath: arguments.dropFirst().first ?? FileManager.default.currentDirectoryPath)

do {
    let store = try AttachmentStore(directory: output.appendingPathComponent(".spool"), retention: .keepAll)
    let request = PhotoRequest(device: device, size: FrameSize(width: 1280, height: 720), skipFrames: 10, format: .jpeg, quality: 90)
    for try await update in PhotoCamera(store: store).updates(request) {
        switch update {
        case .progress(let progress):
            print(progress.stage ?? "", progress.framesReceived ?? 0)
        case .completed(let photo):
            let destination = output.appendingPathComponent("photo.jpg")
            try? FileManager.default.removeItem(at: destination)
            try FileManager.default.copyItem(at: try store.fileURL(id: photo.attachment.id), to: destination)
            print("\(destination.path): \(photo.attachment.pixelWidth ?? 0)x\(photo.attachment.pixelHeight ?? 0)")
        }
    }
} catch let error as CounterKitError {
    print("photo failed: \(error.codeName): \(error.message)")
    exit(1)
}
