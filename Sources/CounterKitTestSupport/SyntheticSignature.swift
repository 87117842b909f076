import Foundation
import SignaturePads

/// A deterministic 10 s signature: a looping stroke of 1990 samples at 200 Hz with rising and falling
/// pressure, a pen lift, and a dot; 2000 samples in all (tests and the rendering benchmark).
public func sampleSignature() -> Signature {
    var samples: [PenSample] = []
    for index in 0..<1990 {
        let t = Double(index) / 1989
        let x = 10 + 60 * t + 6 * sin(t * 18 * .pi)
        let y = 20 + 8 * sin(t * 6 * .pi) + 5 * cos(t * 18 * .pi)
        samples.append(PenSample(time: Double(index) * 5, x: x, y: y, pressure: 0.2 + 0.7 * sin(t * .pi), inRange: true, touching: true))
    }
    for index in 0..<8 { samples.append(PenSample(time: 9950 + Double(index), x: 75, y: 15, pressure: 0, inRange: true, touching: false)) }
    samples.append(PenSample(time: 9990, x: 80, y: 14, pressure: 0.8, inRange: true, touching: true))
    samples.append(PenSample(time: 9995, x: 80, y: 14, pressure: 0.8, inRange: true, touching: true))
    return Signature(
        device: "usb:1-1:0", model: "STU-530", areaWidth: 108, areaHeight: 64.8,
        capturedAt: Date(timeIntervalSince1970: 1_790_000_000), samples: samples, lostReports: 0)
}
