import Foundation

/// Output files are never half-written: content goes to a temp name beside the
/// target (a hard link from the spool when on the same filesystem, no copy), then a rename.
enum AtomicOutput {
    static func write(_ path: String, fill: (String) throws -> Void) throws {
        let temp = temporaryPath(for: path)
        do {
            try fill(temp)
        } catch {
            unlink(temp)
            throw fail(.ioError, "cannot write \(path): \(error)")
        }
        try commit(temp, to: path)
    }

    static func temporaryPath(for path: String) -> String {
        let target = URL(fileURLWithPath: path)
        let temp = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(getpid()).part").path
        unlink(temp)
        return temp
    }

    static func commit(_ temp: String, to path: String) throws {
        guard rename(temp, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temp)
            throw fail(.ioError, "cannot write \(path): \(message)")
        }
    }
}
