/// A scanner's options as last read, standing in for the scanner: the normalization layers run against it without
/// opening the device (setting an option records the value as asked).
public final class OptionSnapshot: OptionAccess {
    public var descriptors: [OptionDescriptor]
    /// The values, as set or as read.
    public var values: [String: OptionValue] = [:]

    /// A snapshot of `descriptors` with no values yet.
    public init(_ descriptors: [OptionDescriptor]) { self.descriptors = descriptors }

    /// A snapshot of options as `SANEScanner.options(device:)` read them (values parsed back from their text).
    public convenience init(_ options: DeviceOptions) {
        self.init(options.descriptors)
        for descriptor in options.descriptors {
            if let text = options.values[descriptor.name], let value = try? RawOptionsLayer.parse(text, for: descriptor) {
                values[descriptor.name] = value
            }
        }
    }

    public func value(_ name: String) throws(ScanError) -> OptionValue {
        guard let value = values[name] else { throw ScanError(.unsupportedOption, "option '\(name)' has no value") }
        return value
    }

    public func set(_ name: String, _ value: OptionValue) throws(ScanError) -> OptionValue {
        values[name] = value
        return value
    }
}

/// What can be known to fail before a scan starts, from the scanner's options as last read: a backend option the
/// scanner does not have, a read-only one, a value outside an option's constraint, an area off the bed. The error is
/// the one the scan itself would fail with (same code, same message), so a caller can refuse the request at once
/// instead of accepting a job that is bound to fail. What depends on the device's state (an option that becomes
/// active only once another is set) is left to the scan.
public enum ScanPreflight {
    /// Throws the error the scan would fail with, if it can be told now.
    public static func check(_ request: ScanRequest, against options: DeviceOptions) throws(ScanError) {
        try request.validate()
        try OptionNormalization.checkCoveredOptions(request)
        for (name, text) in request.options.sorted(by: { $0.key < $1.key }) {
            let descriptor = try RawOptionsLayer.settableDescriptor(name, in: options.descriptors, active: false)
            _ = try RawOptionsLayer.parse(text, for: descriptor)
        }
        let snapshot = OptionSnapshot(options)
        let area = ["tl-x", "tl-y", "br-x", "br-y"]
        if request.area != nil || request.paper != nil || area.contains(where: { request.options[$0] != nil }), !request.disabledLayers.contains("area"),
            area.allSatisfy({ snapshot.activeDescriptor($0) != nil })
        {
            _ = try AreaLayer().apply(request, to: snapshot)
        }
    }
}
