import Cameras
import DeviceHub
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A camera preview as `multipart/x-mixed-replace`: one `image/jpeg` part per frame, with its `Content-Length`, so an
/// curl can save it, and `<img src>` shows it live where no token is needed (over the loopback bridge an `<img>` cannot
/// send the token; the JavaScript client's `preview()` draws it into a canvas). The response ends when the viewer goes or the stream ends.
enum PreviewResponse {
    static let boundary = "counterkit-preview-frame"

    /// The preview request in a `GET …/preview?size=WxH&fps=N&quality=Q`.
    static func request(_ request: Request, device: String) throws(APIError) -> PreviewRequest {
        var preview = PreviewRequest(device: device)
        let query = request.uri.queryParameters
        if let size = query["size"] {
            guard let parsed = FrameSize(parsing: String(size)) else { throw APIError(.invalidValue, "?size must be WIDTHxHEIGHT, got '\(size)'") }
            preview.size = parsed
        }
        if let fps = query["fps"] {
            guard let rate = Double(String(fps)), rate.isFinite else { throw APIError(.invalidValue, "?fps must be a number, got '\(fps)'") }
            preview.framesPerSecond = rate
        }
        if let quality = query["quality"] {
            guard let value = Int(String(quality)) else { throw APIError(.invalidValue, "?quality must be an integer, got '\(quality)'") }
            preview.quality = value
        }
        try preview.validate()
        return preview
    }

    /// The response streaming `frames` (the stream's size and pixel format in headers).
    static func response(_ frames: AsyncThrowingStream<PreviewFrame, any Error>, size: FrameSize, pixelFormat: FourCC) -> Response {
        var headers: HTTPFields = [.contentType: "multipart/x-mixed-replace; boundary=\(boundary)", .cacheControl: "no-store"]
        headers[HTTPField.Name("X-Preview-Size")!] = size.description
        headers[HTTPField.Name("X-Preview-Pixel-Format")!] = pixelFormat.name
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                do {
                    for try await frame in frames {
                        var part = ByteBuffer()
                        part.writeString(
                            "--\(boundary)\r\nContent-Type: image/jpeg\r\nContent-Length: \(frame.jpeg.count)\r\n"
                                + "X-Frame-Size: \(frame.width)x\(frame.height)\r\nX-Frame-Sequence: \(frame.sequence)\r\n"
                                + "X-Frame-Passthrough: \(frame.passthrough)\r\n\r\n")
                        part.writeBytes(frame.jpeg)
                        part.writeString("\r\n")
                        try await writer.write(part)
                    }
                } catch {
                    // The camera went away or failed, or the viewer left: the stream simply ends.
                }
                try await writer.finish(nil)
            })
    }
}
