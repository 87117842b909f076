import ChildProcesses
import Foundation
import Testing

/// What a spawned child inherits: only its standard streams, and default signal handling.
@Suite(.ownThreads) struct ChildProcessTests {
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

    @Test func passedDescriptorsArriveAsThreeOnwardsAndNothingElse() throws {
        // Two pipes, passed in the order opposite to their numbers, so one slot's copy could clobber the other.
        var first: [Int32] = [-1, -1], second: [Int32] = [-1, -1]
        #expect(pipe(&first) == 0 && pipe(&second) == 0)
        defer { [first[0], second[0]].forEach { close($0) } }
        #expect(write(first[1], "one", 3) == 3 && write(second[1], "two", 3) == 3)
        close(first[1])
        close(second[1])
        let child = try ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "cat <&3; cat <&4; echo; ls /proc/$$/fd"],
            pipeInput: false, passing: [second[0], first[0]])
        let lines = String(decoding: child.readAllOutput(), as: UTF8.self).split(separator: "\n")
        #expect(child.wait() == .exited(0))
        #expect(lines.first == "twoone")
        #expect(lines.dropFirst().compactMap { Int($0) }.sorted() == [0, 1, 2, 3, 4])
    }
}
