import Attachments
import CounterKitTestSupport
import Foundation
import Testing

@testable import SignaturePads

#if canImport(FoundationXML)
    import FoundationXML
#endif

@Suite struct SignatureOutputTests {
    @Test func strokesAndBounds() {
        let signature = sampleSignature()
        #expect(signature.samples.count == 2000 && signature.strokes.map(\.count) == [1990, 2])
        let bounds = signature.inkBounds!
        #expect(bounds.minX >= 4 && bounds.maxX == 80 && signature.duration == 9995)
    }

    @Test func isoRecordRoundTrips() throws {
        let signature = sampleSignature()
        let bytes = try ISO19794Signature.encode(signature)
        #expect(Array(bytes.prefix(8)) == Array("SDI".utf8) + [0] + Array(" 10".utf8) + [0])
        #expect(bytes[8] == 0xC1 && bytes[9] == 0x60, "X, Y, T, F and S included")
        let record = try ISO19794Signature.decode(bytes)
        #expect(record.points.count == 2000 && record.extendedData == nil)
        #expect(record.scaling["x"] == 100 && record.scaling["y"] == 100 && record.scaling["t"] == 1000)
        for (point, sample) in zip(record.points, signature.samples) {
            #expect(point.x == Int((sample.x * 100).rounded()) && point.y == Int((sample.y * 100).rounded()))
            #expect(point.t == Int(sample.time) && point.f == Int((sample.pressure * 1023).rounded()) && point.s == (sample.touching ? 1 : 0))
        }
        // Header 8 + inclusion 2 + descriptions (X, Y: 7 each; T: 3; F, S: 5 each) + body 1 + 3 + 9 per point.
        #expect(bytes.count == 10 + 27 + 4 + 9 * 2000)
        #expect(ISO19794Signature.scalingValue(100) == [0xB4, 0x80] && ISO19794Signature.scalingValue(1000) == [0xCF, 0xA0])
    }

    @Test func isoRefusesWhatItCannotHold() throws {
        var long = sampleSignature()
        long.samples.append(PenSample(time: 70_000, x: 1, y: 1, pressure: 0, inRange: true, touching: false))
        #expect(throws: SignaturePadError.self) { try ISO19794Signature.encode(long) }
        let bytes = try ISO19794Signature.encode(sampleSignature())
        for cut in [3, 9, 20, 40, bytes.count - 1] {
            let error = #expect(throws: SignaturePadError.self) { try ISO19794Signature.decode(Array(bytes.prefix(cut))) }
            #expect(error?.code == .invalidValue)
        }
    }

