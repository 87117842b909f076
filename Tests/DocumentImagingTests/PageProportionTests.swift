import CounterKitTestSupport
import Foundation
import Testing

@testable import DocumentImaging

/// The flattened page's proportions: what a camera's view of a rectangle says about its true shape, weighed against
/// the measured sides, and a paper size only where the evidence supports it.
@Suite("Document imaging: a page's true proportions and its paper size", .ownThreads)
struct PageProportionTests {
    static let frame = (width: 1600, height: 1200)

    /// A rectangle of `shape` seen by a pinhole camera (principal point at the frame's centre) and found with corner
    /// errors of about `noise` pixels: the corners, the true width over height, and the camera's pose.
    static func view(
        _ shape: PaperShape, random: inout SeededRandom, noise: Double, headOn: Bool = false
    ) -> (corners: [ImagePoint], truth: Double, pose: String) {
        let diagonal = hypot(Double(frame.width), Double(frame.height))
        let focal = diagonal * random.uniform(0.6...2.0)
        let roll = random.uniform(-45...45)
        let tilt = headOn ? random.uniform(-2...2) : random.uniform(-35...35)
        let turn = headOn ? random.uniform(-2...2) : random.uniform(-30...30)
        let landscape = random.uniform(0...1) < 0.3
        let (short, long) = shape.millimetres
        // The page's long side spans 40 to 85 % of the frame's height at the page's distance.
        let span = Double(frame.height) * random.uniform(0.4...0.85)
        let (width, height) = landscape ? (span, span * short / long) : (span * short / long, span)
        let centre = ImagePoint(x: Double(frame.width) / 2 + random.uniform(-150...150), y: Double(frame.height) / 2 + random.uniform(-100...100))
        var corners = SyntheticScenes.project(
            width: width, height: height, roll: roll, tilt: tilt, turn: turn, focal: focal,
            centre: centre, frame: (frame.width, frame.height))
        // Corners as the finder reports them, in reading order after the roll: order does not matter for the shape.
        corners = corners.map { ImagePoint(x: $0.x + random.uniform(-noise...noise), y: $0.y + random.uniform(-noise...noise)) }
        let pose = String(format: "%@ roll %.0f° tilt %.1f° turn %.1f° focal %.2f diagonals", shape.rawValue, roll, tilt, turn, focal / diagonal)
        return (corners, width / height, pose)
    }

    /// The first seed was tuned on; the second was run only once the rule was set.
    @Test(
        "across 3000 camera views, a page is never given a paper size it is not; its proportion is within 1.5 % of the truth in half the views, 6 % in 95 %",
        arguments: [20261207, 4242] as [UInt64])
    func proportionsFollowTheEvidence(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var wrongSnaps: [String] = [], errors: [Double] = [], snapped = 0, total = 0
        for index in 0..<3000 {
            let shape = PaperShape.allCases[index % PaperShape.allCases.count]
            let (corners, truth, pose) = Self.view(shape, random: &random, noise: 1.5, headOn: index % 5 == 0)
            let estimate = PageFlattener.proportion(of: corners, imageWidth: Self.frame.width, imageHeight: Self.frame.height)
            total += 1
            if let found = estimate.shape {
                snapped += 1
                if found != shape { wrongSnaps.append("\(pose): snapped to \(found.rawValue)") }
            }
            let ratio = estimate.shape.map { estimate.widthOverHeight > 1 ? $0.aspect : 1 / $0.aspect } ?? estimate.widthOverHeight
            errors.append(abs(log(ratio / truth)))
        }
        errors.sort()
        let median = errors[errors.count / 2], p95 = errors[Int(Double(errors.count) * 0.95)]
        print(
            "proportions (seed \(seed)): \(snapped) of \(total) views given a paper size, \(wrongSnaps.count) a wrong one; error (log) median \(String(format: "%.4f", median)), 95th percentile \(String(format: "%.3f", p95)), largest \(String(format: "%.3f", errors.last!))"
        )
        #expect(wrongSnaps.isEmpty, "\(wrongSnaps.count) wrong snaps, e.g. \(wrongSnaps.prefix(5))")
        #expect(median < 0.015 && p95 < 0.06, "the proportion's error: median \(median), 95th percentile \(p95)")
        #expect(snapped > total / 2, "most views of real paper sizes are recognised: \(snapped) of \(total)")
    }

