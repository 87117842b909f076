/// One pen sample in physical units, as a driver decodes it from a report.
public struct PenSample: Sendable, Equatable, Codable {
    /// Milliseconds, from the device's clock when it has one, else from the host's arrival time.
    public var time: Double
    /// Millimetres from the digitizer's origin (top left).
    public var x: Double
    /// Y in millimetres from the top edge.
    public var y: Double
    /// 0…1 of the pen's pressure range.
    public var pressure: Double
    /// The pen is near enough to be tracked.
    public var inRange: Bool
    /// The tip touches the surface.
    public var touching: Bool
    /// The barrel (side) button is pressed.
    public var barrel: Bool
    /// The eraser end is in use.
    public var eraser: Bool
    /// Tilt from the vertical in degrees, when the digitizer reports it.
    public var tiltX: Double?
    /// Tilt along Y in degrees, when the pen reports it.
    public var tiltY: Double?

    /// Creates a sample.
    public init(
        time: Double, x: Double, y: Double, pressure: Double, inRange: Bool, touching: Bool,
        barrel: Bool = false, eraser: Bool = false, tiltX: Double? = nil, tiltY: Double? = nil
    ) {
        self.time = time
        self.x = x
        self.y = y
        self.pressure = pressure
        self.inRange = inRange
        self.touching = touching
        self.barrel = barrel
        self.eraser = eraser
        self.tiltX = tiltX
        self.tiltY = tiltY
    }
}

/// The generic HID digitizer driver: finds the pen in a report descriptor (a Pen application or
/// Stylus collection on the Digitizer page with X and Y) and decodes its input reports.
public struct PenDigitizer: Sendable {
    /// The input report carrying the pen.
    public let reportID: UInt8
    /// Whether reports start with the report-id byte.
    public let usesReportIDs: Bool
    /// The pen's fields by usage.
    public let x: HIDField, y: HIDField
    /// The tip switch, in-range and pressure fields, when the pen has them.
    public let tipSwitch: HIDField?, inRange: HIDField?, pressure: HIDField?
    /// The barrel switch, eraser and invert fields, when the pen has them.
    public let barrel: HIDField?, eraser: HIDField?, invert: HIDField?
    /// The tilt fields, when the pen has them.
    public let tiltX: HIDField?, tiltY: HIDField?

    /// Width and height of the active area in millimetres.
    public var size: (width: Double, height: Double) {
        (x.physical(x.logicalMaximum) - x.physical(x.logicalMinimum), y.physical(y.logicalMaximum) - y.physical(y.logicalMinimum))
    }

    /// Finds the pen; `unsupported_device` when the descriptor has none.
    public init(descriptor: HIDReportDescriptor) throws(SignaturePadError) {
        let penFields = descriptor.fields.filter { field in
            field.kind == .input && field.isVariable && !field.isConstant
                && (descriptor.collection(field.collection, isInside: .pen) || descriptor.collection(field.collection, isInside: .stylus))
        }
        guard
            let report = Set(penFields.map(\.reportID)).sorted().first(where: { id in
                penFields.contains { $0.reportID == id && $0.usage == .x } && penFields.contains { $0.reportID == id && $0.usage == .y }
            })
        else {
            throw SignaturePadError(.unsupportedDevice, "the report descriptor has no pen with X and Y on the Digitizer page")
        }
        let fields = penFields.filter { $0.reportID == report }
        func field(_ usage: HIDUsage) -> HIDField? { fields.first { $0.usage == usage } }
        reportID = report
        usesReportIDs = descriptor.usesReportIDs
        x = field(.x)!
        y = field(.y)!
        tipSwitch = field(.tipSwitch)
        inRange = field(.inRange)
        pressure = field(.tipPressure)
        barrel = field(.barrelSwitch)
        eraser = field(.eraser)
        invert = field(.invert)
        tiltX = field(.xTilt)
        tiltY = field(.yTilt)
    }

    /// Decodes one input report (with its report-id byte when the device uses ids). Reports of other
    /// ids give nil; a pen report too short for its fields is `invalid_report`.
    public func decode(_ report: [UInt8], time: Double) throws(SignaturePadError) -> PenSample? {
        var data = report[...]
        if usesReportIDs {
            guard let id = data.first, id == reportID else { return nil }
            data = data.dropFirst()
        }
        guard let rawX = x.value(in: data), let rawY = y.value(in: data) else {
            throw SignaturePadError(.invalidReport, "pen report \(reportID) of \(report.count) bytes is too short")
        }
        func flag(_ field: HIDField?) -> Bool { field.flatMap { $0.value(in: data) }.map { $0 != 0 } ?? false }
        let touching = flag(tipSwitch) || (tipSwitch == nil && (pressure.flatMap { $0.value(in: data) } ?? 0) > 0)
        var pressureValue = 0.0
        if let pressure, let raw = pressure.value(in: data), pressure.logicalMaximum > pressure.logicalMinimum {
            pressureValue = Double(raw - pressure.logicalMinimum) / Double(pressure.logicalMaximum - pressure.logicalMinimum)
        } else if touching {
            pressureValue = 1  // a pen without pressure draws at full weight
        }
        return PenSample(
            time: time, x: x.physical(rawX), y: y.physical(rawY), pressure: min(max(pressureValue, 0), 1),
            inRange: inRange == nil ? true : flag(inRange), touching: touching, barrel: flag(barrel),
            eraser: flag(eraser) || flag(invert),
            tiltX: tiltX.flatMap { field in field.value(in: data).map { field.physical($0) } },
            tiltY: tiltY.flatMap { field in field.value(in: data).map { field.physical($0) } })
    }
}
