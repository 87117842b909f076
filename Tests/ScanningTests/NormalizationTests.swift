import Scanning
import Testing

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
            OptionDescriptor(name: "source", type: .string, size: 32, constraint: .stringList(["ADF Front", "ADF Back", "ADF Duplex"])),
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
}