    @Test("a page seen head-on keeps its measured sides: small corner errors do not turn A4 into an ID card")
    func headOnViewsKeepTheMeasuredSides() {
        var random = SeededRandom(seed: 33)
        var problems: [String] = []
        for index in 0..<600 {
            let shape = PaperShape.allCases[index % PaperShape.allCases.count]
            let (corners, truth, pose) = Self.view(shape, random: &random, noise: 2, headOn: true)
            let estimate = PageFlattener.proportion(of: corners, imageWidth: Self.frame.width, imageHeight: Self.frame.height)
            if let found = estimate.shape, found != shape { problems.append("\(pose): \(found.rawValue)") }
            if abs(log(estimate.widthOverHeight / truth)) > 0.04 { problems.append("\(pose): ratio \(estimate.widthOverHeight) for \(truth)") }
        }
        #expect(problems.isEmpty, "\(problems.count) problems, e.g. \(problems.prefix(5))")
    }

    @Test("a quadrilateral drawn by hand keeps proportions near its measured sides, and no paper size its sides do not have")
    func handDrawnQuadrilateralsStayNearTheirSides() {
        var random = SeededRandom(seed: 5)
        var problems: [String] = []
        for _ in 0..<1000 {
            // A rectangle of random proportion drawn by a careful hand: each corner up to 2 % of the short side off.
            let width = random.uniform(300...900), height = random.uniform(300...900)
            let x0 = random.uniform(50...(1550 - width)), y0 = random.uniform(50...(1150 - height))
            let wobble = 0.02 * min(width, height)
            let corners = [(x0, y0), (x0 + width, y0), (x0 + width, y0 + height), (x0, y0 + height)].map {
                ImagePoint(x: $0.0 + random.uniform(-wobble...wobble), y: $0.1 + random.uniform(-wobble...wobble))
            }
            let (top, bottom) = (
                hypot(corners[1].x - corners[0].x, corners[1].y - corners[0].y), hypot(corners[2].x - corners[3].x, corners[2].y - corners[3].y)
            )
            let (left, right) = (
                hypot(corners[3].x - corners[0].x, corners[3].y - corners[0].y), hypot(corners[2].x - corners[1].x, corners[2].y - corners[1].y)
            )
            let measured = (top + bottom) / (left + right)
            let estimate = PageFlattener.proportion(of: corners, imageWidth: Self.frame.width, imageHeight: Self.frame.height)
            let ratio = estimate.shape.map { estimate.widthOverHeight > 1 ? $0.aspect : 1 / $0.aspect } ?? estimate.widthOverHeight
            if abs(log(ratio / measured)) > 0.15 || (estimate.shape.map { abs(log($0.aspect / max(measured, 1 / measured))) > 0.06 } ?? false) {
                problems.append(
                    String(format: "%.0fx%.0f measured %.3f gave %.3f%@", width, height, measured, ratio, estimate.shape.map { " (\($0.rawValue))" } ?? ""))
            }
        }
        #expect(
            problems.isEmpty, "\(problems.count) of 1000 swung more than 15 % from their sides or took a paper size 6 % off them, e.g. \(problems.prefix(5))")
    }

    @Test("pages found on the desk scenes (tuned and held out) come out within 1.5 % of their proportion, never as another paper size")
    func foundPagesOnDesks() throws {
        var snapped = 0
        for seed in Array(1...12) + Array(1001...1012) as [UInt64] {
            let scene = try SyntheticScenes.scene(seed: seed)
            let found = try PageFinder.find(in: scene.image)
            let estimate = PageFlattener.proportion(of: found.corners, imageWidth: scene.image.width, imageHeight: scene.image.height)
            let truth = 1 / scene.shape.aspect * (estimate.widthOverHeight > 1 ? scene.shape.aspect * scene.shape.aspect : 1)
            #expect(estimate.shape == nil || estimate.shape == scene.shape, "seed \(seed): \(scene.shape.rawValue) given \(estimate.shape!.rawValue)")
            #expect(abs(log(estimate.widthOverHeight / truth)) < 0.015, "seed \(seed): \(estimate.widthOverHeight) for \(truth)")
            if estimate.shape == scene.shape { snapped += 1 }
        }
        print("desk scenes: \(snapped) of 24 found pages given their paper size")
        #expect(snapped >= 16, "\(snapped) of 24")
    }
}
