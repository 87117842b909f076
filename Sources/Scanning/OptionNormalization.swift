/// Reading and setting a scanner's options: the seam between the
/// normalization layers and libsane (a SANE handle, or recorded descriptors in tests).
public protocol OptionAccess: AnyObject {
    /// The current descriptors (re-read after the backend asks for a reload).
    var descriptors: [OptionDescriptor] { get }
    /// The current value of an option.
    func value(_ name: String) throws(ScanError) -> OptionValue
    /// Sets an option and returns the value the backend actually holds afterwards.
    func set(_ name: String, _ value: OptionValue) throws(ScanError) -> OptionValue
}

extension OptionAccess {
    /// The descriptor of an active option with this name.
    func activeDescriptor(_ name: String) -> OptionDescriptor? {
        descriptors.first { $0.name == name && $0.capabilities.isActive }
    }
}

/// One named step that maps part of a `ScanRequest` onto backend options.
/// Each layer can be read, tested and switched off on its own.
public protocol NormalizationLayer: Sendable {
    /// The layer's name, for `ScanRequest.disabledLayers` and diagnostics.
    var name: String { get }
    /// Applies its part of the request; returns the settings actually used.
    func apply(_ request: ScanRequest, to options: OptionAccess) throws(ScanError) -> [String: String]
}

/// The layers applied before every scan, in order.
public enum OptionNormalization: Sendable {
    /// Source, then mode (with depth), resolution, area, raw options: later layers
    /// see the options earlier ones made active.
    public static let layers: [any NormalizationLayer] = [
        SourceLayer(), ModeLayer(), ResolutionLayer(), AreaLayer(), RawOptionsLayer(),
    ]

    /// Backend options that a layer also sets, by layer name. Given raw (`ScanRequest.options`), such an option is
    /// applied by its layer as that setting, so that the page loop and the manifest follow what the scanner was
    /// really told (a raw `source` naming a feeder scans until the feeder is empty); with the layer switched off it is
    /// set as a plain raw option.
    public static let coveredOptions: [String: [String]] = [
        "source": ["source"], "mode": ["mode", "depth"], "resolution": ["resolution"], "area": ["tl-x", "tl-y", "br-x", "br-y"],
    ]

    /// The layer that applies the raw option `name` for `request`, if one is switched on and covers it.
    static func coveringLayer(of name: String, in request: ScanRequest) -> String? {
        coveredOptions.first { $0.value.contains(name) && !request.disabledLayers.contains($0.key) }?.key
    }

    /// Applies every enabled layer; returns the merged settings used. Whatever the layers did, `source` names the
    /// source the scanner holds at the end (read back), since the page loop follows it.
    public static func apply(_ request: ScanRequest, to options: OptionAccess) throws(ScanError) -> [String: String] {
        try checkCoveredOptions(request)
        var settings: [String: String] = [:]
        for layer in layers where !request.disabledLayers.contains(layer.name) {
            settings.merge(try layer.apply(request, to: options)) { $1 }
        }
        if settings["source"] == nil || request.disabledLayers.contains("source"),
            options.activeDescriptor("source") != nil, case .string(let vendor)? = try? options.value("source")
        {
            settings["source"] = SourceLayer.classify(vendor)?.rawValue ?? vendor
            settings["source.vendor"] = vendor
        }
        return settings
    }

    /// Refuses a setting given twice, once as a field of the request and once as the raw option its layer sets,
    /// when the two disagree (`invalid_value`, naming both); agreeing ones are fine.
    public static func checkCoveredOptions(_ request: ScanRequest) throws(ScanError) {
        func twice(_ setting: String, _ field: String, _ raw: String) -> ScanError {
            ScanError(
                .invalidValue,
                "the \(setting) is given twice, as \(field) and as option \(raw); give it once "
                    + "(the \(setting) field or its flag, or the raw option alone)")
        }
        let raw = request.options
        if let wanted = request.source, let text = raw["source"], coveringLayer(of: "source", in: request) != nil,
            SourceLayer.classify(text) != wanted
        {
            throw twice("source", "source \(wanted.rawValue)", "source=\(text)")
        }
        if let wanted = request.mode, let text = raw["mode"], coveringLayer(of: "mode", in: request) != nil,
            ModeLayer.classify(text) != wanted
        {
            throw twice("mode", "mode \(wanted.rawValue)", "mode=\(text)")
        }
        if let wanted = request.resolution, let text = raw["resolution"], coveringLayer(of: "resolution", in: request) != nil,
            Double(text) != wanted
        {
            throw twice("resolution", "resolution \(wanted.formatted(.number.grouping(.never)))", "resolution=\(text)")
        }
        if request.area != nil || request.paper != nil, coveringLayer(of: "tl-x", in: request) != nil,
            let name = coveredOptions["area"]!.first(where: { raw[$0] != nil })
        {
            throw twice("scan area", request.area != nil ? "area" : "paper", "\(name)=\(raw[name]!)")
        }
    }

