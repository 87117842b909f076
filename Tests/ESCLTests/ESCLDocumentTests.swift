import Foundation
import Scanning
import Testing

@testable import ESCL

/// The eSCL documents against the facts of the Mopria eSCL specification: namespaces, element names, units of
/// 1/300 inch, the three formats, and how `ScanSettings` are read and refused.
@Suite struct ESCLDocumentTests {
    /// A scanner like the SANE test backend: flatbed and feeder, three modes, a resolution range, an A4-sized bed.
    static let flatbedAndFeeder = ESCLScannerProfile(
        ScannerCapabilities(
            sources: [.flatbed, .adf], modes: [.color, .gray, .lineart], resolutions: .range(min: 1, max: 1200, step: 1),
            maxAreaMillimetres: [215.9, 296.9]))

    @Test func capabilitiesCarryEveryElementClientsRead() throws {
        let text = Self.flatbedAndFeeder.capabilitiesDocument(
            makeAndModel: "Noname frontend-tester", serialNumber: "test:0",
            uuid: ESCLService.uuid("test:0"), adminURI: nil)
        let document = try #require(ESCLXMLDocument(Data(text.utf8)))
        #expect(document.root == "ScannerCapabilities" && document.rootNamespace == ESCLNamespace.scan)
        #expect(document["Version"] == "2.63" && document["MakeAndModel"] == "Noname frontend-tester")
        let caps = "Platen/PlatenInputCaps/"
        // 215.9 mm = 8.5 in = 2550/300; 296.9 mm rounds down to 3506 (never past the bed).
        #expect(document[caps + "MaxWidth"] == "2550" && document[caps + "MaxHeight"] == "3506")
        #expect(document[caps + "MinWidth"] == "16" && document[caps + "MaxScanRegions"] == "1")
        let profile = caps + "SettingProfiles/SettingProfile/"
        #expect(document[profile + "ColorModes/ColorMode"] == "RGB24")
        #expect(document[profile + "DocumentFormats/DocumentFormat"] == "image/jpeg")
        #expect(document[profile + "SupportedResolutions/DiscreteResolutions/DiscreteResolution/XResolution"] == "75")
        #expect(document["Adf/AdfSimplexInputCaps/MaxWidth"] == "2550")
        #expect(document["Adf/AdfDuplexInputCaps/MaxWidth"] == nil, "no duplex caps for a simplex feeder")
        // Every mode, format and usual resolution in the range is listed, as discrete values (sane-airscan prefers them).
        for value in ["RGB24", "Grayscale8", "BlackAndWhite1", "image/png", "application/pdf", ">1200<", ">300<", ">600<"] {
            #expect(text.contains(value), "\(value) is missing")
        }
        #expect(text.contains("xmlns:pwg=\"\(ESCLNamespace.pwg)\""))
        #expect(Self.flatbedAndFeeder.resolutions == [75, 100, 150, 200, 240, 300, 400, 600, 1200])
        let uuid = ESCLService.uuid("test:0")
        #expect(uuid == ESCLService.uuid("test:0") && uuid != ESCLService.uuid("test:1"))
        #expect(uuid.range(of: "^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$", options: .regularExpression) != nil)
    }

    @Test func aListOfResolutionsAndADuplexFeederAreOfferedAsTheyAre() throws {
        let profile = ESCLScannerProfile(
            ScannerCapabilities(
                sources: [.adf, .duplex], modes: [.gray], resolutions: .list([150, 300, 600]),
                maxAreaMillimetres: nil))
        #expect(profile.resolutions == [150, 300, 600] && profile.colorModes == ["Grayscale8"])
        #expect(!profile.platen && profile.adf && profile.duplex)
        #expect(profile.maxWidth == 2550 && profile.maxHeight == 3508, "an unknown bed is taken as A4 and Letter")
        // Without area options, a region is not passed on (eSCL regions need not be honoured).
        let region = "<pwg:ScanRegions><pwg:ScanRegion><pwg:Width>300</pwg:Width><pwg:Height>300</pwg:Height></pwg:ScanRegion></pwg:ScanRegions>"
        #expect(try ESCLScanSettings(document: Self.settings(region + "<pwg:InputSource>Feeder</pwg:InputSource>"), profile: profile).region == nil)
        let text = profile.capabilitiesDocument(makeAndModel: "m", serialNumber: "s", uuid: "u", adminURI: nil)
        #expect(text.contains("<scan:AdfDuplexInputCaps>") && !text.contains("<scan:Platen>") && text.contains("<scan:AdfOption>Duplex"))
        let txt = ESCLAdvertiser.txtRecord(device: "ckduplex:pad", model: "CounterKit duplex", profile: profile, isDefault: false)
        #expect(txt.contains("rs=devices/ckduplex%3Apad/eSCL") && txt.contains("is=adf") && txt.contains("duplex=T") && txt.contains("cs=grayscale"))
    }

