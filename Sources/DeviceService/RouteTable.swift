import Hummingbird

/// The API's paths and their methods, read from the router's own routes: a request whose path exists but whose
/// method does not is 405 with `Allow`, not 404. (HEAD, which the router answers for every GET, is left out, as the
/// API contract leaves it out.)
struct RouteTable: Sendable {
    /// Path templates (segments, `nil` for a `{parameter}`) and their methods, in the router's order.
    private let routes: [(segments: [String?], methods: [String])]

    /// The table of `router`'s routes.
    init(_ router: Router<ServiceRequestContext>) {
        let order = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        var byPath: [String: Set<String>] = [:]
        for route in router.routes where route.method != .head { byPath["\(route.path)", default: []].insert(route.method.rawValue) }
        routes = byPath.sorted { $0.key < $1.key }.map { template, methods in
            (
                template.split(separator: "/").map { $0.hasPrefix("{") || $0.hasPrefix(":") ? nil : String($0) },
                methods.sorted { (order.firstIndex(of: $0) ?? order.count, $0) < (order.firstIndex(of: $1) ?? order.count, $1) }
            )
        }
    }

    /// The methods the API has for `path`, or nil when no route has that path.
    func methods(for path: String) -> [String]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for route in routes where route.segments.count == segments.count {
            if zip(route.segments, segments).allSatisfy({ $0 == nil ? !$1.isEmpty : $0! == $1 }) { return route.methods }
        }
        return nil
    }
}
