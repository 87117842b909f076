import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

extension CounterKitError {
    /// A system call's failure as CounterKit says it: "`what`: the system's reason" with `code`, or `disk_full` when
    /// the disk or the user's quota is full (the caller must free space, not retry).
    package init(_ code: ErrorCode, _ what: String, _ errno: Errno, fileID: StaticString = #fileID) {
        let full = errno == .noSpace || errno.rawValue == EDQUOT
        self.init(full ? .diskFull : code, "\(what): \(errno.description)", fileID: fileID)
    }

    /// The failure of the C call that has just failed (from `errno`), as ``init(_:_:_:fileID:)`` says it.
    package static func lastSystemCall(_ code: ErrorCode, _ what: String, fileID: StaticString = #fileID) -> CounterKitError {
        CounterKitError(code, what, Errno(rawValue: Glibc.errno), fileID: fileID)
    }
}

/// Runs swift-system calls (`FileDescriptor.open`, `read`, `write`…, which retry on EINTR themselves); an `Errno`
/// they throw becomes a CounterKitError: `code` and "`what`: the system's reason" (`disk_full` on a full disk).
package func systemCall<T>(
    _ code: ErrorCode, _ what: @autoclosure () -> String, fileID: StaticString = #fileID, _ body: () throws -> T
) throws(CounterKitError) -> T {
    do {
        return try body()
    } catch let error as Errno {
        throw CounterKitError(code, what(), error, fileID: fileID)
    } catch let error as CounterKitError {
        throw error
    } catch {
        throw CounterKitError(code, "\(what()): \(error)", fileID: fileID)
    }
}

extension FileDescriptor {
    /// Opens `path` the way CounterKit opens every file: close-on-exec, so no child process inherits it.
    package static func openClosingOnExec(
        _ path: String, _ mode: AccessMode, options: OpenOptions = [], permissions: FilePermissions? = nil
    ) throws(Errno) -> FileDescriptor {
        do {
            return try FileDescriptor.open(FilePath(path), mode, options: options.union(.closeOnExec), permissions: permissions)
        } catch let error as Errno {
            throw error
        } catch {
            throw Errno.ioError
        }
    }

    /// `fsync`: the file's bytes and metadata are on disk.
    package func sync() throws(Errno) {
        guard fsync(rawValue) == 0 else { throw Errno(rawValue: Glibc.errno) }
    }

    /// `fdatasync`: the file's bytes (and the size that reads them) are on disk.
    package func syncData() throws(Errno) {
        guard fdatasync(rawValue) == 0 else { throw Errno(rawValue: Glibc.errno) }
    }
}

/// Renames `from` to `to` (atomically replacing `to`); fails with the system's reason.
package func renameFile(_ from: String, to: String) throws(Errno) {
    guard rename(from, to) == 0 else { throw Errno(rawValue: Glibc.errno) }
}

/// Replaces the small file at `path` with `data`, whole or not at all: written beside it under `.NAME.PID.part`
/// (created new, mode `permissions`, never through a link), synced, renamed into place, and its directory synced, so
/// that after a power cut the file is the old one or the new one.
package func replaceFile(at path: String, with bytes: UnsafeRawBufferPointer, permissions: FilePermissions) throws(Errno) {
    let directory = FilePath(path).removingLastComponent()
    let temp = directory.appending(".\(FilePath(path).lastComponent?.string ?? "file").\(getpid()).part").string
    unlink(temp)
    do throws(Errno) {
        let descriptor = try FileDescriptor.openClosingOnExec(
            temp, .writeOnly, options: [.create, .exclusiveCreate, .noFollow], permissions: permissions)
        defer { try? descriptor.close() }
        do { _ = try descriptor.writeAll(bytes) } catch { throw error as? Errno ?? .ioError }
        try descriptor.sync()
        try renameFile(temp, to: path)
    } catch {
        unlink(temp)
        throw error
    }
    if let parent = try? FileDescriptor.openClosingOnExec(directory.isEmpty ? "." : directory.string, .readOnly, options: .directory) {
        try? parent.sync()
        try? parent.close()
    }
}
