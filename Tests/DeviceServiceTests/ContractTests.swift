import CounterKitTestSupport
import Foundation
import Testing

@testable import DeviceService

/// The API contract is written once, in api/openapi.json; the request types that decode bodies, the answers the
/// service encodes, and the JavaScript client's type declarations are held to it field by field, so none can drift.
@Suite("The contract: openapi.json, the Swift request and response types and the client's .d.ts agree")
struct ContractTests {
    static var document: [String: Any] {
        let data = try! Data(contentsOf: repositoryRoot().appendingPathComponent("api/openapi.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }
    static var schemas: [String: [String: Any]] {
        (document["components"] as! [String: Any])["schemas"] as! [String: [String: Any]]
    }

    /// A schema's properties (after following a `$ref`), and the ones it requires.
    static func properties(of schema: [String: Any]) -> (all: [String: [String: Any]], required: Set<String>) {
        if let reference = schema["$ref"] as? String {
            return properties(of: schemas[String(reference.split(separator: "/").last!)]!)
        }
        return ((schema["properties"] as? [String: [String: Any]]) ?? [:], Set((schema["required"] as? [String]) ?? []))
    }

    static func schema(_ name: String) -> [String: Any] { schemas[name]! }

    @Test("every request body's schema names exactly the fields its Swift type accepts")
    func requestTypesMatchTheirSchemas() {
        let paths = Self.document["paths"] as! [String: Any]
        let post = (paths["/v1/pairings"] as! [String: Any])["post"] as! [String: Any]
        let pairing = (post["requestBody"] as! [String: Any])["content"] as! [String: Any]
        let pairingSchema = (pairing["application/json"] as! [String: Any])["schema"] as! [String: Any]
        let cases: [(String, [String: Any], Set<String>)] = [
            ("ScanRequest", Self.schema("ScanRequest"), ScanJobRequest.fields),
            ("DocumentOptions", Self.schema("DocumentOptions"), DocumentJSON.fields),
            ("IDCardRequest", Self.schema("IDCardRequest"), IDCardJobRequest.fields),
            ("PhotoRequest", Self.schema("PhotoRequest"), PhotoJobRequest.fields),
            ("FrameRateRequest", Self.schema("FrameRateRequest"), FrameRateRequest.fields),
            ("SignatureRequest", Self.schema("SignatureRequest"), SignatureJobRequest.fields),
            ("POST /v1/pairings", pairingSchema, PairingRequest.fields),
        ]
        for (name, schema, fields) in cases {
            let specified = Set(Self.properties(of: schema).all.keys)
            #expect(
                specified == fields,
                "\(name): in the schema only \(specified.subtracting(fields).sorted()), in Swift only \(fields.subtracting(specified).sorted())")
            #expect(schema["additionalProperties"] as? Bool == false, "\(name) refuses unknown fields, as the Swift type does")
        }
    }

    /// Where `value` (decoded JSON) breaks `schema`: a key the schema does not name, a required one missing; nested
    /// objects and arrays of objects are followed.
    static func problems(_ value: Any, _ schema: [String: Any], at path: String) -> [String] {
        if let items = schema["items"] as? [String: Any], let array = value as? [Any] {
            return array.enumerated().flatMap { problems($1, items, at: "\(path)[\($0)]") }
        }
        guard let object = value as? [String: Any] else { return [] }
        let (all, required) = properties(of: schema)
        if all.isEmpty { return [] }  // a map (settings, options): any key
        var found = Set(object.keys).subtracting(all.keys).sorted().map { "\(path).\($0) is not in the schema" }
        found += required.subtracting(object.keys).sorted().map { "\(path).\($0) is required but missing" }
        for (key, nested) in object { if let property = all[key] { found += problems(nested, property, at: "\(path).\(key)") } }
        return found
    }

    @Test("what the service answers holds to the schemas: no field the contract does not name, none it requires missing")
    func answersMatchTheirSchemas() async throws {
        let service = try await RunningService.start()
        func check(_ path: String, _ schema: String, post body: String? = nil, status: Int = 200) async throws -> [String: Any] {
            let reply = if let body { try await service.post(path, body) } else { try await service.get(path) }
            #expect(reply.status == status, "\(path): \(reply.status)")
            let value = try JSONSerialization.jsonObject(with: Data(reply.body))
            let found = Self.problems(value, Self.schema(schema), at: schema)
            #expect(found.isEmpty, "\(path) against \(schema): \(found)")
            return (value as? [String: Any]) ?? [:]
        }
        _ = try await check("/v1/health", "Health")
        _ = try await check("/v1/devices?refresh=true", "DeviceList")
        _ = try await check("/v1/devices/test:0", "DeviceDetail")
        let job = try await check("/v1/scans?wait=true", "Job", post: #"{"device":"test:0","resolution":50,"format":"png","paper":"A4"}"#)
        let id = try #require((job["attachments"] as? [[String: Any]])?.first?["id"] as? String)
        _ = try await check("/v1/attachments/\(id)/manifest", "Manifest")
        _ = try await check("/v1/jobs/\(try #require(job["id"] as? String))", "Job")
        _ = try await check("/v1/devices/nope:1", "Error", status: 404)
        _ = try await check("/v1/scans", "Error", post: #"{"resolution":-1}"#, status: 400)
        try await service.stop()
    }

    /// The top-level fields of an interface in the .d.ts (nested object types are skipped).
    static func declaredFields(_ interface: String, in text: String) -> Set<String>? {
        guard let start = text.range(of: "export interface \(interface) {") else { return nil }
        var depth = 1, index = start.upperBound, field = "", fields = Set<String>(), atFieldStart = true
        while depth > 0, index < text.endIndex {
            let character = text[index]
            switch character {
            case "{", "(", "[", "<": depth += 1; field = ""
            case "}", ")", "]", ">": depth -= 1
            case ";", "\n": if depth == 1 { atFieldStart = true; field = "" }
            case ":", "?":
                if depth == 1, atFieldStart, !field.isEmpty { fields.insert(field); atFieldStart = false }
                field = ""
            default:
                if depth == 1, atFieldStart {
                    if character.isLetter || character.isNumber || character == "_" {
                        field.append(character)
                    } else if !character.isWhitespace {
                        atFieldStart = false
                    }
                }
            }
            index = text.index(after: index)
        }
        return fields
    }

    @Test("the JavaScript client's type declarations name the schemas' fields: all of them for requests, none other anywhere")
    func typeDeclarationsMatchTheSchemas() throws {
        let text = try String(contentsOf: repositoryRoot().appendingPathComponent("clients/js/counterkit.d.ts"), encoding: .utf8)
        // interface, schema, whether the interface names every field (requests and plain records) or a part.
        let cases: [(String, String, Bool)] = [
            ("ScanRequest", "ScanRequest", true), ("PhotoRequest", "PhotoRequest", true), ("SignatureRequest", "SignatureRequest", true),
            ("DocumentOptions", "DocumentOptions", true), ("Device", "DeviceSummary", true), ("Attachment", "Manifest", true),
            ("RowsBand", "LiveRows", true), ("DeviceList", "DeviceList", true), ("Job", "Job", false), ("SignatureSession", "SignatureSession", false),
        ]
        for (interface, schema, complete) in cases {
            let declared = try #require(Self.declaredFields(interface, in: text), "interface \(interface) in counterkit.d.ts")
            let specified = Set(Self.properties(of: Self.schema(schema)).all.keys)
            #expect(declared.isSubset(of: specified), "\(interface): not in \(schema): \(declared.subtracting(specified).sorted())")
            if complete { #expect(specified.isSubset(of: declared), "\(interface) lacks \(specified.subtracting(declared).sorted()) of \(schema)") }
        }
    }
}
