import Attachments
import NIOCore

/// The API's request-body decoding on its own, for the fuzz targets: whatever the bytes, each body type
/// decodes or fails with a client error (4xx), never anything else.
package enum RequestBodyDecoding {
    /// Decodes `bytes` as each request body (scan, photo, signature); the HTTP status of each failure, nil for a success.
    package static func statuses(_ bytes: [UInt8]) -> [Int?] {
        let buffer = ByteBuffer(bytes: bytes)
        func status(_ decode: () throws -> Void) -> Int? {
            do { try decode(); return nil } catch let error as APIError { return Int(error.status.code) } catch {
                return Int(((error as? CounterKitError)?.code ?? .internal).httpStatus.code)
            }
        }
        return [
            status { _ = try StrictJSON.decode(ScanJobRequest.self, from: buffer).scanRequest() },
            status { _ = try StrictJSON.decode(PhotoJobRequest.self, from: buffer).photoRequest() },
            status { try StrictJSON.decode(SignatureJobRequest.self, from: buffer).signatureRequest().validate() },
        ]
    }
}
