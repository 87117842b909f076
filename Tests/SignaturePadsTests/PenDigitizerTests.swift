import Foundation
import SignaturePads
import Testing

@Suite struct PenDigitizerTests {
    @Test func nTrigReportsDecodeInMillimetres() throws {
        let pen = try PenDigitizer(descriptor: HIDReportDescriptor(descriptorFixture("ntrig-1b96-0f00")))
        #expect(pen.reportID == 1 && pen.pressure != nil && pen.tiltX == nil)
        #expect(abs(pen.size.width - 256.3) < 1e-9 && abs(pen.size.height - 144.1) < 1e-9)
        // In range + tip, X 4800 of 9600, Y 3600 of 7200, pressure 128 of 256.
        let report: [UInt8] = [0x01, 0b0000_0011, 0xC0, 0x12, 0x10, 0x0E, 0x80, 0x00, 0x00, 0x00]
        let sample = try #require(try pen.decode(report, time: 12))
        #expect(sample.inRange && sample.touching && !sample.barrel && !sample.eraser)
        #expect(abs(sample.x - 128.15) < 1e-9 && abs(sample.y - 72.05) < 1e-9 && sample.pressure == 0.5 && sample.time == 12)
        // Hovering with the barrel button: in range, not touching.
        let hover = try #require(try pen.decode([0x01, 0b0000_0101, 0, 0, 0, 0, 0, 0, 0, 0], time: 13))
        #expect(hover.inRange && !hover.touching && hover.barrel && hover.x == 0)
        // Eraser via the Invert bit.
        #expect(try pen.decode([0x01, 0b0000_1001, 0, 0, 0, 0, 0, 0, 0, 0], time: 14)?.eraser == true)
        // Another report id is not the pen's; a cut pen report is refused.
        #expect(try pen.decode([0x02, 0, 0, 0], time: 15) == nil)
        let error = #expect(throws: SignaturePadError.self) { try pen.decode([0x01, 0x03, 0xC0], time: 16) }
        #expect(error?.code == .invalidReport)
    }

    @Test func goodixReportsCarryPressureAndTilt() throws {
        let pen = try PenDigitizer(descriptor: HIDReportDescriptor(descriptorFixture("goodix-gxtp-27c6-0113")))
        #expect(pen.reportID == 8)
        // Tip + in range (bit 5), contact id, X 2560 of 5120, Y 0, pressure 4095, tilt X -45.00°, tilt Y 30.00°.
        var report: [UInt8] = [0x08, 0b0010_0001, 0x00, 0x00, 0x0A, 0x00, 0x00, 0xFF, 0x0F]
        report += [0x6C, 0xEE, 0xB8, 0x0B]
        let sample = try #require(try pen.decode(report, time: 0))
        #expect(sample.touching && sample.inRange && sample.pressure == 1)
        #expect(abs(sample.x - 91.15) < 1e-9, "half of 182.3 mm")
        #expect(sample.tiltX.map { abs($0 + 45) < 1e-9 } == true && sample.tiltY.map { abs($0 - 30) < 1e-9 } == true)
    }

    @Test func aDescriptorWithoutAPenIsUnsupported() throws {
        // A three-button mouse with relative X and Y on the Generic Desktop page.
        let mouse = try HIDReportDescriptor([
            0x05, 0x01, 0x09, 0x02, 0xA1, 0x01, 0x09, 0x01, 0xA1, 0x00, 0x05, 0x09, 0x19, 0x01, 0x29, 0x03, 0x15, 0x00,
            0x25, 0x01, 0x95, 0x03, 0x75, 0x01, 0x81, 0x02, 0x95, 0x01, 0x75, 0x05, 0x81, 0x03, 0x05, 0x01, 0x09, 0x30,
            0x09, 0x31, 0x15, 0x81, 0x25, 0x7F, 0x75, 0x08, 0x95, 0x02, 0x81, 0x06, 0xC0, 0xC0,
        ])
        let error = #expect(throws: SignaturePadError.self) { try PenDigitizer(descriptor: mouse) }
        #expect(error?.code == .unsupportedDevice)
    }
}
