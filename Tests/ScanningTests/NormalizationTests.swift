import Testing

@testable import Scanning

/// Recorded descriptors standing in for a backend (the seam below the normalization layers).
typealias RecordedOptions = OptionSnapshot

@Suite struct NormalizationTests {
    @Test(arguments: [
        ("Flatbed", ScanSource.flatbed), ("Document Table", .flatbed), ("ADF", .adf), ("ADF Front", .adf),
        ("Automatic Document Feeder", .adf), ("ADF Duplex", .duplex), ("Duplex", .duplex), ("ADF Back", .adf),
    ])
    func sourcesMapFromVendorNames(vendor: String, expected: ScanSource) {
        #expect(SourceLayer.classify(vendor) == expected)
    }

    @Test(arguments: [
        ("Color", ScanMode.color), ("24bit Color", .color), ("Gray", .gray), ("Grayscale", .gray),
        ("Lineart", .lineart), ("Black & White", .lineart), ("Binary", .lineart), ("True Gray", .gray),
    ])
    func modesMapFromVendorNames(vendor: String, expected: ScanMode) {
        #expect(ModeLayer.classify(vendor) == expected)
    }

    @Test func vendorListsArePickedCorrectly() throws {
        let options = RecordedOptions([
            OptionDescriptor(name: "source", type: .string, size: 32, constraint: .stringList(["Flatbed", "ADF Front", "ADF Duplex"])),
            OptionDescriptor(name: "mode", type: .string, size: 32, constraint: .stringList(["Lineart", "Halftone", "24bit Color", "Gray"])),
        ])
        let settings = try OptionNormalization.apply(ScanRequest(source: .duplex, mode: .color), to: options)
        #expect(options.values["source"] == .string("ADF Duplex"))
        #expect(options.values["mode"] == .string("24bit Color"))
        #expect(settings["source"] == "duplex" && settings["mode"] == "color")
        _ = try OptionNormalization.apply(ScanRequest(source: .adf, mode: .lineart), to: options)
        #expect(options.values["source"] == .string("ADF Front") && options.values["mode"] == .string("Lineart"))
        // With a back-only entry listed before duplex (Fujitsu's order), duplex is still "ADF Duplex".
        let fujitsu = RecordedOptions([
            OptionDescriptor(name: "source", type: .string, size: 32, constraint: .stringList(["ADF Front", "ADF Back", "ADF Duplex"]))
        ])
        _ = try OptionNormalization.apply(ScanRequest(source: .duplex), to: fujitsu)
        #expect(fujitsu.values["source"] == .string("ADF Duplex"))
        _ = try OptionNormalization.apply(ScanRequest(source: .adf), to: fujitsu)
        #expect(fujitsu.values["source"] == .string("ADF Front"))
    }

    @Test func resolutionSnapsToTheNearestSupportedValue() {
        #expect(ResolutionLayer.nearest(310, .wordList([75, 150, 300, 600])) == 300)
        #expect(ResolutionLayer.nearest(500, .wordList([75, 150, 300, 600])) == 600)
        #expect(ResolutionLayer.nearest(301, .range(min: 50, max: 1200, quant: 25)) == 300)
        #expect(ResolutionLayer.nearest(5000, .range(min: 50, max: 1200, quant: 0)) == 1200)
        #expect(ResolutionLayer.nearest(10, .range(min: 50, max: 1200, quant: 0)) == 50)
    }

    @Test func areaIsConvertedForPixelUnitsAndClamped() throws {
        let pixels = { (name: String) in
            OptionDescriptor(name: name, type: .int, unit: .pixel, constraint: .range(min: 0, max: 2550, quant: 1))
        }
        let options = RecordedOptions([
            OptionDescriptor(name: "resolution", type: .int, unit: .dpi, constraint: .wordList([150, 300])),
            pixels("tl-x"), pixels("tl-y"), pixels("br-x"), pixels("br-y"),
        ])
        let settings = try OptionNormalization.apply(ScanRequest(resolution: 300, paper: .id1), to: options)
        #expect(options.values["br-x"] == .int([1011]))  // 85.6 mm at 300 dpi
        #expect(options.values["br-y"] == .int([638]))
        #expect(settings["paper"] == "ID1")
        let a4 = try OptionNormalization.apply(ScanRequest(resolution: 300, paper: .a4), to: options)
        #expect(options.values["br-y"] == .int([2550]))  // clamped to the bed
        #expect(a4["area"] == "0,0,209.97,215.9")  // 2480 px at 300 dpi
    }

