import Attachments
import CounterKitTestSupport
import DocumentImaging
import Foundation

/// Document imaging against its goals and against unpaper, side by side in one run:
/// - the mean Jaccard index of found pages on held-out synthetic scenes (goal ≥ 0.98; SmartDoc 2015's best 0.9716);
/// - the time to find and flatten a page in a 12 MP camera frame (goal < 150 ms);
/// - deskewing 300 dpi A4 scans turned by known angles: residual angle and time, ours against `unpaper`.
func documentBenchmark(work: URL) throws {
    print("== Document imaging")
    // Detection accuracy: scenes never used while tuning (seeds 2001…2040), at 1600x1200.
    var scores: [Double] = [], worst = (1.0, UInt64(0))
    for seed in UInt64(2001)...2040 {
        let scene = try SyntheticScenes.scene(seed: seed, width: 1600, height: 1200)
        let score = (try? PageFinder.find(in: scene.image)).map { PageCorners.jaccard($0.corners, scene.truth) } ?? 0
        scores.append(score)
        if score < worst.0 { worst = (score, seed) }
    }
    let mean = scores.reduce(0, +) / Double(scores.count)
    print("detection   mean Jaccard \(String(format: "%.4f", mean)) over \(scores.count) held-out scenes [goal >= 0.98; SmartDoc 2015 best 0.9716]"
          + "   worst \(String(format: "%.4f", worst.0)) (seed \(worst.1))")

    // A 12 MP frame (4000x3000): find the page and flatten it.
    let big = try SyntheticScenes.scene(seed: 3001, width: 4000, height: 3000)
    var flattenedSize = (0, 0)
    let findAndFlatten = try median(7) {
        let page = try PageFinder.find(in: big.image)
        let flat = try PageFlattener.flatten(big.image, page: page).image
        flattenedSize = (flat.width, flat.height)
    }
    print("12 MP frame find + flatten \(format(findAndFlatten * 1000)) ms [goal < 150 ms]   page \(flattenedSize.0)x\(flattenedSize.1)")

    // Deskew of 300 dpi A4 pages against unpaper on the same pages (PPM in, its own deskew and nothing else).
    var ourErrors: [Double] = [], peerErrors: [Double] = [], ourTimes: [Double] = [], peerTimes: [Double] = []
    var random = SeededRandom(seed: 77)
    for angle in [-4.63, -2.17, -0.91, 1.33, 3.08, 4.77] {
        let page = SyntheticScenes.page(.a4, width: 2480, random: &random)
        // Turned on the bed as a scanner sees it: the uncovered corners are paper-coloured (the lid).
        let scanned = try Deskew.rotate(page, degrees: angle, fill: page.pixels[0])
        var measured = 0.0
        ourTimes.append(try median(3) {
            measured = try Deskew.skew(of: scanned, maxDegrees: 10) ?? 0
            _ = try Deskew.rotate(scanned, degrees: -measured)
        })
        // Ours: the angle found against the angle the page was turned by.
        ourErrors.append(abs(measured - angle))
        // unpaper reads and writes PNM; its deskew runs with its masks and gray filter, the other filters and borders off.
        let input = work.appendingPathComponent("skewed.ppm").path, output = work.appendingPathComponent("unpapered.ppm").path
        try writePPM(scanned, to: input)
        let log = work.appendingPathComponent("unpaper.log").path
        peerTimes.append(median(3) {
            unlink(output)
            let result = spawn(["unpaper", "-v", "--overwrite", "--no-blackfilter", "--no-noisefilter", "--no-blurfilter",
                                "--no-border-scan", "--no-border-align", "--no-wipe", "--no-border",
                                // The same range as ours (its default is 2°). Its gray filter stays on: without it
                                // unpaper finds no mask on these pages and so no rotation.
                                "--deskew-scan-range", "10", input, output], stdout: log)
            precondition(result.status == 0, "unpaper failed (scripts/install-deps --bench installs it)")
        })
        // unpaper -v says the rotation it applied ("rotate (x,y): RADIANS", clockwise positive); none: it found none.
        let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let applied = said.split(separator: "\n").last { $0.hasPrefix("rotate (") }
            .flatMap { $0.split(separator: ":").last }.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) } ?? 0
        peerErrors.append(abs(-applied * 180 / .pi - angle))
    }
    let ourError = ourErrors.reduce(0, +) / Double(ourErrors.count), peerError = peerErrors.reduce(0, +) / Double(peerErrors.count)
    let ourTime = ourTimes.reduce(0, +) / Double(ourTimes.count), peerTime = peerTimes.reduce(0, +) / Double(peerTimes.count)
    print("deskew A4 300 dpi   angle error counterkit \(String(format: "%.3f", ourError))°  unpaper \(String(format: "%.3f", peerError))°"
          + "   time counterkit \(format(ourTime * 1000)) ms  unpaper \(format(peerTime * 1000)) ms (its process and PPM files included)"
          + "   ratios (unpaper/ours): angle error \(format(peerError / max(ourError, 0.001)))x, time \(format(peerTime / ourTime))x")
}

/// A binary PPM (P6) of an RGB image.
private func writePPM(_ image: DocumentImage, to path: String) throws {
    var data = Data("P6\n\(image.width) \(image.height)\n255\n".utf8)
    data.append(contentsOf: image.pixels)
    try data.write(to: URL(fileURLWithPath: path))
}
