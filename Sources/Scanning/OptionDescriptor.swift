/// The value type of a SANE option.
public enum OptionType: String, Sendable, Codable {
    /// The SANE value types (`SANE_TYPE_*`).
    case bool, int, fixed, string, button, group
}

/// The unit of a SANE option's value.
public enum OptionUnit: String, Sendable, Codable {
    /// The SANE units (`SANE_UNIT_*`).
    case none, pixel, bit, mm, dpi, percent, microsecond
}

/// What values a SANE option accepts.
///
/// In JSON: `{"type": "none"}`, `{"type": "range", "min": …, "max": …, "quant": …}`,
/// `{"type": "wordList", "values": [numbers]}` or `{"type": "stringList", "values": [strings]}`.
public enum OptionConstraint: Sendable, Equatable, Codable {
    /// Any value of the option's type.
    case none
    /// Values from `min` to `max` in steps of `quant` (0 = any step).
    case range(min: Double, max: Double, quant: Double)
    /// One of these numbers.
    case wordList([Double])
    /// One of these strings.
    case stringList([String])

    private enum CodingKeys: String, CodingKey { case type, min, max, quant, values }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .type) {
        case "none": self = .none
        case "range":
            self = .range(
                min: try container.decode(Double.self, forKey: .min),
                max: try container.decode(Double.self, forKey: .max),
                quant: try container.decode(Double.self, forKey: .quant))
        case "wordList": self = .wordList(try container.decode([Double].self, forKey: .values))
        case "stringList": self = .stringList(try container.decode([String].self, forKey: .values))
        case let other: throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown constraint \(other)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .none:
            try container.encode("none", forKey: .type)
        case .range(let min, let max, let quant):
            try container.encode("range", forKey: .type)
            try container.encode(min, forKey: .min)
            try container.encode(max, forKey: .max)
            try container.encode(quant, forKey: .quant)
        case .wordList(let values):
            try container.encode("wordList", forKey: .type)
            try container.encode(values, forKey: .values)
        case .stringList(let values):
            try container.encode("stringList", forKey: .type)
            try container.encode(values, forKey: .values)
        }
    }
}

/// A SANE option's capabilities.
public struct OptionCapabilities: OptionSet, Sendable, Codable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// Settable by software (`SANE_CAP_SOFT_SELECT`).
    public static let softSelect = OptionCapabilities(rawValue: 1)
    /// Set by a switch on the device (`SANE_CAP_HARD_SELECT`).
    public static let hardSelect = OptionCapabilities(rawValue: 2)
    /// Readable by software (`SANE_CAP_SOFT_DETECT`).
    public static let softDetect = OptionCapabilities(rawValue: 4)
    /// Emulated by the backend (`SANE_CAP_EMULATED`).
    public static let emulated = OptionCapabilities(rawValue: 8)
    /// The backend can choose the value (`SANE_CAP_AUTOMATIC`).
    public static let automatic = OptionCapabilities(rawValue: 16)
    /// Not active in the current configuration (`SANE_CAP_INACTIVE`).
    public static let inactive = OptionCapabilities(rawValue: 32)
    /// For experts (`SANE_CAP_ADVANCED`).
    public static let advanced = OptionCapabilities(rawValue: 64)

    /// Active (not greyed out by other settings).
    public var isActive: Bool { !contains(.inactive) }
    /// Can be set by software.
    public var isSettable: Bool { contains(.softSelect) }
}

/// One option of a scanner, as its backend describes it.
public struct OptionDescriptor: Sendable, Equatable, Codable {
    /// The SANE name (`resolution`, `mode`, `tl-x`…); empty for group titles.
    public var name: String
    /// The backend's title.
    public var title: String
    /// The backend's description.
    public var help: String
    /// The value type.
    public var type: OptionType
    /// The unit.
    public var unit: OptionUnit
    /// The value's size in bytes (for numbers: 4 per element).
    public var size: Int
    /// Accepted values.
    public var constraint: OptionConstraint
    /// Capabilities.
    public var capabilities: OptionCapabilities

    /// Creates a descriptor.
    public init(
        name: String, title: String = "", help: String = "", type: OptionType, unit: OptionUnit = .none,
        size: Int = 4, constraint: OptionConstraint = .none, capabilities: OptionCapabilities = [.softSelect, .softDetect]
    ) {
        self.name = name
        self.title = title
        self.help = help
        self.type = type
        self.unit = unit
        self.size = size
        self.constraint = constraint
        self.capabilities = capabilities
    }

    /// Number of elements for int and fixed options (arrays have more than one).
    public var elementCount: Int { (type == .int || type == .fixed) ? max(1, size / 4) : 1 }
}

/// A value for a SANE option.
public enum OptionValue: Sendable, Equatable, Codable, CustomStringConvertible {
    /// A boolean.
    case bool(Bool)
    /// Integers (one, or a vector).
    case int([Int])
    /// Fixed-point numbers, as doubles (one, or a vector).
    case fixed([Double])
    /// A string.
    case string(String)
    /// Pressing a button option.
    case press

    public var description: String {
        switch self {
        case .bool(let value): value ? "yes" : "no"
        case .int(let values): values.map(String.init).joined(separator: ",")
        case .fixed(let values): values.map { $0.formatted(.number.precision(.fractionLength(0...4)).grouping(.never)) }.joined(separator: ",")
        case .string(let value): value
        case .press: "pressed"
        }
    }

    /// The first number of an int or fixed value.
    public var number: Double? {
        switch self {
        case .int(let values): values.first.map(Double.init)
        case .fixed(let values): values.first
        default: nil
        }
    }
}
