import Attachments
import DocumentImaging
import Foundation

extension SeededRandom {
    /// A uniformly distributed value in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &self) }
}

/// Ground truth made here: pages drawn with text lines, a table, a photo and a red seal, then put at a known
/// perspective onto varied desks under uneven light, with a soft shadow, noise and JPEG compression.
public enum SyntheticScenes {
    /// What a scene is: the camera frame and where the page truly is in it.
    public struct Scene: Sendable {
        /// The camera frame.
        public let image: DocumentImage
        /// The page's true corners in it.
        public let truth: [ImagePoint]
        /// The page's paper.
        public let shape: PaperShape
        /// The desk's kind.
        public let background: String
    }

    static func set(_ pixels: inout [UInt8], _ width: Int, _ x: Int, _ y: Int, _ rgb: (UInt8, UInt8, UInt8)) {
        let index = (y * width + x) * 3
        pixels[index] = rgb.0
        pixels[index + 1] = rgb.1
        pixels[index + 2] = rgb.2
    }

    static func fill(_ pixels: inout [UInt8], _ width: Int, _ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ rgb: (UInt8, UInt8, UInt8)) {
        let height = pixels.count / (width * 3)
        for y in max(y0, 0)..<min(y1, height) {
            for x in max(x0, 0)..<min(x1, width) { set(&pixels, width, x, y, rgb) }
        }
    }

    /// A page of `shape` at `width` pixels: paper, a title, lines of text, a table, a photo block and a red seal (the
    /// photo and the seal when asked).
    public static func page(
        _ shape: PaperShape, width: Int, random: inout SeededRandom, blank: Bool = false,
        photo: Bool = true, seal: Bool = true
    ) -> DocumentImage {
        let height = Int((Double(width) * shape.aspect).rounded())
        let tone = UInt8(240 + Int(random.uniform(0...12)))
        var pixels = [UInt8](repeating: tone, count: width * height * 3)
        if !blank {
            let margin = width / 10
            let ink: (UInt8, UInt8, UInt8) = (30, 30, 40)
            let lineHeight = max(width / 60, 3)
            var y = margin
            fill(&pixels, width, margin, y, width - 2 * margin, y + lineHeight * 2, ink)  // the title
            y += lineHeight * 5
            while y < height / 2 {
                var x = margin
                while x < width - margin {
                    let word = Int(random.uniform(Double(lineHeight * 2)...Double(lineHeight * 7)))
                    fill(&pixels, width, x, y, min(x + word, width - margin), y + lineHeight, ink)
                    x += word + lineHeight
                }
                y += lineHeight * 2 + lineHeight / 2
            }
            // A table of 4 x 5 cells.
            let top = height / 2 + lineHeight * 2, bottom = top + height / 5
            for row in 0...5 { fill(&pixels, width, margin, top + row * (bottom - top) / 5, width - margin, top + row * (bottom - top) / 5 + 2, ink) }
            for column in 0...4 {
                let x = margin + column * (width - 2 * margin) / 4
                fill(&pixels, width, x, top, x + 2, bottom + 2, ink)
            }
            // A photo: a gray gradient with texture, in the lower left.
            let photoTop = bottom + lineHeight * 3, photoBottom = min(photoTop + height / 7, height - margin)
            for py in photoTop..<(photo ? photoBottom : photoTop) {
                for px in margin..<(margin + width / 4) {
                    let value = UInt8(clamping: 60 + (px - margin) * 120 / (width / 4) + Int(random.uniform(-20...20)))
                    set(&pixels, width, px, py, (value, value, value))
                }
            }
            // The red seal: a ring with a star-ish centre, lower right.
            let cx = width - margin - width / 8, cy = photoTop + (photoBottom - photoTop) / 2, radius = Double(width / 9)
            for py in max(cy - Int(radius) - 2, 0)..<min(cy + Int(radius) + 2, height) where seal {
                for px in max(cx - Int(radius) - 2, 0)..<min(cx + Int(radius) + 2, width) {
                    let distance = hypot(Double(px - cx), Double(py - cy))
                    if (distance > radius - 4 && distance < radius) || distance < radius / 4 { set(&pixels, width, px, py, (200, 30, 35)) }
                }
            }
        }
        // swiftlint:disable:next force_try
        return try! DocumentImage(width: width, height: height, channels: 3, pixels: pixels)
    }

    /// A desk texture.
    public static func background(_ kind: Int, width: Int, height: Int, random: inout SeededRandom) -> (DocumentImage, String) {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let phase = random.uniform(0...6.28)
        let names = ["wood", "dark desk", "green mat", "light gray", "coloured noise", "blue cloth"]
        for y in 0..<height {
            for x in 0..<width {
                let noise = Double.random(in: -1...1, using: &random)
                let rgb: (Double, Double, Double)
                switch kind % names.count {
                case 0:  // wood: brown with grain along x
                    let grain = sin(Double(y) / 7 + sin(Double(x) / 90 + phase) * 3) * 18
                    rgb = (150 + grain + noise * 8, 100 + grain * 0.7 + noise * 6, 60 + grain * 0.4 + noise * 5)
                case 1: rgb = (45 + noise * 10, 42 + noise * 10, 40 + noise * 10)
                case 2:  // a cutting mat with a grid
                    let line = (x % 40 < 2 || y % 40 < 2) ? 40.0 : 0
                    rgb = (40 + line + noise * 6, 110 + line + noise * 6, 70 + line + noise * 6)
                case 3: rgb = (175 + noise * 12, 175 + noise * 12, 170 + noise * 12)  // low contrast with paper
                case 4:
                    rgb = (
                        120 + 60 * sin(Double(x) / 23 + phase) + noise * 30, 110 + 50 * cos(Double(y) / 31) + noise * 30,
                        100 + 40 * sin(Double(x + y) / 17) + noise * 30
                    )
                default: rgb = (60 + noise * 8 + 10 * sin(Double(x) / 3), 80 + noise * 8, 140 + noise * 8 + 10 * sin(Double(y) / 3))
                }
                set(&pixels, width, x, y, (UInt8(clamping: Int(rgb.0)), UInt8(clamping: Int(rgb.1)), UInt8(clamping: Int(rgb.2))))
            }
        }
        // swiftlint:disable:next force_try
        return (try! DocumentImage(width: width, height: height, channels: 3, pixels: pixels), names[kind % names.count])
    }

