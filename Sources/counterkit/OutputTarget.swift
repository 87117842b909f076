import Attachments
import DeviceHub
import Foundation
import SystemPackage

/// Where a capture command writes its files, checked before any device is opened, so that a clerk never feeds the
/// papers (or a citizen signs) for a file that cannot be written.
struct OutputTarget {
    /// The path as given (it may hold `%d` for the page number).
    let path: String

    /// The file format an output name's extension names, if it names one (`.jpg` → `jpeg`); the caller maps it to its own
    /// format type.
    static func formatName(of path: String) -> String? {
        switch (path as NSString).pathExtension.lowercased() {
        case "jpg", "jpeg", "jpe": "jpeg"
        case "png": "png"
        case "pnm", "ppm", "pgm", "pbm", "pam": "pnm"
        case "pdf": "pdf"
        default: nil
        }
    }

    /// The format to write: `--format` when given (refused when the extension names another), else the extension's, else
    /// `fallback`. `allowed` are the command's formats.
    func format<Format: RawRepresentable>(given: Format?, fallback: Format, allowed: [Format]) throws -> Format where Format.RawValue == String {
        let named = Self.formatName(of: path).flatMap { name in allowed.first { $0.rawValue == name } }
        if let given {
            if let named, named != given {
                throw fail(
                    .invalidValue,
                    "--format \(given.rawValue) contradicts the extension of --output \(path) (\(named.rawValue)); "
                        + "drop --format or change the name")
            }
            return given
        }
        if named == nil, let other = Self.formatName(of: path) {
            throw fail(
                .invalidValue,
                "--output \(path) names a \(other) file, which this command does not write "
                    + "(\(allowed.map(\.rawValue).joined(separator: ", ")))")
        }
        return named ?? fallback
    }

    /// Checks that the directory the output goes to exists and can be written, and, when several files may come,
    /// that the name holds `%d`.
    func check(mayHaveSeveralPages: Bool) throws {
        if mayHaveSeveralPages && !path.contains("%d") {
            throw fail(
                .invalidValue,
                "several pages may come from the feeder: --output needs %d for the page number "
                    + "(for example page-%d.jpg), or use --format pdf or --max-pages 1")
        }
        let directory = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw fail(.invalidValue, "the directory of --output \(path) does not exist: create \(directory) first")
        }
        guard access(directory, W_OK) == 0 else {
            throw fail(.accessDenied, "cannot write in \(directory) (the directory of --output): \(Errno(rawValue: errno))")
        }
    }

    /// Copies a stored attachment to `file` through the hub; a failure names the attachment, which stays stored.
    static func export(_ attachment: AttachmentManifest, to file: String, through hub: any DeviceHub) async throws {
        do {
            try await hub.export(attachment, to: file)
        } catch {
            let reason = (error as? CounterKitError).map { "\($0.codeName): \($0.message)" } ?? "\(error)"
            throw fail(.ioError, "cannot write \(file) (\(reason)); the capture is kept as attachment \(attachment.id) in \(hub.location)")
        }
    }
}