    @Test func layersCanBeSwitchedOff() throws {
        let options = RecordedOptions([
            OptionDescriptor(name: "mode", type: .string, size: 32, constraint: .stringList(["Gray", "Color"])),
            OptionDescriptor(name: "resolution", type: .int, unit: .dpi, constraint: .range(min: 50, max: 600, quant: 0)),
        ])
        _ = try OptionNormalization.apply(ScanRequest(disabledLayers: ["mode"]), to: options)
        #expect(options.values["mode"] == nil && options.values["resolution"] == .int([300]))
    }

    @Test func rawValuesAreParsedAgainstTheirDescriptors() throws {
        let array = OptionDescriptor(name: "gamma", type: .int, size: 12, constraint: .range(min: 0, max: 255, quant: 1))
        #expect(try RawOptionsLayer.parse("1,2,3", for: array) == .int([1, 2, 3]))
        #expect(throws: ScanError.self) { try RawOptionsLayer.parse("1,2,3,4", for: array) }
        let fixed = OptionDescriptor(name: "x", type: .fixed, constraint: .wordList([-32.7, 12.1, 42]))
        #expect(try RawOptionsLayer.parse("12.1", for: fixed) == .fixed([12.1]))
        #expect(throws: ScanError.self) { try RawOptionsLayer.parse("12.2", for: fixed) }
        let text = OptionDescriptor(name: "s", type: .string, size: 4)
        #expect(throws: ScanError.self) { try RawOptionsLayer.parse("toolong", for: text) }
        #expect(try RawOptionsLayer.parse("abc", for: text) == .string("abc"))
    }

    /// A feeder scanner as recorded: the descriptors the covered-option tests run against.
    static func feederScanner() -> RecordedOptions {
        let millimetres = { (name: String, high: Double) in
            OptionDescriptor(name: name, type: .fixed, unit: .mm, constraint: .range(min: 0, max: high, quant: 0))
        }
        return RecordedOptions([
            OptionDescriptor(name: "source", type: .string, size: 32, constraint: .stringList(["Flatbed", "Automatic Document Feeder"])),
            OptionDescriptor(name: "mode", type: .string, size: 32, constraint: .stringList(["Gray", "Color"])),
            OptionDescriptor(name: "depth", type: .int, constraint: .wordList([1, 8, 16])),
            OptionDescriptor(name: "resolution", type: .fixed, unit: .dpi, constraint: .range(min: 1, max: 1200, quant: 0)),
            millimetres("tl-x", 200), millimetres("tl-y", 200), millimetres("br-x", 200), millimetres("br-y", 200),
            OptionDescriptor(name: "test-picture", type: .string, size: 32, constraint: .stringList(["Grid", "Color pattern"])),
        ])
    }

    /// A raw option that a layer also sets becomes that setting: the scanner gets exactly the raw value, and the
    /// settings (the page loop's and the manifest's) name what it is, never the default the layer would have used.
    @Test func coveredRawOptionsBecomeTheirSettings() throws {
        let options = Self.feederScanner()
        let request = ScanRequest(options: [
            "source": "Automatic Document Feeder", "mode": "Gray", "resolution": "50",
            "br-x": "30", "br-y": "30", "depth": "16", "test-picture": "Grid",
        ])
        let settings = try OptionNormalization.apply(request, to: options)
        #expect(options.values["source"] == .string("Automatic Document Feeder") && options.values["mode"] == .string("Gray"))
        #expect(options.values["resolution"] == .fixed([50]) && options.values["depth"] == .int([16]))
        #expect(options.values["tl-x"] == .fixed([0]) && options.values["br-x"] == .fixed([30]) && options.values["br-y"] == .fixed([30]))
        #expect(settings["source"] == "adf" && settings["source.vendor"] == "Automatic Document Feeder")
        #expect(settings["mode"] == "gray" && settings["mode.vendor"] == "Gray" && settings["depth"] == "16")
        #expect(settings["resolution"] == "50" && settings["area"] == "0,0,30,30")
        // Covered options are settings, not also raw entries; the others stay raw.
        #expect(settings["option.source"] == nil && settings["option.mode"] == nil && settings["option.br-x"] == nil)
        #expect(settings["option.test-picture"] == "Grid")
        #expect(settings["clamped"] == nil)
    }

