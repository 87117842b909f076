import Foundation

/// How a PDF page's image is compressed.
public enum PDFPageCompression: Sendable, Equatable {
    /// Rows are JPEG-encoded straight into the page (DCTDecode).
    case jpeg(JPEGOptions)
    /// Rows are deflated losslessly (FlateDecode) at a zlib level.
    case flate(level: Int)
}

/// Writes a PDF of one image per page, streaming each page into the file as
/// its rows arrive. Stream lengths are indirect objects written after each
/// stream, so nothing is buffered; the page tree and cross-reference table
/// come last.
public final class PDFWriter {
    private let output: OutputFile
    private var offsets: [Int: Int] = [:]
    private var nextObject = 3  // 1 = catalog, 2 = page tree
    private var pageObjects: [Int] = []
    private var openPage = false
    private let title: String?

    /// Pages added so far.
    public var pageCount: Int { pageObjects.count }

    /// Starts a PDF in `output`.
    public init(output: OutputFile, title: String? = nil) throws(AttachmentError) {
        self.output = output
        self.title = title
        try output.write("%PDF-1.5\n%\u{E2}\u{E3}\u{CF}\u{D3}\n")
    }

    /// Starts a page holding `image`; write its rows to the returned encoder and call `finish()` on it.
    public func beginPage(image: ImageDescription, compression: PDFPageCompression) throws(AttachmentError) -> RowEncoder {
        guard !openPage else { throw AttachmentError(.invalidImage, "the previous page is not finished") }
        try image.validate()
        guard !image.format.hasAlpha else { throw AttachmentError(.invalidImage, "PDF pages here carry no transparency; use gray or RGB") }
        let imageObject = try beginImage(
            width: image.width, height: image.height, format: image.format,
            filter: { if case .jpeg = compression { "DCTDecode" } else { "FlateDecode" } }())
        let streamStart = output.offset
        let encoder: RowEncoder
        switch compression {
        case .jpeg(let options):
            encoder = try JPEGEncoder(image: image, options: options, output: output)
        case .flate(let level):
            encoder = try FlatePageEncoder(image: image, level: level, output: output)
        }
        openPage = true
        return PDFPageEncoder(inner: encoder) { [self] () throws(AttachmentError) in
            openPage = false
            try endImage(imageObject, streamLength: output.offset - streamStart, image: image)
        }
    }

    /// Adds a page holding an existing JPEG as-is, with no re-encoding.
    public func addJPEGPage(_ jpeg: [UInt8], dpi: Double) throws(AttachmentError) {
        guard !openPage else { throw AttachmentError(.invalidImage, "the previous page is not finished") }
        guard let header = JPEGHeader(jpeg), header.precision == 8, header.components == 1 || header.components == 3 else {
            throw AttachmentError(.invalidImage, "not a baseline gray or colour JPEG")
        }
        let format: PixelFormat = header.components == 3 ? .rgb8 : .gray8
        let image = ImageDescription(format: format, width: header.width, height: header.height, dpi: dpi)
        try image.validate()
        let imageObject = try beginImage(width: header.width, height: header.height, format: format, filter: "DCTDecode")
        try output.write(jpeg)
        try endImage(imageObject, streamLength: jpeg.count, image: image)
    }

    /// Writes the page tree, catalog, info and cross-reference table.
    public func finish() throws(AttachmentError) {
        guard !openPage else { throw AttachmentError(.invalidImage, "the last page is not finished") }
        guard !pageObjects.isEmpty else { throw AttachmentError(.invalidImage, "a PDF needs at least one page") }
        let kids = pageObjects.map { "\($0) 0 R" }.joined(separator: " ")
        try object(2, "<< /Type /Pages /Kids [\(kids)] /Count \(pageObjects.count) >>")
        try object(1, "<< /Type /Catalog /Pages 2 0 R >>")
        let info = allocate()
        let date = Self.pdfDate(Date())
        let titleEntry = title.map { " /Title \(Self.pdfString($0))" } ?? ""
        try object(info, "<< /Producer (CounterKit) /CreationDate (\(date))\(titleEntry) >>")
        let xrefOffset = output.offset
        let count = nextObject
        var table = "xref\n0 \(count)\n0000000000 65535 f \n"
        for number in 1..<count {
            table += String(format: "%010d 00000 n \n", offsets[number] ?? 0)
        }
        table += "trailer\n<< /Size \(count) /Root 1 0 R /Info \(info) 0 R >>\nstartxref\n\(xrefOffset)\n%%EOF\n"
        try output.write(table)
    }

