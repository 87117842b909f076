import CQPDF
import CounterKitCore
import Foundation

/// Errors of signed documents (`CounterKitError`): `invalid_document` for a PDF that cannot be signed.
public typealias DocumentError = CounterKitError

/// A PDF read by qpdf, to which one revision is added as an incremental update: the original bytes stay as they are,
/// new and changed objects are appended after them with a cross-reference section of the same kind as the file's last
/// one (a table, or a stream) whose `/Prev` points back. qpdf is the object model: objects are changed in it and
/// unparsed; the update's layout is written here.
final class PDFRevision {
    /// The original file.
    let original: [UInt8]
    private let name: String
    private var qpdf: qpdf_data?
    /// qpdf reads from this copy of the bytes, which must outlive it.
    private let buffer: UnsafeMutableRawBufferPointer
    /// Objects changed or added in this revision (id → generation), written in the update.
    private var touched: [Int32: Int32] = [:]

    /// Reads `bytes`; `invalid_document` when qpdf cannot read them cleanly, or they are encrypted.
    init(_ bytes: [UInt8], name: String) throws(DocumentError) {
        original = bytes
        self.name = name
        buffer = .allocate(byteCount: max(bytes.count, 1), alignment: 1)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        guard let qpdf = qpdf_init() else { throw DocumentError(.noMemory, "qpdf could not start") }
        self.qpdf = qpdf
        qpdf_set_suppress_warnings(qpdf, QPDF_TRUE)
        guard bytes.starts(with: Array("%PDF-".utf8)) else { throw DocumentError(.invalidDocument, "\(name) is not a PDF (it does not begin with %PDF-)") }
        let status = qpdf_read_memory(qpdf, name, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(bytes.count), nil)
        if status & QPDF_ERRORS != 0 {
            if let error = qpdf_get_error(qpdf), qpdf_get_error_code(qpdf, error) == qpdf_e_password {
                throw DocumentError(.invalidDocument, "\(name) is encrypted with a password; a document to sign must be open (remove its password first)")
            }
            throw DocumentError(.invalidDocument, "\(name) is not a PDF qpdf can read: \(lastError())")
        }
        if qpdf_is_encrypted(qpdf) != QPDF_FALSE {
            throw DocumentError(.invalidDocument, "\(name) is encrypted; a document to sign must be open (remove its password first)")
        }
        // Walking the page tree makes qpdf resolve it: a damaged file shows as warnings (qpdf repaired it) or errors.
        let pages = qpdf_get_num_pages(qpdf)
        if pages < 0 || qpdf_has_error(qpdf) != QPDF_FALSE { throw DocumentError(.invalidDocument, "\(name) has no readable page tree: \(lastError())") }
        if qpdf_more_warnings(qpdf) != QPDF_FALSE {
            let warning = qpdf_next_warning(qpdf).flatMap { qpdf_get_error_full_text(qpdf, $0) }.map { String(cString: $0) } ?? "damaged"
            throw DocumentError(.invalidDocument, "\(name) is damaged (qpdf had to repair it: \(warning)); sign a sound copy")
        }
        guard pages > 0 else { throw DocumentError(.invalidDocument, "\(name) has no pages") }
        guard startXref != nil else { throw DocumentError(.invalidDocument, "\(name) has no startxref at its end") }
    }

    deinit {
        if qpdf != nil { qpdf_cleanup(&qpdf) }
        buffer.deallocate()
    }

    private func lastError() -> String {
        guard let error = qpdf_get_error(qpdf) else { return "unknown error" }
        return String(cString: qpdf_get_error_full_text(qpdf, error))
    }

    // MARK: - Reading

    /// The number of pages.
    var pageCount: Int { Int(qpdf_get_num_pages(qpdf)) }

    /// Page `index` (0-based).
    func page(_ index: Int) -> qpdf_oh { qpdf_get_page_n(qpdf, index) }

    /// The document catalog.
    var root: qpdf_oh { qpdf_get_root(qpdf) }

    /// The value of `key` in dictionary `object` (resolved), or nil.
    func value(_ object: qpdf_oh, _ key: String) -> qpdf_oh? {
        guard qpdf_oh_has_key(qpdf, object, key) != QPDF_FALSE else { return nil }
        let value = qpdf_oh_get_key(qpdf, object, key)
        return qpdf_oh_is_null(qpdf, value) != QPDF_FALSE ? nil : value
    }

    /// A page attribute that pages inherit from the page tree (`/MediaBox`, `/CropBox`, `/Rotate`).
    func inherited(_ page: qpdf_oh, _ key: String) -> qpdf_oh? {
        var node: qpdf_oh? = page
        for _ in 0..<64 {
            guard let current = node else { return nil }
            if let found = value(current, key) { return found }
            node = value(current, "/Parent")
        }
        return nil
    }

