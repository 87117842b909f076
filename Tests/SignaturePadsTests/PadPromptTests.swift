import CounterKitTestSupport
import Foundation
import SignaturePads
import Testing

@Suite struct PadPromptTests {
    /// Rows holding ink in the text area, grouped into bands (lines of text).
    func textBands(_ pixels: [UInt8], width: Int, below limit: Int) -> Int {
        var bands = 0, inBand = false
        for y in 0..<limit {
            let ink = (0..<width).contains { pixels[y * width + $0] < 128 }
            if ink && !inBand { bands += 1 }
            inBand = ink
        }
        return bands
    }

    @Test func aPromptWrapsAboveTheSigningLine() throws {
        let short = try PadPrompt(text: "Sign here", width: 320, height: 200).render()
        let long = try PadPrompt(text: "I confirm that the information in this application is true and complete", width: 320, height: 200).render()
        let line = PadPrompt(text: "", width: 320, height: 200).signingLineRow
        #expect(short.count == 320 * 200 && (8..<312).allSatisfy { short[line * 320 + $0] == 0 })
        #expect(textBands(short, width: 320, below: line - 20) == 1)
        #expect(textBands(long, width: 320, below: line - 20) == 2, "wrapped to the screen's width")
        #expect(throws: SignaturePadError.self) { try PadPrompt(text: "x", width: 0, height: 10).render() }
        if ProcessInfo.processInfo.environment["COUNTERKIT_WRITE_GOLDEN"] == "1" {
            // For looking at: a PGM of the long prompt.
            try Data(Array("P5\n320 200\n255\n".utf8) + long).write(to: URL(fileURLWithPath: "/tmp/prompt.pgm"))
        }
    }
}