    static func settings(_ body: String) -> Data {
        Data(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <scan:ScanSettings xmlns:scan="\(ESCLNamespace.scan)" xmlns:pwg="\(ESCLNamespace.pwg)">
            <pwg:Version>2.0</pwg:Version>\(body)</scan:ScanSettings>
            """.utf8)
    }

    @Test func scanSettingsBecomeAScanRequestInMillimetres() throws {
        let settings = try ESCLScanSettings(
            document: Self.settings(
                """
                <scan:Intent>Document</scan:Intent>
                <pwg:ScanRegions pwg:MustHonor="false"><pwg:ScanRegion>
                  <pwg:ContentRegionUnits>escl:ThreeHundredthsOfInches</pwg:ContentRegionUnits>
                  <pwg:XOffset>300</pwg:XOffset><pwg:YOffset>150</pwg:YOffset><pwg:Width>1200</pwg:Width><pwg:Height>900</pwg:Height>
                </pwg:ScanRegion></pwg:ScanRegions>
                <pwg:InputSource>Feeder</pwg:InputSource><scan:ColorMode>Grayscale8</scan:ColorMode>
                <pwg:DocumentFormat>image/png</pwg:DocumentFormat><scan:DocumentFormatExt>image/png</scan:DocumentFormatExt>
                <scan:XResolution>150</scan:XResolution><scan:YResolution>150</scan:YResolution><scan:Duplex>false</scan:Duplex>
                """), profile: Self.flatbedAndFeeder)
        let request = settings.scanRequest(device: "test:0")
        #expect(request.source == .adf && request.mode == .gray && request.resolution == 150 && request.format == .png)
        #expect(request.area == ScanArea(x: 25.4, y: 12.7, width: 101.6, height: 76.2))
        let defaults = try ESCLScanSettings(document: Self.settings(""), profile: Self.flatbedAndFeeder).scanRequest(device: "d")
        #expect(defaults.source == .flatbed && defaults.mode == .color && defaults.resolution == 300 && defaults.format == .jpeg)
        #expect(defaults.area == nil && defaults.quality == 95)
        let whole = "<pwg:ScanRegions><pwg:ScanRegion><pwg:Width>2550</pwg:Width><pwg:Height>3506</pwg:Height></pwg:ScanRegion></pwg:ScanRegions>"
        #expect(try ESCLScanSettings(document: Self.settings(whole), profile: Self.flatbedAndFeeder).region == nil, "the whole bed is no area")
    }

    @Test(arguments: [
        ("not xml <", 400), ("<a/>", 400),
        ("<pwg:InputSource>Camera</pwg:InputSource>", 409),
        ("<pwg:InputSource>Feeder</pwg:InputSource><scan:Duplex>true</scan:Duplex>", 409),
        ("<scan:ColorMode>RGB48</scan:ColorMode>", 409),
        ("<scan:XResolution>300</scan:XResolution><scan:YResolution>600</scan:YResolution>", 409),
        ("<scan:XResolution>301</scan:XResolution>", 409),
        ("<scan:XResolution>-3</scan:XResolution>", 400),
        ("<pwg:DocumentFormat>image/tiff</pwg:DocumentFormat>", 409),
        ("<pwg:ScanRegions><pwg:ScanRegion><pwg:Width>2600</pwg:Width><pwg:Height>100</pwg:Height></pwg:ScanRegion></pwg:ScanRegions>", 409),
        ("<pwg:ScanRegions><pwg:ScanRegion><pwg:ContentRegionUnits>escl:Millimeters</pwg:ContentRegionUnits></pwg:ScanRegion></pwg:ScanRegions>", 409),
    ])
    func settingsTheScannerCannotHonourAreRefusedWithTheirStatus(body: String, status: Int) {
        let data = body.hasPrefix("<pwg") || body.hasPrefix("<scan") ? Self.settings(body) : Data(body.utf8)
        do {
            _ = try ESCLScanSettings(document: data, profile: Self.flatbedAndFeeder)
            Issue.record("accepted: \(body)")
        } catch {
            #expect(error.status == status, "\(body): \(error.message)")
            #expect(!error.message.isEmpty)
        }
    }

    @Test func listenAddressesAreLoopbackUnlessGiven() throws {
        let port = try ESCLConfiguration(parsing: "9090")
        #expect(port.host == "127.0.0.1" && port.port == 9090 && port.isLoopback)
        let lan = try ESCLConfiguration(parsing: "192.0.2.10:8080")
        #expect(lan.host == "192.0.2.10" && !lan.isLoopback)
        #expect(try ESCLConfiguration(parsing: "[::1]:80").host == "::1")
        #expect(throws: ESCLError.self) { try ESCLConfiguration(parsing: "host:") }
        #expect(throws: ESCLError.self) { try ESCLConfiguration(parsing: "70000") }
    }
}