    /// The raw value of a covered option parsed against its descriptor, or nil when the request does not give it.
    static func coveredValue(_ name: String, of request: ScanRequest, in options: OptionAccess) throws(ScanError) -> OptionValue? {
        guard let text = request.options[name] else { return nil }
        let descriptor = try RawOptionsLayer.settableDescriptor(name, in: options.descriptors, active: true)
        return try RawOptionsLayer.parse(text, for: descriptor)
    }

    /// Finds the first entry of `list` that a vocabulary maps to `wanted`.
    static func match<Value: Equatable>(_ wanted: Value, in list: [String], vocabulary: [(Value, [String])]) -> String? {
        let keywords = vocabulary.first { $0.0 == wanted }?.1 ?? []
        for keyword in keywords {
            if let entry = list.first(where: { normalize($0) == keyword }) { return entry }
        }
        for keyword in keywords {
            if let entry = list.first(where: { normalize($0).contains(keyword) }) {
                // A contained keyword must not also match a more specific other value.
                let others = vocabulary.filter { $0.0 != wanted }.flatMap(\.1)
                if !others.contains(where: { normalize(entry) == $0 }) { return entry }
            }
        }
        return nil
    }

    static func normalize(_ text: String) -> String {
        text.lowercased().replacingOccurrences(of: "_", with: " ").trimmingCharacters(in: .whitespaces)
    }
}

extension ScanRequest {
    /// The request with a device's configured backend options beneath its own: a default that sets what the request
    /// sets itself (a default `mode` under a request for `mode`, a default `tl-x` under a `paper`) gives way.
    public func withDeviceDefaults(_ defaults: [String: String]) -> ScanRequest {
        let placed = area != nil || paper != nil
        let given = [
            "source": source != nil, "mode": mode != nil, "resolution": resolution != nil,
            "tl-x": placed, "tl-y": placed, "br-x": placed, "br-y": placed,
        ]
        var merged = self
        for (name, value) in defaults where options[name] == nil {
            if given[name] == true, OptionNormalization.coveringLayer(of: name, in: self) != nil { continue }
            merged.options[name] = value
        }
        return merged
    }
}

/// `source`: flatbed, adf, duplex → "Flatbed", "ADF Front", "Automatic Document Feeder", "ADF Duplex"…
public struct SourceLayer: NormalizationLayer {
    public let name = "source"
    static let vocabulary: [(ScanSource, [String])] = [
        (.duplex, ["adf duplex", "duplex", "adf (duplex)", "automatic document feeder (duplex)"]),
        // "ADF Back" (Fujitsu and others) scans only the back of each sheet: a feeder, not duplex.
        (.adf, ["adf", "adf front", "automatic document feeder", "adf (front)", "document feeder", "feeder", "adf simplex", "adf back"]),
        (.flatbed, ["flatbed", "document table", "platen", "normal", "glass"]),
    ]

    /// Maps a vendor's source string to a normalized source.
    public static func classify(_ vendor: String) -> ScanSource? {
        let text = OptionNormalization.normalize(vendor)
        for (source, keywords) in vocabulary where keywords.contains(text) { return source }
        if text.contains("duplex") { return .duplex }
        if text.contains("adf") || text.contains("feeder") { return .adf }
        if text.contains("flatbed") || text.contains("table") { return .flatbed }
        return nil
    }

