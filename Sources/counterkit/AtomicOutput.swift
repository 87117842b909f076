import DeviceHub
import Foundation

/// Output files are never half-written: content goes to a temp name beside the target (`AttachmentExport`'s rule),
/// then a rename.
enum AtomicOutput {
    static func temporaryPath(for path: String) -> String { AttachmentExport.temporaryPath(for: path) }

    static func commit(_ temp: String, to path: String) throws {
        do throws(DeviceHubError) { try AttachmentExport.commit(temp, to: path) } catch { throw fail(error.code, error.message) }
    }
}
