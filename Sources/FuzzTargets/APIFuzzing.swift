import DeviceService

/// Targets for what a client sends.
enum APIFuzzing {
    /// Decodes a body as every request type; a failure must be a client error (4xx), never a server one.
    static func requestBody(_ bytes: [UInt8]) -> Bool {
        let statuses = RequestBodyDecoding.statuses(bytes)
        for case let status? in statuses {
            precondition((400..<500).contains(status), "a request body was answered with \(status)")
        }
        return statuses.contains { $0 == nil }
    }
}
