import HTTPTypes
import Hummingbird
import NIOCore

/// The JavaScript client (`GET /v1/client.js`, `/v1/client.d.ts`) and, with `--ui`, the device console (`/ui/`).
struct BrowserRoutes: Sendable {
    /// Whether the console is served.
    let console: Bool

    func register(on router: Router<ServiceRequestContext>) {
        router.get("/v1/client.js") { _, _ in try Self.file("/v1/client.js") }
        router.get("/v1/client.d.ts") { _, _ in try Self.file("/v1/client.d.ts") }
        // The router takes `/ui/` for `/ui`; the page loads its script by absolute path, so either works.
        router.get("/ui") { _, _ in
            try checkConsole()
            return try Self.file("/ui/")
        }
        router.get("/ui/{file}") { _, context in
            try checkConsole()
            return try Self.file("/ui/" + parameter(context, "file"))
        }
    }

    private func checkConsole() throws(APIError) {
        guard console else { throw APIError(.notFound, "the device console is off; start the service with --listen 127.0.0.1:PORT --ui") }
    }

    static func file(_ path: String) throws(APIError) -> Response {
        guard let asset = BrowserAssets.files[path] else { throw APIError(.notFound, "no file \(path)") }
        // The console's page may load nothing from elsewhere: it works offline, and an injected script finds no way out.
        var headers: HTTPFields = [.contentType: asset.mediaType, .cacheControl: "no-cache", HTTPField.Name("X-Content-Type-Options")!: "nosniff"]
        if path.hasPrefix("/ui/") {
            headers[HTTPField.Name("Content-Security-Policy")!] =
                "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'"
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: asset.text)))
    }
}
