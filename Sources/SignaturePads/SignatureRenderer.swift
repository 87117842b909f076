import Attachments

/// How a signature is drawn.
public struct SignatureStyle: Sendable, Equatable {
    /// Output size in pixels; the ink (with padding) is fitted inside, keeping its proportions.
    /// When nil, `dotsPerInch` sets the scale.
    public var size: (width: Int, height: Int)?
    /// Scale when no size is given.
    public var dotsPerInch: Double
    /// Margin around the ink in millimetres.
    public var padding: Double
    /// Line width in millimetres at no pressure and at full pressure.
    public var minimumWidth: Double
    /// The widest stroke, at full pressure, in millimetres.
    public var maximumWidth: Double
    /// Curve points inserted between two samples (Catmull-Rom), for smooth lines.
    public var smoothing: Int

    /// The defaults: 300 dpi, 2 mm padding, 0.3–0.9 mm lines.
    public init(
        size: (width: Int, height: Int)? = nil, dotsPerInch: Double = 300, padding: Double = 2,
        minimumWidth: Double = 0.3, maximumWidth: Double = 0.9, smoothing: Int = 4
    ) {
        self.size = size
        self.dotsPerInch = dotsPerInch
        self.padding = padding
        self.minimumWidth = minimumWidth
        self.maximumWidth = maximumWidth
        self.smoothing = smoothing
    }

    public static func == (a: SignatureStyle, b: SignatureStyle) -> Bool {
        a.size?.width == b.size?.width && a.size?.height == b.size?.height && a.dotsPerInch == b.dotsPerInch
            && a.padding == b.padding && a.minimumWidth == b.minimumWidth && a.maximumWidth == b.maximumWidth && a.smoothing == b.smoothing
    }
}

/// Draws signatures: anti-aliased ink whose width follows the pressure, along smooth curves through
/// the samples, cropped to the ink with padding, on a transparent background (PNG, gray + alpha),
/// and the same curves as SVG.
public struct SignatureRenderer: Sendable {
    /// The drawing style.
    public var style: SignatureStyle

    /// A renderer drawing in `style`.
    public init(style: SignatureStyle = SignatureStyle()) { self.style = style }

    /// A point of the smoothed line in output units, with its half width.
    struct InkPoint { var x: Double; var y: Double; var radius: Double }

    /// The mapping from millimetres to pixels: origin (mm) and scale (px per mm), and the canvas.
    struct Frame { var originX: Double; var originY: Double; var scale: Double; var width: Int; var height: Int }

    func frame(_ signature: Signature) throws(SignaturePadError) -> Frame {
        guard let bounds = signature.inkBounds else { throw SignaturePadError(.invalidValue, "the signature has no ink") }
        let maximumHalfWidth = style.maximumWidth / 2
        let left = bounds.minX - style.padding - maximumHalfWidth, top = bounds.minY - style.padding - maximumHalfWidth
        let inkWidth = bounds.maxX - bounds.minX + 2 * (style.padding + maximumHalfWidth)
        let inkHeight = bounds.maxY - bounds.minY + 2 * (style.padding + maximumHalfWidth)
        if let size = style.size {
            guard size.width > 0, size.height > 0, size.width <= 10_000, size.height <= 10_000 else {
                throw SignaturePadError(.invalidValue, "image size \(size.width)x\(size.height) is outside 1…10000")
            }
            let scale = min(Double(size.width) / inkWidth, Double(size.height) / inkHeight)
            // Centre the ink in the requested canvas.
            return Frame(
                originX: left - (Double(size.width) / scale - inkWidth) / 2, originY: top - (Double(size.height) / scale - inkHeight) / 2,
                scale: scale, width: size.width, height: size.height)
        }
        guard style.dotsPerInch > 0, style.dotsPerInch <= 2400 else { throw SignaturePadError(.invalidValue, "dpi must be 1…2400") }
        let scale = style.dotsPerInch / 25.4
        let width = Int((inkWidth * scale).rounded(.up)), height = Int((inkHeight * scale).rounded(.up))
        guard width <= 10_000, height <= 10_000 else { throw SignaturePadError(.invalidValue, "image would be \(width)x\(height) pixels") }
        return Frame(originX: left, originY: top, scale: scale, width: width, height: height)
    }