    /// The same setting given both ways is fine when they agree, and `invalid_value` naming both when they do not;
    /// the preflight refuses it before any job exists.
    @Test func aSettingGivenTwiceMustAgree() throws {
        let options = Self.feederScanner()
        let agreeing = ScanRequest(
            source: .adf, mode: .gray, resolution: 50, options: ["source": "Automatic Document Feeder", "mode": "gray", "resolution": "50"])
        let settings = try OptionNormalization.apply(agreeing, to: options)
        #expect(settings["source"] == "adf" && settings["mode"] == "gray" && settings["resolution"] == "50")
        let conflicts: [(ScanRequest, String)] = [
            (ScanRequest(source: .flatbed, options: ["source": "Automatic Document Feeder"]), "source"),
            (ScanRequest(mode: .color, options: ["mode": "Gray"]), "mode"),
            (ScanRequest(resolution: 300, options: ["resolution": "50"]), "resolution"),
            (ScanRequest(paper: .a5, options: ["br-y": "30"]), "scan area"),
            (ScanRequest(area: ScanArea(x: 0, y: 0, width: 10, height: 10), options: ["tl-x": "3"]), "scan area"),
        ]
        for (request, setting) in conflicts {
            let error = #expect(throws: ScanError.self) { try OptionNormalization.apply(request, to: Self.feederScanner()) }
            #expect(error?.code == .invalidValue && error?.message.contains("\(setting) is given twice") == true, "\(error?.message ?? "")")
            let preflight = #expect(throws: ScanError.self) {
                try ScanPreflight.check(
                    request,
                    against: DeviceOptions(
                        device: ScannerInfo(id: "test:0", vendor: "", model: "", type: ""),
                        descriptors: Self.feederScanner().descriptors, values: [:]))
            }
            #expect(preflight?.message == error?.message)
        }
    }

    /// A raw area edge is taken in the option's unit; edges that cross are refused.
    @Test func rawAreaEdgesMustEnclosePixels() {
        let error = #expect(throws: ScanError.self) {
            try OptionNormalization.apply(ScanRequest(options: ["tl-x": "40", "br-x": "30"]), to: Self.feederScanner())
        }
        #expect(error?.code == .invalidValue && error?.message.contains("br-x") == true)
    }

    /// With its layer switched off, a covered option is set as a raw one; the source is read back, so that the page
    /// loop and the manifest still follow the feeder the scanner was given.
    @Test func aCoveredOptionWhoseLayerIsOffIsRawAndTheSourceIsReadBack() throws {
        let options = Self.feederScanner()
        let settings = try OptionNormalization.apply(ScanRequest(options: ["source": "Automatic Document Feeder"], disabledLayers: ["source"]), to: options)
        #expect(options.values["source"] == .string("Automatic Document Feeder"))
        #expect(settings["option.source"] == "Automatic Document Feeder" && settings["source"] == "adf")
    }

    /// A device's configured options sit beneath the request: one that sets what the request sets itself gives way.
    @Test func deviceDefaultsGiveWayToTheRequestsOwnSettings() {
        let defaults = ["mode": "Gray", "depth": "16", "resolution": "50", "br-x": "30", "source": "Automatic Document Feeder", "test-picture": "Grid"]
        let asked = ScanRequest(source: .flatbed, mode: .color, paper: .a5, options: ["test-picture": "Color pattern"]).withDeviceDefaults(defaults)
        #expect(asked.options == ["depth": "16", "resolution": "50", "test-picture": "Color pattern"], "depth is no field of a request")
        let plain = ScanRequest().withDeviceDefaults(defaults)
        #expect(plain.options == defaults)
    }
}
