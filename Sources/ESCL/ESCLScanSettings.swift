import Foundation
import Scanning

/// A client's `ScanSettings` document (the body of `POST ScanJobs`), checked and turned into a `ScanRequest`.
public struct ESCLScanSettings: Sendable, Equatable {
    /// Where the paper comes from.
    public var source: ScanSource
    /// The colour mode.
    public var mode: ScanMode
    /// Dots per inch (eSCL's `XResolution`; a different `YResolution` is refused).
    public var resolution: Int
    /// The region in 1/300 inch (x, y, width, height); nil: the whole bed.
    public var region: (x: Int, y: Int, width: Int, height: Int)?
    /// The document format's media type.
    public var format: String

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.source == rhs.source && lhs.mode == rhs.mode && lhs.resolution == rhs.resolution && lhs.format == rhs.format
            && lhs.region.map { [$0.x, $0.y, $0.width, $0.height] } == rhs.region.map { [$0.x, $0.y, $0.width, $0.height] }
    }

    /// Reads a `ScanSettings` document against the scanner's profile. A body that is not such a document is 400;
    /// settings the scanner cannot honour (a source it lacks, an unknown mode or format, a region off the bed) are 409.
    public init(document data: Data, profile: ESCLScannerProfile) throws(ESCLError) {
        guard let document = ESCLXMLDocument(data) else { throw ESCLError(.badRequest, "the body is not well-formed XML") }
        guard document.root == "ScanSettings", document.rootNamespace == ESCLNamespace.scan else {
            throw ESCLError(.badRequest, "the body is not an eSCL ScanSettings document (its root is \(document.root))")
        }
        let duplex = document["Duplex"].map { $0 == "true" || $0 == "1" } ?? false
        switch document["InputSource"] {
        case "Platen": source = .flatbed
        case "Feeder": source = duplex ? .duplex : .adf
        case nil: source = profile.platen ? .flatbed : .adf
        case let other?: throw ESCLError(.conflict, "input source \(other) is not offered (Platen or Feeder)")
        }
        let offered =
            switch source {
            case .flatbed: profile.platen
            case .adf: profile.adf
            case .duplex: profile.duplex
            }
        guard offered else { throw ESCLError(.conflict, "this scanner has no \(duplex ? "duplex " : "")\(source == .flatbed ? "platen" : "feeder")") }
        let colorMode = document["ColorMode"] ?? (profile.colorModes.contains("RGB24") ? "RGB24" : profile.colorModes[0])
        guard profile.colorModes.contains(colorMode) else {
            throw ESCLError(.conflict, "colour mode \(colorMode) is not offered (\(profile.colorModes.joined(separator: ", ")))")
        }
        mode =
            switch colorMode {
            case "Grayscale8": .gray
            case "BlackAndWhite1": .lineart
            default: .color
            }
        let x = try Self.number(document, "XResolution"), y = try Self.number(document, "YResolution")
        if let x, let y, x != y { throw ESCLError(.conflict, "XResolution \(x) and YResolution \(y) differ; this scanner takes one") }
        // Unsaid, the resolution is the offered one nearest 300 dpi.
        resolution = x ?? y ?? profile.resolutions.min { abs($0 - 300) < abs($1 - 300) } ?? 300
        guard profile.resolutions.contains(resolution) else {
            throw ESCLError(.conflict, "\(resolution) dpi is not offered (\(profile.resolutions.map(String.init).joined(separator: ", ")))")
        }
        format = document["DocumentFormatExt"] ?? document["DocumentFormat"] ?? "image/jpeg"
        guard ESCLScannerProfile.documentFormats.contains(format) else {
            throw ESCLError(.conflict, "document format \(format) is not offered (\(ESCLScannerProfile.documentFormats.joined(separator: ", ")))")
        }
        let prefix = "ScanRegions/ScanRegion/"
        if let units = document[prefix + "ContentRegionUnits"], units != "escl:ThreeHundredthsOfInches" {
            throw ESCLError(.conflict, "region units \(units) are not supported (escl:ThreeHundredthsOfInches)")
        }
        if let width = try Self.number(document, prefix + "Width"), let height = try Self.number(document, prefix + "Height") {
            let left = try Self.number(document, prefix + "XOffset") ?? 0, top = try Self.number(document, prefix + "YOffset") ?? 0
            guard width > 0, height > 0, left + width <= profile.maxWidth, top + height <= profile.maxHeight else {
                throw ESCLError(
                    .conflict,
                    "the region \(width)x\(height)+\(left)+\(top) (1/300 in) is empty or off the bed "
                        + "(\(profile.maxWidth)x\(profile.maxHeight))")
            }
            // The whole bed is no area (the backend's own default); a backend without area options scans what it scans
            // (eSCL regions are MustHonor="false").
            let whole = left == 0 && top == 0 && width >= profile.maxWidth && height >= profile.maxHeight
            region = profile.hasArea && !whole ? (left, top, width, height) : nil
        } else {
            region = nil
        }
    }

    private static func number(_ document: ESCLXMLDocument, _ path: String) throws(ESCLError) -> Int? {
        guard let text = document[path] else { return nil }
        guard let value = Int(text), value >= 0 else { throw ESCLError(.badRequest, "\(path) must be a whole number, got '\(text)'") }
        return value
    }

    /// The scan this asks of `device`: the region in millimetres, JPEG at quality 95 (near-lossless: sharp colour edges keep 35 dB and more), and for a feeder every page.
    public func scanRequest(device: String) -> ScanRequest {
        let millimetres = { (units: Int) in Double(units) * 25.4 / 300 }
        let output: ScanOutputFormat =
            switch format {
            case "image/png": .png
            case "application/pdf": .pdf
            default: .jpeg
            }
        var request = ScanRequest(
            device: device, source: source, mode: mode, resolution: Double(resolution),
            area: region.map {
                ScanArea(
                    x: millimetres($0.x), y: millimetres($0.y),
                    width: millimetres($0.width), height: millimetres($0.height))
            },
            format: output, quality: output == .png ? nil : 95)
        // libsane's escl client reads only RGB (or palette) PNG: a gray page goes out as RGB with equal samples, which
        // sane-airscan turns back into exactly the same gray (its luma weights sum to one).
        request.grayAsRGB = output == .png && mode == .gray ? true : nil
        return request
    }
}

/// An eSCL request that cannot be served: the HTTP status eSCL clients act on, and a message for people.
public struct ESCLError: Error, Sendable, Equatable {
    /// What went wrong, as eSCL answers it.
    public enum Kind: Sendable, Equatable {
        /// 400: the request is malformed.
        case badRequest
        /// 404: no such scanner, job or document.
        case notFound
        /// 409: the scanner cannot do what the settings ask, or its feeder is empty.
        case conflict
        /// 503: the scanner is busy with another job (answered with `Retry-After`).
        case busy
        /// 500: the scan failed for another reason.
        case failed
    }

    /// The kind, which sets the status.
    public var kind: Kind
    /// A message for people.
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The HTTP status code.
    public var status: Int {
        switch kind {
        case .badRequest: 400
        case .notFound: 404
        case .conflict: 409
        case .busy: 503
        case .failed: 500
        }
    }
}
