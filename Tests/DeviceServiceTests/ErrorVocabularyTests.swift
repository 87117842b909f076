import Attachments
import Cameras
import CounterKitTestSupport
import DocumentImaging
import Foundation
import HTTPTypes
import Hummingbird
import Scanning
import SignaturePads
import Testing

@testable import DeviceService

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

    @Test func everyFamilyErrorCarriesACodeOfTheVocabularyAndItsFamilyThroughTheAPI() throws {
        // Each family's errors, raised where they are (a scan of a missing file, a pad report cut short, an unknown
        // attachment, a JPEG that is not one): one type, told apart by family, answered by the API with their code.
        var raised: [CounterKitError] = []
        do throws(ScanError) { _ = try ScanRequest(device: "test:0", resolution: 0).validate() } catch { raised.append(error) }
        do throws(SignaturePadError) { _ = try ISO19794Signature.decode([0x53, 0x44]) } catch { raised.append(error) }
        let store = try AttachmentStore(directory: try TemporaryDirectory("ck-vocabulary").url)
        do throws(AttachmentError) { _ = try store.manifest(id: "nope") } catch { raised.append(error) }
        do throws(DocumentImagingError) { _ = try DocumentImage.decodeJPEG([0xFF, 0xD8]) } catch { raised.append(error) }
        #expect(raised.map(\.family) == [.scanning, .signaturePads, .attachments, .documentImaging])
        for error in raised {
            #expect(error.status == error.code.httpStatus)
            #expect(ErrorCode(rawValue: error.codeName) == error.code)
            // The API's body is the code and message; read back, it is the same error as reported.
            let body = try JSONDecoder().decode([String: CounterKitError].self, from: APIError.body(code: error.code, message: error.message))
            #expect(body["error"]?.code == error.code && body["error"]?.message == error.message && body["error"]?.family == .reported)
        }
    }

    @Test func aCaptureIntoAFullStoreIsStoreFullNotAttachmentFailed() {
        let full = CounterKitError(.storeFull, "the store is full", family: .attachments)
        #expect(full.whileStoring().code == .storeFull && full.whileStoring().status.code == 507)
        let disk = CounterKitError(.ioError, "EIO", family: .attachments)
        #expect(ScanError(.jammed, "jam", family: .scanning).whileStoring().code == .jammed, "another family's failure is itself")
        #expect(disk.whileStoring().code == .attachmentFailed && disk.whileStoring().message == "io_error: EIO")
    }

}
