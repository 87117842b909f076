/// The OpenAPI 3.1 description of the API (`api/openapi.json`, compiled in byte for byte as a resource), served at
/// `GET /v1/openapi.json`. A test checks that its paths and the router's routes agree both ways.
public enum OpenAPIDocument: Sendable {
    /// The document as JSON text.
    public static let json = String(decoding: PackageResources.openapi_json, as: UTF8.self)
}
