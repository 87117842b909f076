import Foundation

/// The API's paths and their methods, read from the OpenAPI document: a request whose path exists but whose
/// method does not is 405 with `Allow`, not 404.
enum RouteTable {
    /// Path templates (segments, `nil` for a `{parameter}`) and their methods, uppercased.
    static let routes: [(segments: [String?], methods: [String])] = {
        guard let document = try? JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any],
              let paths = document["paths"] as? [String: [String: Any]] else { return [] }
        let order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
        return paths.map { template, operations in
            let segments = template.split(separator: "/").map { $0.hasPrefix("{") ? nil : String($0) }
            let methods = operations.keys.map { $0.uppercased() }.filter(order.contains)
            return (segments, methods.sorted { order.firstIndex(of: $0)! < order.firstIndex(of: $1)! })
        }
    }()

    /// The methods the API has for `path`, or nil when no route has that path.
    static func methods(for path: String) -> [String]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for route in routes where route.segments.count == segments.count {
            if zip(route.segments, segments).allSatisfy({ $0 == nil ? !$1.isEmpty : $0! == $1 }) { return route.methods }
        }
        return nil
    }
}