    public func apply(_ request: ScanRequest, to options: OptionAccess) throws(ScanError) -> [String: String] {
        guard let descriptor = options.activeDescriptor("source"), case .stringList(let list) = descriptor.constraint else {
            _ = try OptionNormalization.coveredValue("source", of: request, in: options)  // a raw one is refused: no such option
            if let wanted = request.source, wanted != .flatbed {
                throw ScanError(.unsupportedOption, "this scanner has no \(wanted.rawValue) (it offers no source option)")
            }
            return ["source": ScanSource.flatbed.rawValue]
        }
        if case .string(let entry)? = try OptionNormalization.coveredValue("source", of: request, in: options) {
            // The backend's own word, given raw: used as it is, and named by what it is.
            let actual = try options.set("source", .string(entry)).description
            return ["source": Self.classify(actual)?.rawValue ?? actual, "source.vendor": actual]
        }
        let wanted = request.source ?? (list.contains { Self.classify($0) == .flatbed } ? .flatbed : (Self.classify(list[0]) ?? .flatbed))
        // The vendor's own word for it first (so "ADF Front" before "ADF Back" for a feeder), then any entry of that kind.
        guard
            let entry = OptionNormalization.match(wanted, in: list, vocabulary: Self.vocabulary)
                ?? list.first(where: { Self.classify($0) == wanted })
        else {
            throw ScanError(.invalidValue, "this scanner has no \(wanted.rawValue); it offers \(list.joined(separator: ", "))")
        }
        let actual = try options.set("source", .string(entry))
        return ["source": wanted.rawValue, "source.vendor": actual.description]
    }
}

/// `mode`: color, gray, lineart → "Color", "24bit Color", "Gray", "Lineart", "Black & White"…;
/// lineart on a scanner without such a mode becomes gray at depth 1 when it offers that.
public struct ModeLayer: NormalizationLayer {
    public let name = "mode"
    static let vocabulary: [(ScanMode, [String])] = [
        (.color, ["color", "colour", "24bit color", "24 bit color", "rgb", "true color", "48bit color"]),
        (.gray, ["gray", "grey", "grayscale", "greyscale", "8bit gray", "monochrome gray", "true gray"]),
        (.lineart, ["lineart", "line art", "black & white", "black and white", "binary", "bw", "monochrome"]),
    ]

    /// Maps a vendor's mode string to a normalized mode.
    public static func classify(_ vendor: String) -> ScanMode? {
        let text = OptionNormalization.normalize(vendor)
        for (mode, keywords) in vocabulary where keywords.contains(text) { return mode }
        if text.contains("colo") { return .color }
        if text.contains("gray") || text.contains("grey") { return .gray }
        if text.contains("lineart") || text.contains("binary") { return .lineart }
        return nil
    }

    public func apply(_ request: ScanRequest, to options: OptionAccess) throws(ScanError) -> [String: String] {
        let wanted = request.mode ?? ScanRequest.defaultMode
        guard let descriptor = options.activeDescriptor("mode"), case .stringList(let list) = descriptor.constraint else {
            _ = try OptionNormalization.coveredValue("mode", of: request, in: options)
            return ["mode": wanted.rawValue]
        }
        var settings = ["mode": wanted.rawValue]
        if case .string(let entry)? = try OptionNormalization.coveredValue("mode", of: request, in: options) {
            // The backend's own mode, given raw: used as it is, and named by what it is.
            let actual = try options.set("mode", .string(entry)).description
            settings = ["mode": Self.classify(actual)?.rawValue ?? actual, "mode.vendor": actual]
        } else if let entry = list.first(where: { Self.classify($0) == wanted }) {
            settings["mode.vendor"] = try options.set("mode", .string(entry)).description
        } else if wanted == .lineart, let gray = list.first(where: { Self.classify($0) == .gray }),
            let depth = options.descriptors.first(where: { $0.name == "depth" }),
            case .wordList(let depths) = depth.constraint, depths.contains(1)
        {
            settings["mode.vendor"] = try options.set("mode", .string(gray)).description
            settings["depth"] = try options.set("depth", .int([1])).description
            return settings
        } else {
            throw ScanError(.invalidValue, "this scanner has no \(wanted.rawValue) mode; it offers \(list.joined(separator: ", "))")
        }
        if let depth = try OptionNormalization.coveredValue("depth", of: request, in: options) {
            settings["depth"] = try options.set("depth", depth).description
        } else if settings["mode"] != ScanMode.lineart.rawValue, let depth = options.activeDescriptor("depth"),
            case .wordList(let depths) = depth.constraint, depths.contains(8), depth.capabilities.isSettable
        {
            // A depth left at 1 or 16 from an earlier session would surprise: 8 unless asked otherwise.
            settings["depth"] = try options.set("depth", .int([8])).description
        }
        return settings
    }
}

/// `resolution`: the nearest value the scanner supports (range with step, or list), reported back.
public struct ResolutionLayer: NormalizationLayer {
    public let name = "resolution"

