import CounterKit
import Foundation
import Testing

@Suite struct UmbrellaTests {
    @Test func oneImportReachesEveryFamily() throws {
        let scan = ScanRequest(paper: .id1, format: .pdf)
        let photo = PhotoRequest(size: FrameSize(width: 1280, height: 720), format: .png)
        let sample = PenSample(time: 0, x: 1, y: 2, pressure: 0.5, inRange: true, touching: true)
        #expect(scan.paper == .id1 && photo.format == .png && sample.touching)
        #expect(AttachmentFormat.iso19794.mediaType == "application/octet-stream")
        #expect(STU.model(vendorID: STU.vendorID, productID: 0xA5)?.name == "STU-530")
    }
}
