import Attachments
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Attachment bytes: Content-Type from the manifest, ETag = SHA-256, conditional GET and single byte ranges.
enum AttachmentResponses {
    /// An attachment's envelope with S/MIME's media type (RFC 8551): CMS AuthEnvelopedData (RFC 5083) for AES-GCM,
    /// GM/T 0010 EnvelopedData for an SM2 recipient's SM4-CBC.
    static func envelope(_ manifest: AttachmentManifest, path: String, context: ServiceRequestContext) async throws -> Response {
        let size = manifest.sealed?.byteCount ?? 0
        let type = manifest.sealed?.encryption == "aes-256-gcm" ? "authEnveloped-data" : "enveloped-data"
        let headers: HTTPFields = [
            .contentType: "application/pkcs7-mime; smime-type=\(type)",
            .contentLength: String(size),
            .eTag: "\"\(manifest.sealed?.sha256 ?? "")\"",
            .contentDisposition: "attachment; filename=\"\(manifest.id).p7m\"",
        ]
        return Response(status: .ok, headers: headers, body: try await FileIO().loadFile(path: path, context: context))
    }

    /// A stored JSON file's exact bytes (a manifest, a signature record).
    static func json(_ bytes: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func file(
        _ manifest: AttachmentManifest, store: AttachmentStore, request: Request,
        context: ServiceRequestContext
    ) async throws -> Response {
        let etag = "\"\(manifest.sha256)\""
        var headers: HTTPFields = [
            .contentType: manifest.mediaType,
            .eTag: etag,
            .acceptRanges: "bytes",
            .contentDisposition: "inline; filename=\"\(manifest.fileName)\"",
        ]
        if let match = request.headers[.ifNoneMatch],
            match == "*"
                || match.split(separator: ",").contains(where: {
                    $0.trimmingCharacters(in: .whitespaces) == etag
                })
        {
            return Response(status: .notModified, headers: headers)
        }
        let path: String
        path = try store.fileURL(id: manifest.id).path
        let size = manifest.byteCount
        let fileIO = FileIO()
        if let rangeHeader = request.headers[.range], request.headers[.ifRange].map({ $0 == etag }) ?? true {
            switch ByteRange.parse(rangeHeader, size: size) {
            case .satisfiable(let range):
                headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
                headers[.contentLength] = String(range.count)
                let body = try await fileIO.loadFile(path: path, range: range, context: context)
                return Response(status: .partialContent, headers: headers, body: body)
            case .unsatisfiable:
                headers[.contentRange] = "bytes */\(size)"
                headers[.contentType] = "application/json"
                headers[.contentDisposition] = nil  // an error body is never offered as the attachment's file
                return Response(
                    status: .rangeNotSatisfiable, headers: headers,
                    body: .init(
                        byteBuffer: ByteBuffer(
                            bytes:
                                APIError.body(code: .rangeNotSatisfiable, message: "the attachment has \(size) bytes"))))
            case .ignored:
                break
            }
        }
        headers[.contentLength] = String(size)
        let body = size == 0 ? ResponseBody() : try await fileIO.loadFile(path: path, context: context)
        return Response(status: .ok, headers: headers, body: body)
    }
}

/// One `Range: bytes=…` request (RFC 9110 §14.1.2); several ranges are served as the whole file.
enum ByteRange: Equatable {
    case satisfiable(ClosedRange<Int>)
    case unsatisfiable
    /// Not a single bytes range: answer with the whole representation.
    case ignored

    static func parse(_ header: String, size: Int) -> ByteRange {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes="), !text.contains(",") else { return .ignored }
        let spec = text.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard let dash = spec.firstIndex(of: "-") else { return .ignored }
        let first = spec[..<dash], last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            guard let suffix = Int(last), suffix >= 0 else { return .ignored }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .satisfiable(max(0, size - suffix)...(size - 1))
        }
        guard let start = Int(first), start >= 0 else { return .ignored }
        var end = size - 1
        if !last.isEmpty {
            guard let value = Int(last), value >= start else { return .ignored }
            end = min(value, size - 1)
        }
        guard start < size else { return .unsatisfiable }
        return .satisfiable(start...end)
    }
}