    /// The supported value nearest to `wanted`.
    public static func nearest(_ wanted: Double, _ constraint: OptionConstraint) -> Double {
        switch constraint {
        case .range(let low, let high, let quant):
            let clamped = min(max(wanted, low), high)
            guard quant > 0 else { return clamped }
            let stepped = low + ((clamped - low) / quant).rounded() * quant
            return min(stepped, high)
        case .wordList(let values):
            return values.min { abs($0 - wanted) < abs($1 - wanted) } ?? wanted
        default:
            return wanted
        }
    }

    public func apply(_ request: ScanRequest, to options: OptionAccess) throws(ScanError) -> [String: String] {
        let wanted = request.resolution ?? ScanRequest.defaultResolution
        guard let descriptor = options.activeDescriptor("resolution") else {
            _ = try OptionNormalization.coveredValue("resolution", of: request, in: options)
            return [:]
        }
        let value = Self.nearest(wanted, descriptor.constraint)
        let typed: OptionValue = descriptor.type == .fixed ? .fixed([value]) : .int([Int(value.rounded())])
        let actual = try options.set("resolution", try OptionNormalization.coveredValue("resolution", of: request, in: options) ?? typed)
        return ["resolution": actual.description]
    }
}

/// Scan area in millimetres, from a paper preset or explicit area, clamped to the bed (then the settings carry
/// `clamped` = `true` and `requestedArea`, X,Y,W,H in millimetres, beside the `area` used); the whole bed when neither is given.
public struct AreaLayer: NormalizationLayer {
    public let name = "area"

    public func apply(_ request: ScanRequest, to options: OptionAccess) throws(ScanError) -> [String: String] {
        let names = ["tl-x", "tl-y", "br-x", "br-y"]
        let found = names.compactMap { options.activeDescriptor($0) }
        guard found.count == 4 else {
            for name in names { _ = try OptionNormalization.coveredValue(name, of: request, in: options) }
            if request.area != nil || request.paper != nil {
                throw ScanError(.unsupportedOption, "this scanner does not let the scan area be set")
            }
            return [:]
        }
        let ranges = found.map { descriptor -> (Double, Double) in
            if case .range(let low, let high, _) = descriptor.constraint { return (low, high) }
            return (0, .infinity)
        }
        // Pixel units are converted with the resolution in force.
        let scale: Double
        if found[0].unit == .pixel, let dpi = try? options.value("resolution").number, dpi > 0 {
            scale = dpi / 25.4
        } else {
            scale = 1
        }
        let wanted: ScanArea
        if let area = request.area {
            wanted = area
        } else if let paper = request.paper {
            wanted = ScanArea(x: 0, y: 0, width: paper.size.width, height: paper.size.height)
        } else {
            wanted = ScanArea(x: 0, y: 0, width: .infinity, height: .infinity)
        }
        var edges = [wanted.x * scale, wanted.y * scale, (wanted.x + wanted.width) * scale, (wanted.y + wanted.height) * scale]
        for index in edges.indices { edges[index] = min(max(edges[index], ranges[index].0), ranges[index].1) }
        // Edges given raw, in the option's own unit, are used as they are (the others stay at the whole bed).
        var raw: [OptionValue?] = []
        for name in names { raw.append(try OptionNormalization.coveredValue(name, of: request, in: options)) }
        for (index, value) in raw.enumerated() { if let number = value?.number { edges[index] = number } }
        guard edges[2] > edges[0], edges[3] > edges[1] else {
            throw ScanError(
                .invalidValue,
                raw.contains { $0 != nil }
                    ? "the area's right and bottom edges (br-x, br-y) must lie beyond its left and top (tl-x, tl-y)"
                    : "the area lies outside the scanner's bed")
        }
        var actual: [Double] = []
        for (index, name) in names.enumerated() {
            let descriptor = options.activeDescriptor(name)!
            let value = edges[index]
            let typed: OptionValue = raw[index] ?? (descriptor.type == .fixed ? .fixed([value]) : .int([Int(value.rounded())]))
            actual.append(try options.set(name, typed).number ?? value)
        }
        let mm = actual.map { $0 / scale }
        let format = { (value: Double) in value.formatted(.number.precision(.fractionLength(0...2)).grouping(.never)) }
        var settings = ["area": "\(format(mm[0])),\(format(mm[1])),\(format(mm[2] - mm[0])),\(format(mm[3] - mm[1]))"]
        if let paper = request.paper, request.area == nil { settings["paper"] = paper.rawValue }
        // A paper or area the bed cannot hold is scanned as far as the bed goes; the settings say so.
        let asked = [wanted.x, wanted.y, wanted.x + wanted.width, wanted.y + wanted.height]
        if request.area != nil || request.paper != nil, zip(asked, mm).contains(where: { abs($0 - $1) > 0.5 }) {
            settings["clamped"] = "true"
            settings["requestedArea"] = "\(format(wanted.x)),\(format(wanted.y)),\(format(wanted.width)),\(format(wanted.height))"
        }
        return settings
    }
}

