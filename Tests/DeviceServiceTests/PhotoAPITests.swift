import Attachments
import Cameras
import CounterKitTestSupport
import Foundation
import NIOCore
import Scanning
import Testing

@testable import DeviceService

@Suite("POST /v1/photos: request checks (no camera needed)")
struct PhotoAPITests {
    @Test("bad photo requests are refused with stable codes before any camera is touched")
    func requestErrors() async throws {
        let service = try await RunningService.start()
        let cases: [(body: String, code: String)] = [
            (#"{"size":"big"}"#, "invalid_value"),
            (#"{"size":"0x480"}"#, "invalid_value"),
            (#"{"pixelFormat":"TOOLONG"}"#, "invalid_value"),
            (#"{"quality":0}"#, "invalid_value"),
            (#"{"quality":85.5}"#, "invalid_type"),
            (#"{"skip":-1}"#, "invalid_value"),
            (#"{"settle":"long"}"#, "invalid_type"),
            (#"{"timeout":0}"#, "invalid_value"),
            (#"{"format":"gif"}"#, "invalid_value"),
            (#"{"device":""}"#, "invalid_value"),
            (#"{"controls":{"brightness":[1]}}"#, "invalid_type"),
            (#"{"colour":true}"#, "unknown_field"),
            (#"[1]"#, "invalid_json"),
        ]
        for (body, code) in cases {
            let reply = try await service.post("/v1/photos", body)
            #expect(reply.status == 400, "\(body)")
            #expect(reply.error?.code == code, "\(body): \(String(decoding: reply.body, as: UTF8.self))")
        }
        let unknown = try await service.post("/v1/photos", #"{"device":"v4l2:usb-0000:00:14.0-99"}"#)
        #expect(unknown.status == 404 && unknown.error?.code == "device_not_found")
        if CameraDiscovery().nodes().isEmpty {
            // This machine has no camera (the VM suites cover real ones): the default device is not found either.
            let none = try await service.post("/v1/photos", "{}")
            #expect(none.status == 404 && none.error?.code == "device_not_found")
            let devices = try await service.get("/v1/devices?refresh=true").decode(DeviceList.self)
            #expect(!devices.devices.contains { $0.kind == .camera })
        }
        #expect(try await service.get("/v1/jobs").decode(JobList.self).jobs.isEmpty, "no job is made for a refused request")
        try await service.stop()
    }

    @Test("the client's request bodies decode back into the same requests")
    func bodiesRoundTrip() throws {
        let photo = PhotoRequest(
            device: "v4l2:usb-1", size: FrameSize(width: 1280, height: 720), pixelFormat: FourCC("NV12"),
            skipFrames: 3, settleMilliseconds: 250, controls: ["brightness": "140", "focus": "auto"],
            format: .png, quality: 80, timeoutSeconds: 2.5)
        let photoBody = try JSONEncoder().encode(PhotoJobRequest(photo))
        #expect(try StrictJSON.decode(PhotoJobRequest.self, from: ByteBuffer(bytes: photoBody)).photoRequest() == photo)

        let scan = ScanRequest(
            device: "test:0", source: .adf, mode: .gray, resolution: 150, paper: .a5,
            area: ScanArea(x: 1, y: 2, width: 30, height: 40), options: ["depth": "8"], format: .pdf,
            quality: 70, maxPages: 2)
        let scanBody = try JSONEncoder().encode(ScanJobRequest(scan))
        #expect(try StrictJSON.decode(ScanJobRequest.self, from: ByteBuffer(bytes: scanBody)).scanRequest() == scan)
        #expect(try StrictJSON.decode(PhotoJobRequest.self, from: ByteBuffer(bytes: Data("{}".utf8))).photoRequest() == PhotoRequest())
    }
}