    /// Where a `width` x `height` rectangle's corners (top-left, top-right, bottom-right, bottom-left) appear to a
    /// pinhole camera (focal length `focal` pixels, principal point the frame's centre) when the rectangle is turned
    /// `roll` degrees in its plane, tilted `tilt` degrees about its horizontal axis and `turn` about its vertical one,
    /// at the distance where its untilted image would be `width` x `height` pixels, seen around `centre`.
    public static func project(
        width: Double, height: Double, roll: Double, tilt: Double, turn: Double, focal: Double,
        centre: ImagePoint, frame: (Int, Int)
    ) -> [ImagePoint] {
        let r = roll * .pi / 180, a = tilt * .pi / 180, b = turn * .pi / 180
        let principal = (Double(frame.0) / 2, Double(frame.1) / 2)
        // The centre's ray, so that the page's middle lands on `centre`.
        let ray = ((centre.x - principal.0) / focal, (centre.y - principal.1) / focal)
        return [(-width / 2, -height / 2), (width / 2, -height / 2), (width / 2, height / 2), (-width / 2, height / 2)].map { corner in
            // In the page's plane: roll; then tilt about x, turn about y (a rotation in space); distance `focal`.
            let x0 = corner.0 * cos(r) - corner.1 * sin(r), y0 = corner.0 * sin(r) + corner.1 * cos(r)
            let y1 = y0 * cos(a), z1 = y0 * sin(a)
            let x2 = x0 * cos(b) + z1 * sin(b), z2 = -x0 * sin(b) + z1 * cos(b)
            let z = focal + z2
            let x = x2 + ray.0 * focal, y = y1 + ray.1 * focal
            return ImagePoint(x: principal.0 + focal * x / z, y: principal.1 + focal * y / z)
        }
    }

    /// Scene number `seed`: a page or a card at a random rotation (within ±45°) and perspective on a random desk.
    public static func scene(seed: UInt64, width: Int = 1200, height: Int = 900) throws -> Scene {
        var random = SeededRandom(seed: seed)
        let shapes: [PaperShape] = [.a4, .a4, .letter, .id1]
        let shape = shapes[Int(seed % UInt64(shapes.count))]
        let (desk, name) = background(Int((seed / 4) % 6), width: width, height: height, random: &random)
        let page = page(shape, width: shape == .id1 ? 540 : 700, random: &random)
        // The page's size in the frame, its rotation, position, and each corner pulled by the perspective.
        // A real camera: the page turned in its plane (±45°), tilted towards the camera (up to 25° about both axes),
        // and projected through a pinhole at the frame's centre with a phone-like focal length.
        let roll = random.uniform(-45...45), tilt = random.uniform(-25...25), turn = random.uniform(-20...20)
        let focal = Double(width) * random.uniform(0.9...1.5)
        var truth: [ImagePoint] = []
        for _ in 0..<20 {
            let short = Double(min(width, height)) * random.uniform(0.38...0.62)
            let long = short * shape.aspect
            let (w, h) = shape == .id1 ? (long, short) : (short, long)
            let centre = ImagePoint(
                x: Double(width) / 2 + random.uniform(-0.12...0.12) * Double(width),
                y: Double(height) / 2 + random.uniform(-0.1...0.1) * Double(height))
            truth = project(
                width: w, height: h, roll: roll, tilt: tilt, turn: turn, focal: focal, centre: centre,
                frame: (width, height))
            if truth.allSatisfy({ $0.x > 8 && $0.y > 8 && $0.x < Double(width - 8) && $0.y < Double(height - 8) }) { break }
        }
        var frame = try PagePlacement.place(page, at: truth, on: desk)
        // Uneven light (a gradient across the frame), a soft shadow over one side, sensor noise.
        let lightAngle = random.uniform(0...6.28), dim = random.uniform(0.55...0.8)
        let shadowX = random.uniform(0.2...0.8) * Double(width), shadowWidth = Double(width) * 0.25
        for y in 0..<height {
            for x in 0..<width {
                let along = (Double(x) / Double(width) - 0.5) * cos(lightAngle) + (Double(y) / Double(height) - 0.5) * sin(lightAngle)
                var light = dim + (1.05 - dim) * (along + 0.5)
                let shadow = max(0, 1 - abs(Double(x) - shadowX) / shadowWidth)
                light *= 1 - 0.25 * shadow * shadow
                let index = (y * width + x) * 3
                for channel in 0..<3 {
                    let value = Double(frame.pixels[index + channel]) * light + Double.random(in: -6...6, using: &random)
                    frame.pixels[index + channel] = UInt8(clamping: Int(value.rounded()))
                }
            }
        }
        // As a camera stores it: JPEG, quality 80.
        let jpeg = try frame.pixels.withUnsafeBytes { pixels in
            try JPEGMemoryEncoder(quality: 80).encode(pixels, format: .rgb8, width: width, height: height)
        }
        return Scene(image: try DocumentImage.decodeJPEG([UInt8](jpeg)), truth: truth, shape: shape, background: name)
    }
}