    /// Each stroke as smoothed points in frame units (pixels, or millimetres with scale 1).
    func inkLines(_ signature: Signature, _ frame: Frame) -> [[InkPoint]] {
        signature.strokes.map { stroke in
            let points = stroke.map { sample in
                InkPoint(
                    x: (sample.x - frame.originX) * frame.scale, y: (sample.y - frame.originY) * frame.scale,
                    radius: (style.minimumWidth + (style.maximumWidth - style.minimumWidth) * sample.pressure) * frame.scale / 2)
            }
            guard points.count > 2, style.smoothing > 0 else { return points }
            var smooth: [InkPoint] = [points[0]]
            for index in 0..<points.count - 1 {
                let p0 = points[max(index - 1, 0)], p1 = points[index], p2 = points[index + 1], p3 = points[min(index + 2, points.count - 1)]
                for step in 1...style.smoothing {
                    let t = Double(step) / Double(style.smoothing)
                    smooth.append(
                        InkPoint(
                            x: catmullRom(p0.x, p1.x, p2.x, p3.x, t), y: catmullRom(p0.y, p1.y, p2.y, p3.y, t),
                            radius: p1.radius + (p2.radius - p1.radius) * t))
                }
            }
            return smooth
        }
    }

    private func catmullRom(_ p0: Double, _ p1: Double, _ p2: Double, _ p3: Double, _ t: Double) -> Double {
        let t2 = t * t, t3 = t2 * t
        return 0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3)
    }

    /// Ink coverage 0…1 per pixel, row by row.
    func coverage(_ signature: Signature) throws(SignaturePadError) -> (frame: Frame, alpha: [Float]) {
        let frame = try frame(signature)
        var alpha = [Float](repeating: 0, count: frame.width * frame.height)
        for line in inkLines(signature, frame) {
            if line.count == 1 { stamp(line[0], line[0], into: &alpha, frame) }
            for (a, b) in zip(line, line.dropFirst()) { stamp(a, b, into: &alpha, frame) }
        }
        return (frame, alpha)
    }

    /// A capsule from `a` to `b` whose radius goes from a's to b's; coverage by distance, one pixel of anti-aliasing.
    private func stamp(_ a: InkPoint, _ b: InkPoint, into alpha: inout [Float], _ frame: Frame) {
        let reach = max(a.radius, b.radius) + 1
        let minX = max(Int((min(a.x, b.x) - reach).rounded(.down)), 0), maxX = min(Int((max(a.x, b.x) + reach).rounded(.up)), frame.width - 1)
        let minY = max(Int((min(a.y, b.y) - reach).rounded(.down)), 0), maxY = min(Int((max(a.y, b.y) + reach).rounded(.up)), frame.height - 1)
        guard minX <= maxX, minY <= maxY else { return }
        let dx = b.x - a.x, dy = b.y - a.y, lengthSquared = dx * dx + dy * dy
        for y in minY...maxY {
            let py = Double(y) + 0.5
            for x in minX...maxX {
                let px = Double(x) + 0.5
                let t = lengthSquared == 0 ? 0 : min(max(((px - a.x) * dx + (py - a.y) * dy) / lengthSquared, 0), 1)
                let cx = a.x + t * dx - px, cy = a.y + t * dy - py
                let radius = a.radius + (b.radius - a.radius) * t
                let cover = Float(min(max(radius - (cx * cx + cy * cy).squareRoot() + 0.5, 0), 1))
                let index = y * frame.width + x
                if cover > alpha[index] { alpha[index] = cover }
            }
        }
    }

    /// Writes the signature as a transparent PNG (black ink, gray + alpha) to `output`; returns its size in pixels.
    @discardableResult
    public func writePNG(_ signature: Signature, to output: OutputFile) throws(SignaturePadError) -> (width: Int, height: Int) {
        let (frame, alpha) = try coverage(signature)
        let image = ImageDescription(format: .grayAlpha8, width: frame.width, height: frame.height, dpi: frame.scale * 25.4)
        do throws(AttachmentError) {
            let encoder = try ImageFileFormat.png(.default).makeEncoder(image: image, output: output)
            let row = RowBuffer(count: image.bytesPerRow)  // zeroed: gray 0, black ink
            for y in 0..<frame.height {
                for x in 0..<frame.width { row.bytes[x * 2 + 1] = UInt8((alpha[y * frame.width + x] * 255).rounded()) }
                try encoder.write(row: UnsafeRawBufferPointer(row.bytes))
            }
            try encoder.finish()
        } catch {
            throw SignaturePadError(.ioError, "writing the signature PNG: \(error.message)")
        }
        return (frame.width, frame.height)
    }

    /// The ink as vector pieces in millimetres, cropped like the PNG (origin at the top-left, y down): each stroke a run
    /// of polylines whose width follows the pressure in 8 steps, and a dot for a stroke of one sample. What the SVG and
    /// a PDF appearance draw.
    public func inkDrawing(_ signature: Signature) throws(SignaturePadError) -> InkDrawing {
        var millimetres = try frame(signature)
        let width = Double(millimetres.width) / millimetres.scale, height = Double(millimetres.height) / millimetres.scale
        millimetres.scale = 1
        var drawing = InkDrawing(width: width, height: height)
        for line in inkLines(signature, millimetres) {
            if line.count == 1 {
                drawing.dots.append(InkDrawing.Dot(x: line[0].x, y: line[0].y, radius: line[0].radius))
                continue
            }
            var index = 0
            while index < line.count - 1 {
                let step = widthStep(line[index].radius)
                var points = [InkDrawing.Point(x: line[index].x, y: line[index].y)]
                while index < line.count - 1, widthStep(line[index].radius) == step {
                    points.append(InkDrawing.Point(x: line[index + 1].x, y: line[index + 1].y))
                    index += 1
                }
                let strokeWidth = style.minimumWidth + (style.maximumWidth - style.minimumWidth) * (Double(step) + 0.5) / 8
                drawing.lines.append(InkDrawing.Line(points: points, width: strokeWidth))
            }
        }
        return drawing
    }

    /// The signature as SVG in millimetres: each stroke a run of smooth path pieces whose width follows
    /// the pressure (8 width steps), round caps and joins, cropped like the PNG.
    public func svg(_ signature: Signature) throws(SignaturePadError) -> String {
        let drawing = try inkDrawing(signature)
        var body = ""
        for dot in drawing.dots {
            body += "<circle fill=\"#000\" stroke=\"none\" cx=\"\(format(dot.x))\" cy=\"\(format(dot.y))\" r=\"\(format(dot.radius))\"/>"
        }
        for line in drawing.lines {
            let path = "M\(format(line.points[0].x)) \(format(line.points[0].y))" + line.points.dropFirst().map { "L\(format($0.x)) \(format($0.y))" }.joined()
            body += "<path d=\"\(path)\" stroke-width=\"\(format(line.width))\"/>"
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(format(drawing.width))mm" height="\(format(drawing.height))mm" \
            viewBox="0 0 \(format(drawing.width)) \(format(drawing.height))"><g fill="none" stroke="#000" stroke-linecap="round" \
            stroke-linejoin="round">\(body)</g></svg>

            """
    }

    private func widthStep(_ radius: Double) -> Int {
        let span = style.maximumWidth - style.minimumWidth
        guard span > 0 else { return 0 }
        return min(max(Int((radius * 2 - style.minimumWidth) / span * 8), 0), 7)
    }

    private func format(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}

extension SignatureStyle {
    /// Reads `WIDTHxHEIGHT`, each side 1…10000 pixels (`PixelSizeText`); nil when it is not that.
    public static func size(parsing text: String) -> (width: Int, height: Int)? { PixelSizeText.parse(text, maximum: 10_000) }
}

/// A signature's ink as vectors in millimetres (``SignatureRenderer/inkDrawing(_:)``): polylines of one width each, and
/// dots, on a canvas of `width` × `height` with its origin at the top-left.
public struct InkDrawing: Sendable, Equatable {
    /// A point in millimetres from the canvas's top-left.
    public struct Point: Sendable, Equatable {
        /// Millimetres to the right.
        public var x: Double
        /// Millimetres down.
        public var y: Double
    }

    /// A polyline drawn with round caps and joins.
    public struct Line: Sendable, Equatable {
        /// Its points, at least two.
        public var points: [Point]
        /// Its width in millimetres.
        public var width: Double
    }

    /// A filled circle (a stroke of one sample).
    public struct Dot: Sendable, Equatable {
        /// The centre, in millimetres.
        public var x: Double
        /// The centre, in millimetres.
        public var y: Double
        /// The radius in millimetres.
        public var radius: Double
    }

    /// The canvas's size in millimetres.
    public var width: Double
    /// The canvas's height in millimetres.
    public var height: Double
    /// The lines.
    public var lines: [Line] = []
    /// The dots.
    public var dots: [Dot] = []
}
