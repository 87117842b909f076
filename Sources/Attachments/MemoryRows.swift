/// An image held in memory: what it is, and its rows, packed (`image.bytesPerRow` bytes each).
package struct ImageRows: Sendable {
    /// The image's format, size and resolution.
    package let image: ImageDescription
    /// The rows, top to bottom.
    package let rows: [UInt8]

    package init(image: ImageDescription, rows: [UInt8]) {
        self.image = image
        self.rows = rows
    }
}

/// An encoder whose "file" is memory: it collects an image's rows, for work that needs the whole image in memory anyway
/// (the document stages), so that nothing is written and read back.
package final class MemoryRows: RowEncoder {
    package let image: ImageDescription
    package private(set) var rowsWritten = 0
    package private(set) var rows: [UInt8] = []

    package init(_ image: ImageDescription) {
        self.image = image
        if image.height > 0 { rows.reserveCapacity(image.bytesPerRow * image.height) }
    }

    package func write(row: UnsafeRawBufferPointer) throws(AttachmentError) {
        guard row.count >= image.bytesPerRow else {
            throw AttachmentError(.invalidImage, "a row of \(row.count) bytes where \(image.bytesPerRow) are needed")
        }
        rows.append(contentsOf: row.prefix(image.bytesPerRow))
        rowsWritten += 1
    }

    /// Nothing to complete (a scanner's page may end short of the rows it announced; its caller knows).
    package func finish() throws(AttachmentError) {}

    /// The image and its rows, once finished.
    package var imageRows: ImageRows { ImageRows(image: image, rows: rows) }
}
