/// A single-image file format with its settings.
public enum ImageFileFormat: Sendable, Equatable {
    /// JPEG with its options (quality, chroma subsampling).
    case jpeg(JPEGOptions)
    /// PNG with its options (compression level, filters).
    case png(PNGOptions)
    /// Netpbm: PBM, PGM or PPM by pixel format (PAM for gray + alpha).
    case pnm

    /// The attachment format it produces.
    public var attachmentFormat: AttachmentFormat {
        switch self {
        case .jpeg: .jpeg
        case .png: .png
        case .pnm: .pnm
        }
    }

    /// Makes the streaming encoder for `image` writing to `output`.
    public func makeEncoder(image: ImageDescription, output: OutputFile) throws(AttachmentError) -> RowEncoder {
        switch self {
        case .jpeg(let options): try JPEGEncoder(image: image, options: options, output: output)
        case .png(let options): try PNGEncoder(image: image, options: options, output: output)
        case .pnm: try PNMWriter(image: image, output: output)
        }
    }
}
