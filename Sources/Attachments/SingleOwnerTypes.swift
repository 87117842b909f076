// Encoders, output files and frames over borrowed memory belong to one owner at a time: they hold a
// C library's state or a pointer into someone else's buffer. They are explicitly not Sendable, so the
// compiler stops them from being shared between tasks; hand over the finished attachment instead.

@available(*, unavailable, message: "an encoder belongs to one task; send the finished AttachmentManifest instead")
extension JPEGEncoder: Sendable {}
@available(*, unavailable, message: "an encoder belongs to one task; send the finished AttachmentManifest instead")
extension PNGEncoder: Sendable {}
@available(*, unavailable, message: "an encoder belongs to one task; send the finished AttachmentManifest instead")
extension PNMWriter: Sendable {}
@available(*, unavailable, message: "an encoder belongs to one task; send the finished AttachmentManifest instead")
extension PDFWriter: Sendable {}
@available(*, unavailable, message: "an output file belongs to the encoder writing it")
extension OutputFile: Sendable {}
@available(*, unavailable, message: "a pending attachment belongs to the encoder writing it; commit it, then send the manifest")
extension PendingAttachment: Sendable {}
@available(*, unavailable, message: "a row buffer belongs to one encoder")
extension RowBuffer: Sendable {}
@available(*, unavailable, message: "a JPEG frame points into a buffer it does not own")
extension JPEGFrame: Sendable {}
