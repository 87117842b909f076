import CounterKitTestSupport
import Foundation
import SignaturePads
import Testing

/// A report descriptor from fixtures/hid (hex bytes).
func descriptorFixture(_ name: String) throws -> [UInt8] {
    let text = try String(contentsOf: repositoryRoot().appendingPathComponent("fixtures/hid/\(name).hex"), encoding: .utf8)
    return text.split(whereSeparator: \.isWhitespace).map { UInt8($0, radix: 16)! }
}

@Suite struct HIDReportDescriptorTests {
    @Test func nTrigPenWithPushPopAndUnits() throws {
        let descriptor = try HIDReportDescriptor(descriptorFixture("ntrig-1b96-0f00"))
        #expect(descriptor.usesReportIDs)
        #expect(descriptor.collections.contains { $0.usage == .pen && $0.type == 1 })
        let pen = descriptor.fields.filter { $0.kind == .input && $0.reportID == 1 }
        #expect(pen.compactMap(\.usage).prefix(5) == [.inRange, .tipSwitch, .barrelSwitch, .invert, .eraser])
        let x = try #require(pen.first { $0.usage == .x })
        #expect(x.bitOffset == 8 && x.bitSize == 16 && x.logicalMaximum == 0x2580 && x.physicalMaximum == 0x0A03)
        #expect(x.unitExponent == -2 && x.unit == 0x11)
        #expect(abs(x.physical(0x2580) - 256.3) < 1e-9, "25.63 cm")
        // POP restored the globals from before PUSH: pressure has no unit and its own range.
        let pressure = try #require(pen.first { $0.usage == .tipPressure })
        #expect(pressure.bitOffset == 40 && pressure.bitSize == 16 && pressure.logicalMaximum == 256)
        #expect(pressure.unit == 0 && pressure.unitExponent == 0 && pressure.physicalMaximum == 0)
        #expect(descriptor.reportLength(.input, id: 1) == 9)
        // The vendor feature report 0x2D holds 510 bytes; 0x35 is an input report of 4094 bytes.
        #expect(descriptor.reportLength(.feature, id: 0x2D) == 510)
        #expect(descriptor.reportLength(.input, id: 0x35) == 4094)
        #expect(descriptor.reportIDs(.input).contains(2) && descriptor.reportIDs(.feature).contains(0x0C))
    }

    @Test func goodixPenWithSignedTilt() throws {
        let descriptor = try HIDReportDescriptor(descriptorFixture("goodix-gxtp-27c6-0113"))
        let pen = descriptor.fields.filter { $0.kind == .input && $0.reportID == 8 }
        let tilt = try #require(pen.first { $0.usage == .xTilt })
        #expect(tilt.logicalMinimum == -9000 && tilt.logicalMaximum == 9000 && tilt.unit == 0x14 && tilt.unitExponent == -2)
        #expect(tilt.value(in: [UInt8](repeating: 0, count: 8) + [0x6C, 0xEE]) == -4500)  // 0xEE6C
        #expect(abs(tilt.physical(-4500) + 45) < 1e-9, "degrees")
        #expect(pen.first { $0.usage == .x }?.bitOffset == 16)
        #expect(descriptor.collections.filter { $0.usage == HIDUsage(page: 0x0D, id: 0x22) }.count == 5, "five finger collections")
    }

    @Test func rangesArraysExtendedUsagesAndUnsignedMaxima() throws {
        let descriptor = try HIDReportDescriptor([
            0x05, 0x09, 0x19, 0x01, 0x29, 0x03, 0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x03, 0x81, 0x02,  // 3 buttons
            0x95, 0x01, 0x75, 0x05, 0x81, 0x03,  // padding
            0x0B, 0x30, 0x00, 0x01, 0x00, 0x15, 0x00, 0x25, 0xFF, 0x75, 0x08, 0x95, 0x01, 0x81, 0x02,  // extended usage, max 0xFF
            0x05, 0x07, 0x19, 0xE0, 0x29, 0xE7, 0x95, 0x02, 0x81, 0x00,  // an array of keys
        ])
        let inputs = descriptor.fields
        #expect(!descriptor.usesReportIDs)
        #expect(inputs.prefix(3).map { $0.usage } == [HIDUsage(page: 9, id: 1), HIDUsage(page: 9, id: 2), HIDUsage(page: 9, id: 3)])
        #expect(inputs[3].isConstant && inputs[3].bitOffset == 3)
        #expect(inputs[4].usage == .x && inputs[4].bitOffset == 8 && inputs[4].logicalMaximum == 255)
        #expect(inputs[4].value(in: [0x05, 0xC8]) == 200)
        #expect(inputs[0].value(in: [0x05, 0xC8]) == 1 && inputs[1].value(in: [0x05, 0xC8]) == 0)
        #expect(!inputs[5].isVariable && inputs[5].arrayUsages.count == 8 && inputs[5].usage == nil)
        #expect(descriptor.reportLength(.input, id: 0) == 4)
    }

    @Test func brokenDescriptorsAreRefused() {
        let cases: [[UInt8]] = [
            [0x05],  // truncated item
            [0xB4],  // POP without PUSH
            [0xA1, 0x01],  // collection never closed
            [0xC0],  // END_COLLECTION without a collection
            [0x85, 0x00],  // report id 0
            [0x29, 0x05],  // usage maximum without a minimum
            [0x19, 0x00, 0x2A, 0xFF, 0xFF],  // a range of 65536 usages
            [0x75, 0x10, 0x96, 0xFF, 0xFF, 0x81, 0x02],  // a report far over 4096 bytes
            [0x75, 0x00, 0x97, 0xFF, 0xFF, 0xFF, 0x7F, 0x81, 0x02],  // 2^31 zero-bit fields (found by fuzzing: memory ran out)
            [0x77, 0xFF, 0xFF, 0xFF, 0x7F, 0x97, 0xFF, 0xFF, 0xFF, 0x7F, 0x81, 0x03],  // 2^31 constant fields of 2^31 bits each
        ]
        for bytes in cases {
            let error = #expect(throws: SignaturePadError.self, "\(bytes)") { try HIDReportDescriptor(bytes) }
            #expect(error?.code == .invalidDescriptor)
        }
    }
}
