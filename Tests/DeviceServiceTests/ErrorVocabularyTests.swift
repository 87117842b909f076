import Attachments
import Cameras
import CounterKitTestSupport
@testable import DeviceService
import Foundation
import HTTPTypes
import Hummingbird
import Scanning
import SignaturePads
import Testing

/// One vocabulary of codes, one table of HTTP statuses, used by every route and written in the API contract.
@Suite struct ErrorVocabularyTests {
    private func contract() throws -> [String: Any] {
        let data = try Data(contentsOf: repositoryRoot().appendingPathComponent("api/openapi.json"))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        return try #require(schemas["ErrorCode"] as? [String: Any])
    }

    @Test func everyCodeHasOneStatusAndTheContractStatesTheSameTable() throws {
        let schema = try contract()
        let documented = try #require(schema["enum"] as? [String])
        let statuses = try #require(schema["x-http-status"] as? [String: Int])
        #expect(documented == ErrorCode.allCases.map(\.rawValue), "the contract's codes are ErrorCode's, in order")
        for code in ErrorCode.allCases {
            #expect(statuses[code.rawValue] == code.httpStatus.code, "\(code): contract \(statuses[code.rawValue] ?? 0), table \(code.httpStatus.code)")
            #expect((400...599).contains(code.httpStatus.code), "\(code) is an error status")
            #expect(APIError(code, "x").status == code.httpStatus)
        }
        #expect(Set(statuses.keys) == Set(ErrorCode.allCases.map(\.rawValue)))
    }

    @Test func theStatusesThatCallersRelyOn() {
        let expected: [(ErrorCode, Int)] = [
            (.invalidValue, 400), (.unknownField, 400), (.forbidden, 403), (.deviceNotFound, 404), (.jobNotFound, 404),
            (.methodNotAllowed, 405), (.deviceBusy, 409), (.deviceDisconnected, 409), (.noInk, 409), (.bodyTooLarge, 413),
            (.rangeNotSatisfiable, 416), (.queueFull, 429), (.tooManyConnections, 503), (.timeout, 504), (.storeFull, 507),
        ]
        for (code, status) in expected { #expect(code.httpStatus.code == status, "\(code)") }
    }

    @Test func everyFamilyErrorCarriesACodeOfTheVocabularyAndKeepsItThroughTheAPI() {
        let errors: [any CounterKitError] = [
            ScanError(.jammed, "paper jam"), CameraError(.corruptFrame, "bad frame"), SignaturePadError(.noInk, "no ink"),
            AttachmentError(.storeFull, "full"),
        ]
        for error in errors {
            #expect(APIError(error).code == error.code && APIError(error).message == error.message)
            #expect(ErrorCode(rawValue: error.codeName) == error.code)
        }
    }

    @Test func aCaptureIntoAFullStoreIsStoreFullNotAttachmentFailed() {
        let full = AttachmentError(.storeFull, "the store is full")
        #expect(ScanError(full).code == .storeFull && CameraError(full).code == .storeFull)
        #expect(APIError(ScanError(full)).status.code == 507)
        let disk = AttachmentError(.ioError, "EIO")
        #expect(ScanError(disk).code == .attachmentFailed && CameraError(disk).code == .attachmentFailed)
    }

}
