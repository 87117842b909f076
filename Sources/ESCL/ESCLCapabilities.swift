import Scanning

/// A scanner as eSCL clients see it, from its normalized options: sources, colour modes, resolutions, the bed.
/// Lengths are in eSCL's unit, 1/300 inch.
public struct ESCLScannerProfile: Sendable, Equatable {
    /// The colour modes by eSCL name (`RGB24`, `Grayscale8`, `BlackAndWhite1`).
    public var colorModes: [String]
    /// Resolutions offered, in dots per inch (always a list: a backend's range becomes the usual steps within it).
    public var resolutions: [Int]
    /// The largest area, in 1/300 inch (width, height).
    public var maxWidth: Int, maxHeight: Int
    /// Whether the scanner has a flatbed, a feeder, and a feeder that scans both sides.
    public var platen: Bool, adf: Bool, duplex: Bool
    /// Whether the backend gives its bed's size and takes a scan area (else the area is assumed, and regions ignored).
    public var hasArea: Bool

    /// The formats served: JPEG, PNG and PDF.
    public static let documentFormats = ["image/jpeg", "image/png", "application/pdf"]
    /// Resolutions a range is offered as, where it allows them.
    static let usualResolutions = [75, 100, 150, 200, 240, 300, 400, 600, 1200]
    /// The area assumed when a backend does not give its bed's size: A4 and Letter both fit (216 x 297 mm).
    static let assumedArea = (width: 2550, height: 3508)

    /// Derives the profile from a scanner's normalized capabilities.
    public init(_ capabilities: ScannerCapabilities) {
        var modes: [String] = []
        for mode in capabilities.modes {
            switch mode {
            case .color: modes.append("RGB24")
            case .gray: modes.append("Grayscale8")
            case .lineart: modes.append("BlackAndWhite1")
            }
        }
        colorModes = modes.isEmpty ? ["RGB24"] : modes
        switch capabilities.resolutions {
        case .list(let values):
            resolutions = values.filter { $0 == $0.rounded() && $0 >= 1 }.map { Int($0) }
        case .range(let low, let high, let step):
            resolutions = Self.usualResolutions.filter { value in
                Double(value) >= low && Double(value) <= high
                    && (step <= 0 || (Double(value) - low).truncatingRemainder(dividingBy: step) == 0)
            }
            if resolutions.isEmpty, low == low.rounded() { resolutions = [Int(low)] }
        case nil:
            resolutions = []
        }
        if resolutions.isEmpty { resolutions = [Int(ScanRequest.defaultResolution)] }
        if let area = capabilities.maxAreaMillimetres, area.count == 2 {
            maxWidth = Self.units(millimetres: area[0])
            maxHeight = Self.units(millimetres: area[1])
            hasArea = true
        } else {
            (maxWidth, maxHeight) = Self.assumedArea
            hasArea = false
        }
        platen = capabilities.sources.contains(.flatbed)
        duplex = capabilities.sources.contains(.duplex)
        adf = capabilities.sources.contains(.adf) || duplex
    }

    /// Millimetres in 1/300 inch, rounded down (an area never reaches past the bed).
    static func units(millimetres: Double) -> Int { Int((millimetres / 25.4 * 300).rounded(.down)) }

    /// The `ScannerCapabilities` document. `uuid` names the scanner for clients across restarts; `adminURI` is
    /// where a person reads more about it.
    public func capabilitiesDocument(makeAndModel: String, serialNumber: String, uuid: String, adminURI: String?) -> String {
        var xml = ESCLXMLWriter(root: "scan:ScannerCapabilities")
        xml.element("pwg:Version", "2.63")
        xml.element("pwg:MakeAndModel", makeAndModel)
        xml.element("pwg:SerialNumber", serialNumber)
        xml.element("scan:UUID", uuid)
        if let adminURI { xml.element("scan:AdminURI", adminURI) }
        if platen {
            xml.enter("scan:Platen")
            inputCaps(&xml, name: "scan:PlatenInputCaps")
            xml.leave()
        }
        if adf {
            xml.enter("scan:Adf")
            inputCaps(&xml, name: "scan:AdfSimplexInputCaps")
            if duplex { inputCaps(&xml, name: "scan:AdfDuplexInputCaps") }
            if duplex {
                xml.enter("scan:AdfOptions")
                xml.element("scan:AdfOption", "Duplex")
                xml.leave()
            }
            xml.leave()
        }
        return xml.finish()
    }

    private func inputCaps(_ xml: inout ESCLXMLWriter, name: String) {
        xml.enter(name)
        xml.element("scan:MinWidth", min(16, maxWidth))
        xml.element("scan:MaxWidth", maxWidth)
        xml.element("scan:MinHeight", min(16, maxHeight))
        xml.element("scan:MaxHeight", maxHeight)
        xml.element("scan:MaxScanRegions", 1)
        xml.enter("scan:SettingProfiles")
        xml.enter("scan:SettingProfile")
        xml.enter("scan:ColorModes")
        for mode in colorModes { xml.element("scan:ColorMode", mode) }
        xml.leave()
        xml.enter("scan:DocumentFormats")
        for format in Self.documentFormats { xml.element("pwg:DocumentFormat", format) }
        for format in Self.documentFormats { xml.element("scan:DocumentFormatExt", format) }
        xml.leave()
        xml.enter("scan:SupportedResolutions")
        xml.enter("scan:DiscreteResolutions")
        for resolution in resolutions {
            xml.enter("scan:DiscreteResolution")
            xml.element("scan:XResolution", resolution)
            xml.element("scan:YResolution", resolution)
            xml.leave()
        }
        xml.leave()
        xml.leave()
        xml.enter("scan:ColorSpaces")
        xml.element("scan:ColorSpace", "sRGB")
        xml.leave()
        xml.leave()
        xml.leave()
        xml.enter("scan:SupportedIntents")
        for intent in ["Document", "TextAndGraphic", "Photo", "Preview"] { xml.element("scan:Intent", intent) }
        xml.leave()
        xml.element("scan:MaxOpticalXResolution", resolutions.max() ?? 300)
        xml.element("scan:MaxOpticalYResolution", resolutions.max() ?? 300)
        xml.element("scan:RiskyLeftMargin", 0)
        xml.element("scan:RiskyRightMargin", 0)
        xml.element("scan:RiskyTopMargin", 0)
        xml.element("scan:RiskyBottomMargin", 0)
        xml.leave()
    }
}
