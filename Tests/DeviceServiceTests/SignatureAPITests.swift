import CounterKitTestSupport
import Foundation
import SignaturePads
import Testing

@testable import DeviceService

@Suite("/v1/signatures: request checks (no pad needed)")
struct SignatureAPITests {
    @Test("bad requests are refused with stable codes; unknown sessions are 404")
    func requestErrors() async throws {
        let service = try await RunningService.start()
        for (body, code) in [
            (#"{"timeout":0}"#, "invalid_value"), (#"{"timeout":"soon"}"#, "invalid_type"), (#"{"device":""}"#, "invalid_value"),
            (#"{"pen":"blue"}"#, "unknown_field"), ("[", "invalid_json"),
        ] {
            let reply = try await service.post("/v1/signatures", body)
            #expect(reply.status == 400 && reply.error?.code == code, "\(body): \(String(decoding: reply.body, as: UTF8.self))")
        }
        for path in ["/v1/signatures/nope", "/v1/signatures/nope/events"] {
            let reply = try await service.get(path)
            #expect(reply.status == 404 && reply.error?.code == "session_not_found")
        }
        #expect(try await service.post("/v1/signatures/nope/finish", "").error?.code == "session_not_found")
        #expect(try await service.delete("/v1/signatures/nope").error?.code == "session_not_found")
        let unknownPad = try await service.post("/v1/signatures", #"{"device":"usb:9-9:0"}"#)
        #expect(unknownPad.status == 404 && unknownPad.error?.code == "device_not_found")
        try await service.stop()
    }
}
