import Foundation
import NIOCore

/// A request body type whose fields are known, so that unknown ones are refused rather than ignored.
protocol StrictlyDecodable: Decodable {
    /// The top-level field names allowed.
    static var fields: Set<String> { get }
    /// Allowed field names of nested objects, by top-level field.
    static var nestedFields: [String: Set<String>] { get }
}

extension StrictlyDecodable {
    static var nestedFields: [String: Set<String>] { [:] }
}

/// Decodes request bodies with errors a client can act on: `invalid_json`, `unknown_field`, `invalid_type`, `invalid_value`.
enum StrictJSON {
    static func decode<T: StrictlyDecodable>(_ type: T.Type, from buffer: ByteBuffer) throws(APIError) -> T {
        let data = Data(buffer.readableBytesView)
        try JSONShape.check(data)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data.isEmpty ? Data("{}".utf8) : data, options: [])
        } catch {
            throw APIError(.invalidJSON, "the body is not valid JSON")
        }
        guard let fields = object as? [String: Any] else {
            throw APIError(.invalidJSON, "the body must be a JSON object")
        }
        for key in fields.keys.sorted() {
            guard T.fields.contains(key) else {
                throw APIError(.unknownField, "unknown field '\(key)'; allowed: \(T.fields.sorted().joined(separator: ", "))")
            }
            // An optional field is left out for its default; null is not one of its values (the schema says so too).
            if fields[key] is NSNull {
                throw APIError(.invalidType, "'\(key)' must not be null; leave it out for the default")
            }
            if let allowed = T.nestedFields[key], let nested = fields[key] as? [String: Any] {
                for inner in nested.keys.sorted() where !allowed.contains(inner) {
                    throw APIError(
                        .unknownField,
                        "unknown field '\(key).\(inner)'; allowed: \(allowed.sorted().joined(separator: ", "))")
                }
            }
        }
        do {
            return try JSONDecoder().decode(T.self, from: data.isEmpty ? Data("{}".utf8) : data)
        } catch let error as APIError {
            throw error
        } catch let DecodingError.typeMismatch(expected, context) {
            throw APIError(.invalidType, "'\(path(context))' must be \(describe(expected))")
        } catch let DecodingError.valueNotFound(expected, context) {
            throw APIError(.invalidType, "'\(path(context))' must be \(describe(expected)), not null")
        } catch let DecodingError.dataCorrupted(context) {
            throw APIError(.invalidValue, "'\(path(context))': \(context.debugDescription)")
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError(.invalidValue, "'\(key.stringValue)' is required")
        } catch {
            throw APIError(.invalidJSON, "the body could not be read: \(error)")
        }
    }

    /// A number field that must be whole (decoded as a number so that 85.5 is a type error, not bad JSON).
    static func integer(_ value: Double?, _ name: String) throws(APIError) -> Int? {
        guard let value else { return nil }
        guard value.rounded() == value, abs(value) < 1e9 else {
            throw APIError(.invalidType, "'\(name)' must be an integer")
        }
        return Int(value)
    }

    /// A field naming one case of an enumeration, case-insensitively.
    static func choice<T: RawRepresentable & CaseIterable>(_ value: String?, _ name: String, _: T.Type) throws(APIError) -> T?
    where T.RawValue == String {
        guard let value else { return nil }
        guard let match = T(rawValue: value.lowercased()) else {
            throw APIError(
                .invalidValue,
                "'\(name)' must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")); got '\(value)'")
        }
        return match
    }

    private static func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map(\.stringValue).joined(separator: ".")
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "of another type"
        }
    }
}

/// A backend option value in JSON: a string, number or boolean, passed on as text.
struct OptionValueText: Codable, Sendable {
    var text: String

    init(text: String) { self.text = text }

    /// Sent as a string; the receiving side accepts strings for every option type.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            text = value ? "true" : "false"
        } else if let value = try? container.decode(Int.self) {
            text = String(value)
        } else if let value = try? container.decode(Double.self) {
            text = String(value)
        } else if let value = try? container.decode(String.self) {
            text = value
        } else {
            let path = decoder.codingPath.map(\.stringValue).joined(separator: ".")
            throw APIError(.invalidType, "'\(path)' must be a string, a number or true/false (null is not a value)")
        }
    }
}

/// What a JSON parser lets through or misreports, found before parsing: a key given twice in one object (parsers keep
/// one of them silently) and a number too large for a double (parsers call the whole body invalid).
enum JSONShape {
    private enum Frame {
        case object(keys: Set<String>, expectingKey: Bool)
        case array
    }

    /// Throws `invalid_json` for a repeated key and `invalid_value` for a number out of range, naming the key; a body
    /// that is not JSON at all is left to the parser.
    static func check(_ data: Data) throws(APIError) {
        let bytes = [UInt8](data)
        var stack: [Frame] = []
        var lastKey = ""
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"): stack.append(.object(keys: [], expectingKey: true))
            case UInt8(ascii: "["): stack.append(.array)
            case UInt8(ascii: "}"), UInt8(ascii: "]"): if !stack.isEmpty { stack.removeLast() }
            case UInt8(ascii: ","):
                if case .object(let keys, _) = stack.last { stack[stack.count - 1] = .object(keys: keys, expectingKey: true) }
            case UInt8(ascii: "\""):
                var end = index + 1
                while end < bytes.count && bytes[end] != UInt8(ascii: "\"") { end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1 }
                guard end < bytes.count else { return }
                if case .object(var keys, true) = stack.last {
                    let raw = Data(bytes[index...end])
                    let key =
                        (try? JSONSerialization.jsonObject(with: raw, options: .fragmentsAllowed)) as? String
                        ?? String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
                    guard keys.insert(key).inserted else {
                        throw APIError(.invalidJSON, "the key '\(key)' is given twice in one object; give each key once")
                    }
                    stack[stack.count - 1] = .object(keys: keys, expectingKey: false)
                    lastKey = key
                }
                index = end
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                var end = index
                while end < bytes.count, "+-.eE0123456789".utf8.contains(bytes[end]) { end += 1 }
                let text = String(decoding: bytes[index..<end], as: UTF8.self)
                if let number = Double(text), !number.isFinite {
                    throw APIError(.invalidValue, "'\(lastKey)': the number \(text) is too large")
                }
                index = end - 1
            default:
                break
            }
            index += 1
        }
    }
}