    private func allocate() -> Int {
        defer { nextObject += 1 }
        return nextObject
    }

    private func object(_ number: Int, _ body: String) throws(AttachmentError) {
        offsets[number] = output.offset
        try output.write("\(number) 0 obj\n\(body)\nendobj\n")
    }

    /// Writes the image XObject's dictionary and opens its stream.
    private func beginImage(width: Int, height: Int, format: PixelFormat, filter: String) throws(AttachmentError) -> Int {
        let number = allocate()
        let lengthObject = allocate()
        let colorSpace = format.channels == 3 ? "/DeviceRGB" : "/DeviceGray"
        let bits = filter == "DCTDecode" ? 8 : format.bitsPerSample
        // SANE and PBM lineart use 1 = black; PDF DeviceGray uses 0 = black.
        let decode = format == .blackAndWhite && filter != "DCTDecode" ? " /Decode [1 0]" : ""
        offsets[number] = output.offset
        try output.write(
            """
            \(number) 0 obj
            << /Type /XObject /Subtype /Image /Width \(width) /Height \(height) /ColorSpace \(colorSpace) \
            /BitsPerComponent \(bits)\(decode) /Filter /\(filter) /Length \(lengthObject) 0 R >>
            stream\n
            """)
        return number
    }

    /// Closes the image stream and writes its length, the page's content stream and the page.
    private func endImage(_ imageObject: Int, streamLength: Int, image: ImageDescription) throws(AttachmentError) {
        try output.write("\nendstream\nendobj\n")
        try object(imageObject + 1, "\(streamLength)")
        let dpi = image.dpi > 0 ? image.dpi : 72
        let width = Double(image.width) * 72 / dpi
        let height = Double(image.height) * 72 / dpi
        let size = "\(Self.number(width)) \(Self.number(height))"
        let content = "q \(Self.number(width)) 0 0 \(Self.number(height)) 0 0 cm /Im0 Do Q"
        let contentObject = allocate()
        try object(contentObject, "<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream")
        let pageObject = allocate()
        try object(
            pageObject,
            """
            << /Type /Page /Parent 2 0 R /MediaBox [0 0 \(size)] \
            /Resources << /XObject << /Im0 \(imageObject) 0 R >> >> /Contents \(contentObject) 0 R >>
            """)
        pageObjects.append(pageObject)
    }

    private static func number(_ value: Double) -> String { String(format: "%.3f", value) }

    private static func pdfDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "'D:'yyyyMMddHHmmss'Z'"
        return formatter.string(from: date)
    }

    private static func pdfString(_ text: String) -> String {
        let printable = text.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 }
        var escaped = ""
        for scalar in printable {
            if scalar == "(" || scalar == ")" || scalar == "\\" { escaped.append("\\") }
            escaped.unicodeScalars.append(scalar)
        }
        return "(\(escaped))"
    }
}

/// A page's encoder: forwards rows, and on finish closes the page in the PDF.
private final class PDFPageEncoder: RowEncoder {
    let inner: RowEncoder
    let onFinish: () throws(AttachmentError) -> Void
    var image: ImageDescription { inner.image }
    var rowsWritten: Int { inner.rowsWritten }

    init(inner: RowEncoder, onFinish: @escaping () throws(AttachmentError) -> Void) {
        self.inner = inner
        self.onFinish = onFinish
    }

    func write(row: UnsafeRawBufferPointer) throws(AttachmentError) { try inner.write(row: row) }

    func finish() throws(AttachmentError) {
        try inner.finish()
        try onFinish()
    }
}

/// Deflates packed rows for a FlateDecode image stream (16-bit samples big-endian).
private final class FlatePageEncoder: RowEncoder {
    let image: ImageDescription
    var rowsWritten: Int { accounting.rows }
    private var accounting: RowAccounting
    private let deflate: DeflateStream
    private let bigEndian: BigEndianRows

    init(image: ImageDescription, level: Int, output: OutputFile) throws(AttachmentError) {
        self.image = image
        self.accounting = RowAccounting(image)
        self.deflate = try DeflateStream(level: level, output: output)
        self.bigEndian = BigEndianRows(image)
    }

    func write(row: UnsafeRawBufferPointer) throws(AttachmentError) {
        try accounting.accept(row)
        try deflate.write(bigEndian.convert(row))
    }

    func finish() throws(AttachmentError) {
        try accounting.checkComplete()
        try deflate.finish()
    }
}
