import Attachments

/// Where assembled pages go: one encoder per page.
package protocol PageSink: AnyObject {
    /// Opens the encoder for a page of this geometry.
    func beginPage(_ image: ImageDescription) throws(ScanError) -> RowEncoder
    /// The page's rows are all written and its encoder finished.
    func endPage(_ image: ImageDescription) throws(ScanError)
}

/// Turns SANE frames (bytes with per-line padding, in any frame format) into
/// packed rows for the encoders. Single-pass pages of known height stream
/// straight through; unknown heights and three-pass planes go through a disk spool.
package final class FrameAssembler {
    private let sink: PageSink
    private let dpi: Double
    private var parameters: FrameParameters?
    private var line: RowBuffer
    private var lineFill = 0
    private var converted: RowBuffer?
    private var image: ImageDescription?
    private var encoder: RowEncoder?
    private var spool: RowSpool?
    private var planes: [FrameParameters.Format: RowSpool] = [:]
    private var frameRows = 0
    /// Where a live view's rows go, when one is wanted.
    private let live: LiveRowsTap?

    /// Bytes of image data received so far (all pages).
    private(set) var bytesReceived = 0
    /// Rows completed on the current frame, and expected (nil when unknown).
    var rowProgress: (done: Int, expected: Int?) {
        (frameRows, parameters.flatMap { $0.lines > 0 ? $0.lines : nil })
    }

    package init(sink: PageSink, dpi: Double, live: LiveRowsRequest? = nil, rows: (@Sendable (ScanRowsBand) -> Void)? = nil) {
        self.sink = sink
        self.dpi = dpi
        if let live, let rows { self.live = LiveRowsTap(live, emit: rows) } else { self.live = nil }
        self.line = RowBuffer(count: 1)
    }

    /// Pixel format of a frame's packed rows. Only gray frames keep 1-bit
    /// lineart; 1-bit colour and 1-bit colour planes are widened to 8-bit.
    static func rowFormat(_ p: FrameParameters) throws(ScanError) -> PixelFormat {
        let colour = p.format == .rgb
        switch p.depth {
        case 1: return colour ? .rgb8 : (p.format == .gray ? .blackAndWhite : .gray8)
        case 8: return colour ? .rgb8 : .gray8
        case 16: return colour ? .rgb16 : .gray16
        default: throw ScanError(.ioError, "the scanner sent \(p.depth)-bit samples, which CounterKit cannot store")
        }
    }

    /// Lines and pixels per line a frame may have: 1 048 576, over 40 m at 600 dpi.
    static let maxLineCount = 1 << 20

    package func beginFrame(_ p: FrameParameters) throws(ScanError) {
        // Everything is checked before any size is computed from it: a backend's numbers are not trusted.
        let format = try Self.rowFormat(p)
        guard p.pixelsPerLine > 0, p.pixelsPerLine <= Self.maxLineCount, p.bytesPerLine > 0, p.bytesPerLine < 1 << 24,
            p.lines <= Self.maxLineCount
        else {
            throw ScanError(.ioError, "the scanner reported an empty or impossible frame (\(p.pixelsPerLine) px, \(p.bytesPerLine) bytes, \(p.lines) lines)")
        }
        let channels = p.format == .rgb ? 3 : 1
        let packed = (p.pixelsPerLine * channels * p.depth + 7) / 8
        guard p.bytesPerLine >= packed else {
            throw ScanError(.ioError, "the scanner's line of \(p.bytesPerLine) bytes cannot hold \(p.pixelsPerLine) pixels")
        }
        // Frames of one page must fit together (found by fuzzing: mismatched planes overran a row buffer).
        switch p.format {
        case .gray, .rgb:
            guard encoder == nil, spool == nil, planes.isEmpty else {
                throw ScanError(.ioError, "the scanner began a new \(p.format.rawValue) frame before ending the page")
            }
        case .red, .green, .blue:
            guard encoder == nil, spool == nil else { throw ScanError(.ioError, "a colour plane arrived in the middle of a one-pass page") }
            guard planes[p.format] == nil else { throw ScanError(.ioError, "the scanner sent the \(p.format.rawValue) plane twice for one page") }
            if let planeImage, planeImage.width != p.pixelsPerLine || (planeImage.format == .rgb16) != (format == .gray16) {
                throw ScanError(.ioError, "the colour planes of one page differ in width or depth")
            }
        }
        parameters = p
        line = RowBuffer(count: p.bytesPerLine)
        lineFill = 0
        frameRows = 0
        let widen = p.depth == 1 && p.format != .gray
        converted = widen ? RowBuffer(count: format.bytesPerRow(width: p.pixelsPerLine)) : nil
        switch p.format {
        case .gray, .rgb:
            let description = ImageDescription(format: format, width: p.pixelsPerLine, height: max(p.lines, 1), dpi: dpi)
            image = description
            live?.beginPage(format: format, width: p.pixelsPerLine, height: p.lines > 0 ? p.lines : nil)
            if p.lines > 0 {
                encoder = try sink.beginPage(description)
            } else {
                spool = try RowSpool(rowBytes: description.bytesPerRow)
            }
        case .red, .green, .blue:
            planes[p.format] = try RowSpool(rowBytes: format.bytesPerRow(width: p.pixelsPerLine))
            planeImage = ImageDescription(format: format == .gray16 ? .rgb16 : .rgb8, width: p.pixelsPerLine, height: 1, dpi: dpi)
        }
    }

    package func consume(_ bytes: UnsafeRawBufferPointer) throws(ScanError) {
        guard let p = parameters else { throw ScanError(.backendCrashed, "image data arrived before its frame parameters") }
        bytesReceived += bytes.count
        var offset = 0
        while offset < bytes.count {
            if lineFill == 0 && bytes.count - offset >= p.bytesPerLine {
                // A whole line in the chunk: hand it on where it lies, without copying it first.
                try emitLine(p, UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + p.bytesPerLine)]))
                offset += p.bytesPerLine
                continue
            }
            let take = min(p.bytesPerLine - lineFill, bytes.count - offset)
            (line.bytes.baseAddress! + lineFill).copyMemory(from: bytes.baseAddress! + offset, byteCount: take)
            lineFill += take
            offset += take
            if lineFill == p.bytesPerLine {
                try emitLine(p, UnsafeRawBufferPointer(line.bytes))
                lineFill = 0
            }
        }
    }

    /// Passes on one line of `p.bytesPerLine` bytes, without its padding.
    private func emitLine(_ p: FrameParameters, _ line: UnsafeRawBufferPointer) throws(ScanError) {
        let channels = p.format == .rgb ? 3 : 1
        let packed = (p.pixelsPerLine * channels * p.depth + 7) / 8
        var row = UnsafeRawBufferPointer(rebasing: line.prefix(packed))
        if let converted {
            // 1-bit colour: each bit is one sample at full (1) or no (0) intensity.
            for sample in 0..<(p.pixelsPerLine * channels) {
                let bit = (row[sample >> 3] >> (7 - UInt8(sample & 7))) & 1
                converted.bytes[sample] = bit == 1 ? 255 : 0
            }
            row = UnsafeRawBufferPointer(converted.bytes)
        }
        frameRows += 1
        if let plane = planes[p.format] {
            try plane.append(row)
        } else if let spool {
            try spool.append(row)
            live?.add(row)
        } else if let encoder {
            guard encoder.rowsWritten < encoder.image.height else { return }  // extra lines beyond the announced height
            do { try encoder.write(row: row) } catch { throw error.whileStoring() }
            live?.add(row)
        }
    }

    package func endFrame() throws(ScanError) {
        parameters = nil
    }

    /// Completes the page: fills a short page, replays spooled rows, merges planes.
    package func endPage() throws(ScanError) {
        do {
            if let encoder, let image {
                guard encoder.rowsWritten > 0 else { throw ScanError(.ioError, "the scanner ended a page without sending any of its lines") }
                // A backend that sends fewer lines than it announced: pad with white.
                let white = RowBuffer(count: image.bytesPerRow)
                if image.format != .blackAndWhite { white.bytes.initializeMemory(as: UInt8.self, repeating: 0xFF) }
                while encoder.rowsWritten < image.height {
                    try encoder.write(row: UnsafeRawBufferPointer(white.bytes))
                    live?.add(UnsafeRawBufferPointer(white.bytes))
                }
                // The live view's last band goes out now, to be compressed while the attachment is finished.
                live?.endPage()
                try encoder.finish()
                try sink.endPage(image)
            } else if let spool, var image {
                guard spool.rows > 0 else { throw ScanError(.ioError, "the scanner sent a page with no lines") }
                image.height = spool.rows
                let encoder = try sink.beginPage(image)
                let row = RowBuffer(count: spool.rowBytes)
                live?.endPage()
                for index in 0..<spool.rows {
                    try spool.read(row: index, into: row.bytes)
                    try encoder.write(row: UnsafeRawBufferPointer(row.bytes))
                }
                try encoder.finish()
                try sink.endPage(image)
            } else if !planes.isEmpty {
                try mergePlanes()
            } else {
                throw ScanError(.ioError, "the scanner ended a page without sending it")
            }
        } catch let error as CounterKitError {
            throw error.whileStoring()
        } catch {
            throw ScanError(.ioError, "\(error)")
        }
        encoder = nil
        spool = nil
        image = nil
        planes = [:]
        planeImage = nil
    }

    private func mergePlanes() throws {
        guard let red = planes[.red], let green = planes[.green], let blue = planes[.blue], var image = planeImage else {
            throw ScanError(.ioError, "a three-pass scan ended without all of red, green and blue")
        }
        image.height = min(red.rows, green.rows, blue.rows)
        guard image.height > 0 else { throw ScanError(.ioError, "the scanner sent a page with no lines") }
        let encoder = try sink.beginPage(image)
        live?.beginPage(format: image.format, width: image.width, height: image.height)
        let planeRows = [red, green, blue].map { spool in RowBuffer(count: spool.rowBytes) }
        let merged = RowBuffer(count: image.bytesPerRow)
        let sampleBytes = image.format.bitsPerSample / 8
        for index in 0..<image.height {
            for (channel, plane) in [red, green, blue].enumerated() {
                try plane.read(row: index, into: planeRows[channel].bytes)
                let source = planeRows[channel].bytes
                for x in 0..<image.width {
                    for byte in 0..<sampleBytes {
                        merged.bytes[(x * 3 + channel) * sampleBytes + byte] = source[x * sampleBytes + byte]
                    }
                }
            }
            try encoder.write(row: UnsafeRawBufferPointer(merged.bytes))
            live?.add(UnsafeRawBufferPointer(merged.bytes))
        }
        live?.endPage()
        try encoder.finish()
        try sink.endPage(image)
    }

    /// The merged page of a three-pass scan (width and depth from its first plane).
    private var planeImage: ImageDescription?
}
