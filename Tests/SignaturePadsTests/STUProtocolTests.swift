import SignaturePads
import Testing

@Suite struct STUProtocolTests {
    @Test func penDataReportsDecodeAndEncode() throws {
        let report: [UInt8] = [0x01, 0x93, 0xFF, 0x27, 0x10, 0x13, 0x88]
        let pen = try #require(try STU.PenData(report: report))
        #expect(pen.ready && pen.switches == 1 && pen.touching && pen.pressure == 0x3FF && pen.x == 10_000 && pen.y == 5000)
        #expect(pen.timeCount == nil && pen.sequence == nil && pen.report == report)
        let sample = pen.sample(time: 5, maxPressure: 1023)
        #expect(sample.x == 100 && sample.y == 50 && sample.pressure == 1 && sample.touching)

        let timed: [UInt8] = [0x34, 0x80, 0x00, 0x00, 0x64, 0x00, 0xC8, 0xFF, 0xF0, 0x01, 0x02]
        let hover = try #require(try STU.PenData(report: timed))
        #expect(hover.ready && !hover.touching && hover.x == 100 && hover.timeCount == 0xFFF0 && hover.sequence == 0x0102)
        #expect(hover.report == timed)

        #expect(try STU.PenData(report: [0x03, 0, 0, 0, 0]) == nil, "not pen data")
        let error = #expect(throws: SignaturePadError.self) { try STU.PenData(report: [0x34, 0x80, 0, 0, 0, 0, 0]) }
        #expect(error?.code == .invalidReport)
    }

    @Test func featureReportsDecode() throws {
        let capability = STU.Capability(
            maxX: 10_800, maxY: 6480, maxPressure: 1023, screenWidth: 800, screenHeight: 480,
            maxReportRate: 200, resolution: 2540, encodingFlags: 0x0F)
        #expect(capability.report.count == 15)
        #expect(try STU.Capability(report: capability.report) == capability && capability.colour)

        let name = Array("STU-530".utf8) + [0, 0]
        let information = try STU.Information(report: [0x08] + name + [0x02, 0x10, 0x01, 0x00, 0x01, 0x02, 0x03])
        #expect(information.modelName == "STU-530" && information.firmware == "2.10" && information.secureIC)
        #expect(information.version == [0, 1, 2, 3])

        let status = try STU.Status(report: [0x03, 0x00, 0x05, 0x34, 0x12])
        #expect(status.state == .ready && status.lastResult == 5 && status.statusWord == 0x1234, "the status word is little-endian")
        #expect(try STU.Status(report: [0x03, 0xFF, 0, 0, 0]).state == .reset)
        #expect(try STU.Status(report: [0x03, 0x42, 0, 0, 0]).state == nil)
        #expect(throws: SignaturePadError.self) { try STU.Status(report: [0x09, 0, 0, 0, 0]) }
        #expect(throws: SignaturePadError.self) { try STU.Capability(report: [0x09, 0, 0]) }
    }

    @Test func commandsAndImages() {
        #expect(
            STU.Command.handwritingArea(.init(left: 16, top: 300, right: 784, bottom: 470))
                == [0x2A, 0x10, 0x00, 0x2C, 0x01, 0x10, 0x03, 0xD6, 0x01])
        #expect(STU.Command.inking(true) == [0x21, 1] && STU.Command.endImage(commit: false) == [0x27, 1])
        let blocks = STU.Command.imageBlocks([UInt8](repeating: 0xAB, count: 600))
        #expect(blocks.count == 3 && blocks.allSatisfy { $0.count == 256 && $0[0] == 0x26 })
        #expect(blocks.map { Int($0[1]) | Int($0[2]) << 8 } == [253, 253, 94])
        #expect(blocks[2][3..<97].allSatisfy { $0 == 0xAB } && blocks[2][97...].allSatisfy { $0 == 0 })
        // 10x2: row 0 white except pixel 1; row 1 black except pixel 9. White is 1, MSB first, rows padded.
        var gray = [UInt8](repeating: 255, count: 10) + [UInt8](repeating: 0, count: 10)
        gray[1] = 0
        gray[19] = 255
        #expect(STU.oneBitImage(gray: gray, width: 10, height: 2) == [0b1011_1111, 0b1100_0000, 0b0000_0000, 0b0100_0000])
    }

    @Test func modelsAndLostReports() {
        #expect(STU.model(vendorID: 0x056A, productID: 0xA5)?.name == "STU-530")
        #expect(STU.model(vendorID: 0x056A, productID: 0xA2)?.pressureBits == 9)
        #expect(STU.model(vendorID: 0x056A, productID: 0xA4)?.monochrome == true)
        #expect(STU.model(vendorID: 0x046D, productID: 0xA5) == nil && STU.model(vendorID: 0x056A, productID: 0x01) == nil)

        var sequence = ReportSequence()
        #expect(sequence.record(sequence: 1) == 0 && sequence.record(sequence: 2) == 0 && sequence.record(sequence: 5) == 2)
        #expect(sequence.record(sequence: 0xFFFE) == 0, "a jump backwards is not a loss")
        #expect(sequence.record(sequence: 0x0001) == 2, "0xFFFF and 0x0000 lost across the wrap")
        #expect(sequence.record(sequence: 0x0001) == 0 && sequence.lost == 4)
        #expect(sequence.milliseconds(timeCount: 65_530) == 0)
        #expect(sequence.milliseconds(timeCount: 65_535) == 5)
        #expect(sequence.milliseconds(timeCount: 5) == 11, "the 16-bit clock wrapped")
    }
}
