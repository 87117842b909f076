import NIOCore

/// The API's request-body decoding on its own, for the fuzz targets: whatever the bytes, each body type
/// decodes or fails with a client error (4xx), never anything else.
package enum RequestBodyDecoding {
    /// Decodes `bytes` as each request body (scan, photo, signature); the HTTP status of each failure, nil for a success.
    package static func statuses(_ bytes: [UInt8]) -> [Int?] {
        let buffer = ByteBuffer(bytes: bytes)
        func status(_ decode: () throws(APIError) -> Void) -> Int? {
            do { try decode(); return nil } catch { return Int(error.status.code) }
        }
        return [
            status { () throws(APIError) in _ = try StrictJSON.decode(ScanJobRequest.self, from: buffer).scanRequest() },
            status { () throws(APIError) in _ = try StrictJSON.decode(PhotoJobRequest.self, from: buffer).photoRequest() },
            status { () throws(APIError) in _ = try StrictJSON.decode(SignatureJobRequest.self, from: buffer).validated() },
        ]
    }
}
