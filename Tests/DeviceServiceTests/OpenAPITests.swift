import Attachments
import CounterKitTestSupport
import Foundation
import Hummingbird
import Testing

@testable import DeviceService

@Suite("The OpenAPI document")
struct OpenAPITests {
    @Test("routes and spec agree both ways, and the served document is the committed one")
    func routesMatchSpec() async throws {
        let directory = try TemporaryDirectory("ck-openapi")
        let service = try CounterKitService(configuration: ServiceConfiguration(spool: directory.url.appendingPathComponent("spool")))
        let routes = Set(service.routeDescriptions.map { $0.replacingOccurrences(of: "{id}", with: "{id}") })

        // The contract is the file; the binary embeds it (a resource) and serves it byte for byte.
        let contract = try Data(contentsOf: repositoryRoot().appendingPathComponent("api/openapi.json"))
        #expect(Data(OpenAPIDocument.json.utf8) == contract, "the embedded contract is not api/openapi.json")
        let document = try #require(try JSONSerialization.jsonObject(with: contract) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var specified = Set<String>()
        for (path, operations) in paths {
            for method in operations.keys where ["get", "post", "put", "delete", "patch"].contains(method) {
                specified.insert("\(method.uppercased()) \(path)")
            }
        }
        #expect(routes.subtracting(specified).isEmpty, "routes missing from the spec: \(routes.subtracting(specified).sorted())")
        #expect(specified.subtracting(routes).isEmpty, "spec paths with no route: \(specified.subtracting(routes).sorted())")

        let running = try await RunningService.start()
        let served = try await running.get("/v1/openapi.json")
        #expect(served.status == 200)
        #expect(Data(served.body) == contract)
        try await running.stop()
    }

    @Test("schemathesis finds no 5xx, no answer outside the schema, and the service alive at the end")
    func schemathesis() async throws {
        let script = repositoryRoot().appendingPathComponent("scripts/api-fuzz").path
        let run = try await runCommandAsync(
            [script, "--max-examples", "20"],
            environment: ["COUNTERKIT": SANETestEnvironment.counterkitExecutable])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("api-fuzz: passed; the service is alive"))
        #expect(run.output.contains(" passed"), "schemathesis ran its cases: \(run.output)")
    }

    @Test("every $ref resolves")
    func referencesResolve() throws {
        let text = OpenAPIDocument.json
        let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let pattern = try Regex(##""\$ref": "#/([^"]+)""##)
        for match in text.matches(of: pattern) {
            let pointer = String(match.output[1].substring ?? "")
            var node: Any? = document
            for part in pointer.split(separator: "/") { node = (node as? [String: Any])?[String(part)] }
            #expect(node != nil, "unresolved $ref #/\(pointer)")
        }
    }
}

@Suite struct RouteTableTests {
    @Test func methodsComeFromTheRoutersOwnRoutes() {
        let router = Router(context: ServiceRequestContext.self, options: [.autoGenerateHeadEndpoints])
        router.post("/v1/things") { _, _ in "made" }
        router.get("/v1/things/{id}") { _, _ in "one" }
        router.delete("/v1/things/{id}") { _, _ in "gone" }
        let table = RouteTable(router)
        #expect(table.methods(for: "/v1/things") == ["POST"])
        #expect(table.methods(for: "/v1/things/abc") == ["GET", "DELETE"], "HEAD, generated for GET, is not listed")
        #expect(table.methods(for: "/v1/things/") == nil && table.methods(for: "/v1/other") == nil)
        #expect(table.methods(for: "/v1/openapi.json") == nil, "nothing comes from the OpenAPI document")
    }
}