/// Any backend option by its SANE name, parsed and checked against its descriptor; those a switched-on layer
/// covers (`OptionNormalization.coveredOptions`) are left to that layer.
public struct RawOptionsLayer: NormalizationLayer {
    public let name = "options"

    public func apply(_ request: ScanRequest, to options: OptionAccess) throws(ScanError) -> [String: String] {
        var settings: [String: String] = [:]
        for (name, text) in request.options.sorted(by: { $0.key < $1.key }) where OptionNormalization.coveringLayer(of: name, in: request) == nil {
            let descriptor = try Self.settableDescriptor(name, in: options.descriptors, active: true)
            let value = try Self.parse(text, for: descriptor)
            settings["option.\(name)"] = try options.set(name, value).description
        }
        return settings
    }

    /// The descriptor of an option a request may set: one the scanner has, that is not read-only, and (with `active`)
    /// that is active with the current settings.
    static func settableDescriptor(_ name: String, in descriptors: [OptionDescriptor], active: Bool) throws(ScanError) -> OptionDescriptor {
        guard let descriptor = descriptors.first(where: { $0.name == name }) else {
            throw ScanError(.unsupportedOption, "this scanner has no option '\(name)'")
        }
        guard !active || descriptor.capabilities.isActive else {
            throw ScanError(.unsupportedOption, "option '\(name)' is inactive with the current settings")
        }
        guard descriptor.capabilities.isSettable else {
            throw ScanError(.unsupportedOption, "option '\(name)' is read-only")
        }
        return descriptor
    }

    /// Parses `text` as a value of the option, checking its constraint.
    public static func parse(_ text: String, for descriptor: OptionDescriptor) throws(ScanError) -> OptionValue {
        let name = descriptor.name
        let invalid = { (why: String) in ScanError(.invalidValue, "\(name)=\(text): \(why)") }
        switch descriptor.type {
        case .bool:
            switch text.lowercased() {
            case "yes", "true", "1", "on": return .bool(true)
            case "no", "false", "0", "off": return .bool(false)
            default: throw invalid("expected yes or no")
            }
        case .int, .fixed:
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            var numbers: [Double] = []
            for part in parts {
                guard let number = Double(part), number.isFinite else { throw invalid("'\(part)' is not a number") }
                if descriptor.type == .int && number != number.rounded() { throw invalid("expected a whole number") }
                numbers.append(number)
            }
            guard !numbers.isEmpty, numbers.count <= descriptor.elementCount else {
                throw invalid("expected \(descriptor.elementCount == 1 ? "one value" : "up to \(descriptor.elementCount) values")")
            }
            for number in numbers { try check(number, descriptor.constraint, invalid) }
            if descriptor.type == .fixed && numbers.contains(where: { abs($0) >= 32768 }) { throw invalid("out of range") }
            if descriptor.type == .int && numbers.contains(where: { abs($0) > Double(Int32.max) }) { throw invalid("out of range") }
            return descriptor.type == .int ? .int(numbers.map { Int($0) }) : .fixed(numbers)
        case .string:
            if case .stringList(let list) = descriptor.constraint {
                guard let entry = list.first(where: { $0 == text }) ?? list.first(where: { $0.lowercased() == text.lowercased() }) else {
                    throw invalid("expected one of \(list.joined(separator: ", "))")
                }
                return .string(entry)
            }
            guard text.utf8.count < descriptor.size else { throw invalid("longer than \(descriptor.size - 1) bytes") }
            return .string(text)
        case .button:
            return .press
        case .group:
            throw ScanError(.unsupportedOption, "'\(name)' is a group title, not an option")
        }
    }

    private static func check(_ number: Double, _ constraint: OptionConstraint, _ invalid: (String) -> ScanError) throws(ScanError) {
        switch constraint {
        case .range(let low, let high, _):
            guard number >= low && number <= high else { throw invalid("outside \(low)…\(high)") }
        case .wordList(let values):
            guard values.contains(where: { abs($0 - number) < 0.0001 }) else {
                throw invalid("expected one of \(values.map { OptionValue.fixed([$0]).description }.joined(separator: ", "))")
            }
        default:
            break
        }
    }
}
