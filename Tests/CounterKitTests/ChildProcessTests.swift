import ChildProcesses
import Foundation
import Testing

/// What a spawned child inherits: only its standard streams, and default signal handling.
@Suite struct ChildProcessTests {
    @Test func aChildInheritsNoDescriptorBeyondItsStandardStreams() throws {
        // A descriptor opened without close-on-exec, as C libraries sometimes do.
        let leaky = open("/dev/null", O_RDONLY)
        #expect(leaky > 2)
        defer { close(leaky) }
        let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "ls /proc/$$/fd"], pipeInput: false)
        let listed = String(decoding: child.readAllOutput(), as: UTF8.self).split(separator: "\n").compactMap { Int($0) }
        #expect(child.wait() == .exited(0))
        #expect(listed.sorted() == [0, 1, 2], "the shell saw descriptors \(listed)")
    }
}
