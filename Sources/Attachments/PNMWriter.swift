/// Writes rows as binary PNM: P4 for lineart (1 = black), P5 for gray, P6 for
/// RGB; 16-bit samples big-endian with maxval 65535, as netpbm and scanimage write them;
/// gray with alpha as PAM (P7, GRAYSCALE_ALPHA).
public final class PNMWriter: RowEncoder {
    public let image: ImageDescription
    public var rowsWritten: Int { accounting.rows }
    private var accounting: RowAccounting
    private let output: OutputFile
    private let bigEndian: BigEndianRows

    /// Writes the PNM header to `output`; rows follow with `write(row:)`.
    public init(image: ImageDescription, output: OutputFile) throws(AttachmentError) {
        try image.validate()
        self.image = image
        self.accounting = RowAccounting(image)
        self.output = output
        self.bigEndian = BigEndianRows(image)
        try output.write(Self.header(for: image))
    }

    /// The PNM header for an image.
    public static func header(for image: ImageDescription) -> String {
        switch image.format {
        case .blackAndWhite: "P4\n\(image.width) \(image.height)\n"
        case .gray8: "P5\n\(image.width) \(image.height)\n255\n"
        case .gray16: "P5\n\(image.width) \(image.height)\n65535\n"
        case .rgb8: "P6\n\(image.width) \(image.height)\n255\n"
        case .rgb16: "P6\n\(image.width) \(image.height)\n65535\n"
        case .grayAlpha8: "P7\nWIDTH \(image.width)\nHEIGHT \(image.height)\nDEPTH 2\nMAXVAL 255\nTUPLTYPE GRAYSCALE_ALPHA\nENDHDR\n"
        }
    }

    public func write(row: UnsafeRawBufferPointer) throws(AttachmentError) {
        try accounting.accept(row)
        try output.write(bigEndian.convert(row))
    }

    public func finish() throws(AttachmentError) {
        try accounting.checkComplete()
    }
}