    @Test func jsonKeepsTheStrokes() throws {
        let signature = sampleSignature()
        let data = try SignatureJSON.encode(signature)
        let strokes = try SignatureJSON.decodeStrokes(data)
        #expect(strokes.map(\.count) == [1990, 2])
        #expect(abs(strokes[0][100].x - signature.samples[100].x) < 0.001 && strokes[1][0].time == 9990)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"format\":\"counterkit-signature\"") && text.contains("\"model\":\"STU-530\""))
        // The samples' columns are named, so a reader that is not ours knows what each number is.
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["columns"] as? [String] == ["t_ms", "x_mm", "y_mm", "pressure"] && object["version"] as? Int == 2)
        // A document whose columns are something else is refused, not misread.
        let other = text.replacingOccurrences(of: "\"t_ms\",\"x_mm\"", with: "\"x_mm\",\"t_ms\"")
        #expect(throws: (any Error).self) { try SignatureJSON.decodeStrokes(Data(other.utf8)) }
    }

    @Test func pngMatchesTheGoldenImage() throws {
        let directory = try TemporaryDirectory("signature-png")
        let renderer = SignatureRenderer(style: SignatureStyle(size: (600, 200)))
        let output = try OutputFile(creating: directory.path("s.png"))
        let size = try renderer.writePNG(sampleSignature(), to: output)
        try output.close()
        #expect(size.width == 600 && size.height == 200)
        let image = try DecodedImage.png(atPath: directory.path("s.png"))
        #expect(image.width == 600 && image.height == 200 && image.channels == 2)
        let goldenPath = repositoryRoot().appendingPathComponent("fixtures/signatures/sample-600x200.png").path
        if ProcessInfo.processInfo.environment["COUNTERKIT_WRITE_GOLDEN"] == "1" {
            // Regenerating the golden image is a deliberate step: look at the new image before committing it. A run that
            // rewrites it compares nothing, so it does not pass.
            try? FileManager.default.removeItem(atPath: goldenPath)
            try FileManager.default.copyItem(atPath: directory.path("s.png"), toPath: goldenPath)
            Issue.record("the golden image was rewritten (COUNTERKIT_WRITE_GOLDEN=1): look at it, commit it, and run the test again without the variable")
            return
        }
        let golden = try DecodedImage.png(atPath: goldenPath)
        #expect(golden.width == 600 && golden.channels == 2)
        var total = 0, far = 0
        for index in stride(from: 1, to: image.pixels.count, by: 2) {
            let difference = abs(Int(image.pixels[index]) - Int(golden.pixels[index]))
            total += difference
            if difference > 64 { far += 1 }
        }
        #expect(Double(total) / Double(600 * 200) < 1.0 && far < 600, "mean alpha difference and pixels far off")
        #expect(image.pixels[1] == 0, "a transparent corner")
        #expect(stride(from: 1, to: image.pixels.count, by: 2).filter { image.pixels[$0] == 255 }.count > 2000, "solid ink")
    }

    @Test func lineWidthFollowsPressure() throws {
        // A straight line, pressure 0 at the left and 1 at the right, at 10 px per mm.
        let samples = (0...100).map { PenSample(time: Double($0), x: Double($0) * 0.5, y: 10, pressure: Double($0) / 100, inRange: true, touching: true) }
        let signature = Signature(device: "t", model: "t", areaWidth: 60, areaHeight: 20, capturedAt: Date(), samples: samples)
        let renderer = SignatureRenderer(style: SignatureStyle(dotsPerInch: 254, padding: 1, minimumWidth: 0.2, maximumWidth: 2.0))
        let (frame, alpha) = try renderer.coverage(signature)
        func thickness(atMillimetre x: Double) -> Float {
            let column = Int(((x - frame.originX) * frame.scale).rounded())
            return (0..<frame.height).reduce(Float(0)) { $0 + alpha[$1 * frame.width + column] }
        }
        #expect(abs(thickness(atMillimetre: 5) - 3.8) < 0.5, "0.38 mm (3.8 px) at 10% pressure: \(thickness(atMillimetre: 5)) px")
        #expect(abs(thickness(atMillimetre: 45) - 18.2) < 1, "1.82 mm (18.2 px) at 90% pressure: \(thickness(atMillimetre: 45)) px")
    }

    @Test func svgIsWellFormedAndSizedInMillimetres() throws {
        let svg = try SignatureRenderer().svg(sampleSignature())
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\""))
        #expect(svg.contains("mm\" height=\"") && svg.contains("<path d=\"M"))
        let dot = try SignatureRenderer().svg(
            Signature(
                device: "t", model: "t", areaWidth: 9, areaHeight: 9, capturedAt: Date(),
                samples: [
                    PenSample(time: 0, x: 3, y: 3, pressure: 1, inRange: true, touching: true)
                ]))
        #expect(dot.contains("<circle fill=\"#000\" stroke=\"none\" cx=\""), "a single touch is a dot")
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        let widths = Set(svg.components(separatedBy: "stroke-width=\"").dropFirst().map { $0.prefix { $0 != "\"" } })
        #expect(widths.count >= 4, "several widths follow the pressure: \(widths)")
        #expect(throws: SignaturePadError.self) {
            try SignatureRenderer().svg(Signature(device: "t", model: "t", areaWidth: 1, areaHeight: 1, capturedAt: Date(), samples: []))
        }
    }
}
