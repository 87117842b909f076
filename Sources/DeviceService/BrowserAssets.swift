/// The browser files the service serves, byte for byte: the JavaScript client, its type declarations and the device
/// console (clients/js/, compiled in as resources).
enum BrowserAssets {
    /// One file: its media type and text.
    struct Asset: Sendable { let mediaType: String; let text: String }

    /// Each file by the path it is served at.
    static let files: [String: Asset] = [
        "/v1/client.js": Asset(mediaType: "text/javascript; charset=utf-8", text: String(decoding: PackageResources.counterkit_js, as: UTF8.self)),
        "/v1/client.d.ts": Asset(
            mediaType: "application/typescript; charset=utf-8",
            text: String(decoding: PackageResources.counterkit_d_ts, as: UTF8.self)),
        "/ui/": Asset(mediaType: "text/html; charset=utf-8", text: String(decoding: PackageResources.index_html, as: UTF8.self)),
        "/ui/console.js": Asset(mediaType: "text/javascript; charset=utf-8", text: String(decoding: PackageResources.console_js, as: UTF8.self)),
    ]
}