    /// A rectangle array's numbers, normalized (lower-left, upper-right).
    func rectangle(_ array: qpdf_oh) -> (x0: Double, y0: Double, x1: Double, y1: Double)? {
        guard qpdf_oh_is_array(qpdf, array) != QPDF_FALSE, qpdf_oh_get_array_n_items(qpdf, array) == 4 else { return nil }
        let n = (0..<4).map { qpdf_oh_get_numeric_value(qpdf, qpdf_oh_get_array_item(qpdf, array, Int32($0))) }
        return (min(n[0], n[2]), min(n[1], n[3]), max(n[0], n[2]), max(n[1], n[3]))
    }

    /// A number.
    func number(_ object: qpdf_oh) -> Double { qpdf_oh_get_numeric_value(qpdf, object) }

    /// Whether `object` is an indirect object (has its own number).
    func isIndirect(_ object: qpdf_oh) -> Bool { qpdf_oh_is_indirect(qpdf, object) != QPDF_FALSE }

    /// Whether `object` is a dictionary / an array.
    func isDictionary(_ object: qpdf_oh) -> Bool { qpdf_oh_is_dictionary(qpdf, object) != QPDF_FALSE }
    func isArray(_ object: qpdf_oh) -> Bool { qpdf_oh_is_array(qpdf, object) != QPDF_FALSE }

    /// The items of an array.
    func items(_ array: qpdf_oh) -> [qpdf_oh] {
        (0..<max(0, qpdf_oh_get_array_n_items(qpdf, array))).map { qpdf_oh_get_array_item(qpdf, array, $0) }
    }

    /// A string's text (UTF-8), or nil for another type.
    func text(_ object: qpdf_oh) -> String? {
        guard qpdf_oh_is_string(qpdf, object) != QPDF_FALSE else { return nil }
        return String(cString: qpdf_oh_get_utf8_value(qpdf, object))
    }

    /// A string's raw bytes, or nil for another type.
    func bytes(_ object: qpdf_oh) -> [UInt8]? {
        guard qpdf_oh_is_string(qpdf, object) != QPDF_FALSE else { return nil }
        var length = 0
        guard let start = qpdf_oh_get_binary_string_value(qpdf, object, &length) else { return nil }
        return start.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }

    /// A name's text (`/Sig`), or nil for another type.
    func name(_ object: qpdf_oh) -> String? {
        guard qpdf_oh_is_name(qpdf, object) != QPDF_FALSE else { return nil }
        return String(cString: qpdf_oh_get_name(qpdf, object))
    }

    // MARK: - Changing

    /// A new object number for this revision (qpdf reserves it, so nothing else takes it). qpdf holds an empty
    /// dictionary there (a null would make qpdf drop dictionary entries that refer to it); what is written is the
    /// caller's.
    func newObject() -> Int32 {
        let reserved = qpdf_make_indirect_object(qpdf, qpdf_oh_new_dictionary(qpdf))
        return qpdf_oh_get_object_id(qpdf, reserved)
    }

    /// A reference to object `id` (generation 0 for the ones this revision adds).
    func reference(_ id: Int32, generation: Int32 = 0) -> qpdf_oh { qpdf_get_object_by_id(qpdf, id, generation) }

    /// New values.
    func newDictionary() -> qpdf_oh { qpdf_oh_new_dictionary(qpdf) }
    func newArray(_ items: [qpdf_oh] = []) -> qpdf_oh {
        let array = qpdf_oh_new_array(qpdf)
        for item in items { qpdf_oh_append_item(qpdf, array, item) }
        return array
    }
    func newName(_ name: String) -> qpdf_oh { qpdf_oh_new_name(qpdf, name) }
    func newText(_ text: String) -> qpdf_oh { qpdf_oh_new_unicode_string(qpdf, text) }
    func newInteger(_ value: Int) -> qpdf_oh { qpdf_oh_new_integer(qpdf, Int64(value)) }

    /// Sets `key` of dictionary `object`.
    func set(_ object: qpdf_oh, _ key: String, _ value: qpdf_oh) { qpdf_oh_replace_key(qpdf, object, key, value) }

    /// Appends to an array.
    func append(_ array: qpdf_oh, _ item: qpdf_oh) { qpdf_oh_append_item(qpdf, array, item) }

    /// Inserts into an array at `index`.
    func insert(_ array: qpdf_oh, at index: Int, _ item: qpdf_oh) { qpdf_oh_insert_item(qpdf, array, Int32(index), item) }

    /// Marks an existing indirect object as changed: it is written again in the update.
    func touch(_ object: qpdf_oh) {
        touched[qpdf_oh_get_object_id(qpdf, object)] = qpdf_oh_get_generation(qpdf, object)
    }

    /// An indirect object's reference, `N G R`.
    func referenceText(_ object: qpdf_oh) -> String { String(cString: qpdf_oh_unparse(qpdf, object)) }

    /// The PDF text of a value (indirect objects inside it as references).
    func unparse(_ object: qpdf_oh) -> String { String(cString: qpdf_oh_unparse_resolved(qpdf, object)) }

    // MARK: - Writing

    /// An object this revision adds with content written here (a stream, or a dictionary with placeholders).
    struct WrittenObject {
        var id: Int32
        var bytes: [UInt8]
    }

    /// The update appended to the original: every touched object as qpdf unparses it, `added` as given, then the
    /// cross-reference section and trailer. Returns the whole new file and where each added object begins in it.
    func update(adding added: [WrittenObject]) throws(DocumentError) -> (file: [UInt8], offsets: [Int32: Int]) {
        guard let previous = startXref else { throw DocumentError(.invalidDocument, "\(name) has no startxref") }
        var file = original
        if file.last != UInt8(ascii: "\n") { file.append(UInt8(ascii: "\n")) }
        var offsets: [Int32: Int] = [:], generations: [Int32: Int32] = [:]
        for (id, generation) in touched.sorted(by: { $0.key < $1.key }) {
            offsets[id] = file.count
            generations[id] = generation
            file += Array("\(id) \(generation) obj\n\(unparse(reference(id, generation: generation)))\nendobj\n".utf8)
        }
        for object in added {
            offsets[object.id] = file.count
            generations[object.id] = 0
            file += Array("\(object.id) 0 obj\n".utf8) + object.bytes + Array("\nendobj\n".utf8)
        }
        let trailer = qpdf_get_trailer(qpdf)
        var size = Int32(number(value(trailer, "/Size").map { $0 } ?? newInteger(0)))
        size = max(size, (offsets.keys.max() ?? 0) + 1)
        var entries = ""
        for key in ["/Root", "/Info", "/ID"] { if let found = value(trailer, key) { entries += " \(key) \(String(cString: qpdf_oh_unparse(qpdf, found)))" } }
        let ids = offsets.keys.sorted()
        if lastSectionIsStream {
            // A cross-reference stream (PDF 1.5), uncompressed: type 1 entries of 1 + 4 + 2 bytes.
            let streamID = size
            size += 1
            let start = file.count
            offsets[streamID] = start
            generations[streamID] = 0
            var rows: [UInt8] = []
            var index: [String] = []
            for run in Self.runs(ids + [streamID]) {
                index.append("\(run.first!) \(run.count)")
                for id in run {
                    let offset = UInt32(offsets[id]!), generation = UInt16(generations[id]!)
                    rows += [1, UInt8(offset >> 24), UInt8((offset >> 16) & 0xff), UInt8((offset >> 8) & 0xff), UInt8(offset & 0xff)]
                    rows += [UInt8(generation >> 8), UInt8(generation & 0xff)]
                }
            }
            guard file.count < Int(UInt32.max) else { throw DocumentError(.invalidDocument, "\(name) is too large to sign (4 GiB)") }
            file += Array(
                "\(streamID) 0 obj\n<< /Type /XRef /Size \(size)\(entries) /Prev \(previous) /W [ 1 4 2 ] /Index [ \(index.joined(separator: " ")) ] /Length \(rows.count) >>\nstream\n"
                    .utf8)
            file += rows
            file += Array("\nendstream\nendobj\nstartxref\n\(start)\n%%EOF\n".utf8)
        } else {
            let start = file.count
            var table = "xref\n"
            for run in Self.runs(ids) {
                table += "\(run.first!) \(run.count)\n"
                for id in run { table += String(format: "%010d %05d n\r\n", offsets[id]!, generations[id]!) }
            }
            file += Array(table.utf8)
            file += Array("trailer\n<< /Size \(size)\(entries) /Prev \(previous) >>\nstartxref\n\(start)\n%%EOF\n".utf8)
        }
        return (file, offsets)
    }

    /// Consecutive runs of object numbers.
    private static func runs(_ ids: [Int32]) -> [[Int32]] {
        var runs: [[Int32]] = []
        for id in ids.sorted() {
            if let last = runs.last?.last, last + 1 == id { runs[runs.count - 1].append(id) } else { runs.append([id]) }
        }
        return runs
    }

    /// The offset the file's last `startxref` names.
    private var startXref: Int? {
        let tail = original.suffix(2048)
        guard let text = String(bytes: tail, encoding: .isoLatin1), let range = text.range(of: "startxref", options: .backwards) else { return nil }
        let digits = text[range.upperBound...].drop { $0 == " " || $0 == "\r" || $0 == "\n" }.prefix { $0.isNumber }
        return Int(digits).flatMap { $0 < original.count ? $0 : nil }
    }

    /// Whether the section `startxref` names is a cross-reference stream (else a table, `xref`).
    private var lastSectionIsStream: Bool {
        guard let offset = startXref else { return false }
        return !original[offset...].prefix(4).elementsEqual("xref".utf8)
    }
}
