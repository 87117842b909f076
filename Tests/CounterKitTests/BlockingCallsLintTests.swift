import CounterKitCore
import CounterKitTestSupport
import Foundation
import Testing

/// Async test code never blocks the cooperative pool (see `offThePool`): a blocking wait there for a child process
/// that talks to a service running in the test process deadlocked a CI run once two of them overlapped.
///
/// A lint over the test sources: a blocking call in an `async` function is refused unless it runs on a thread of its
/// own (inside `Thread { … }`, `Thread.detachNewThread`, `offThePool` or `BlockingCalls.run`) or its line says
/// `// blocking: WHY` (a `defer` after `SIGKILL`, which returns at once). Synchronous tests that block (on scanimage,
/// pdfinfo, a child's exit) run with `.ownThreads`: on the pool, a queue of them starved the async tests and the
/// in-process services for tens of seconds.
@Suite struct BlockingCallsLintTests {
    /// Calls that block their thread until something outside the process happens.
    static let blocking = pattern(#"\.wait\(\)|\.wait\(timeout|readAllOutput\(\)|Thread\.sleep\(|\busleep\(|(?<![\w.])runCommand(Data)?\("#)
    /// Lines that start a scope running on a thread of its own.
    static let ownThread = pattern(#"Thread \{|Thread\.detachNewThread|offThePool|\.run \{"#)
    static let function = pattern(#"\bfunc\s"#)
    /// A suite or test attribute with the `.ownThreads` trait, first or after a display name.
    static let ownThreadsTrait = pattern(#"@(Suite|Test)\(.*\.ownThreads\b"#)

    /// Whether `line` has a match of `regex` (a `pattern`).
    typealias Pattern = @Sendable (String) -> Bool
    static func pattern(_ regex: String) -> Pattern {
        let compiled = try! NSRegularExpression(pattern: regex)
        return { line in compiled.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) != nil }
    }

    /// The blocking calls `source` makes where they hold the cooperative pool, as `line: text`: any in an async
    /// function, and any in a synchronous one unless the file's tests run on threads of their own (`.ownThreads`).
    static func violations(in source: String) -> [String] {
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let onOwnThreads = lines.contains(where: ownThreadsTrait)
        var found: [String] = []
        for (index, line) in lines.enumerated() {
            let code = line.trimmingCharacters(in: .whitespaces)
            guard !code.hasPrefix("//"), blocking(line), !line.contains("// blocking: ") else { continue }
            // The nearest enclosing function or thread, looking upwards (a thread started on this very line counts).
            var scope = index
            while scope >= 0 && !ownThread(lines[scope]) && !function(lines[scope]) { scope -= 1 }
            guard scope >= 0, !ownThread(lines[scope]) else { continue }
            let signature = lines[scope...].prefix(4).joined(separator: " ")
            let header = signature[..<(signature.firstIndex(of: "{") ?? signature.endIndex)]
            if header.contains(" async") || !onOwnThreads { found.append("\(index + 1): \(code)") }
        }
        return found
    }

    /// The product starts its threads in one place, `BlockingCalls` (short device calls on its fixed set, long work on
    /// named threads of their own), so none is started ad hoc where no one counts or names it.
    @Test func everyThreadTheProductStartsComesFromTheOneExecutor() throws {
        let sources = repositoryRoot().appendingPathComponent("Sources")
        let files = try #require(FileManager.default.enumerator(atPath: sources.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") && !$0.hasPrefix("CounterKitTestSupport/") && $0 != "CounterKitCore/BlockingCalls.swift" }
        #expect(files.count > 100, "the product's sources were found: \(files.count)")
        let starts = Self.pattern(#"\bThread\s*(\{|\(block)|Thread\.detachNewThread|pthread_create"#)
        var found: [String] = []
        for file in files.sorted() {
            let lines = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (index, line) in lines.enumerated() where starts(String(line)) && !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                found.append("Sources/\(file):\(index + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        #expect(found.isEmpty, "threads started outside BlockingCalls:\n\(found.joined(separator: "\n"))")
    }

    @Test func asyncTestsWaitOffThePool() throws {
        let tests = repositoryRoot().appendingPathComponent("Tests")
        let files = try #require(FileManager.default.enumerator(atPath: tests.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") && !$0.hasSuffix("BlockingCallsLintTests.swift") }
        #expect(files.count > 40, "the test sources were found: \(files.count)")
        var problems: [String] = []
        for file in files.sorted() {
            let source = try String(contentsOf: tests.appendingPathComponent(file), encoding: .utf8)
            problems += Self.violations(in: source).map { "Tests/\(file):\($0)" }
        }
        #expect(
            problems.isEmpty,
            "blocking calls on the cooperative pool (await offThePool, ended(), runCommandAsync; or .ownThreads):\n\(problems.joined(separator: "\n"))")
    }

    /// The lint itself: what it refuses and what it lets through.
    @Test func theLintTellsBlockingFromSuspending() {
        let refused = """
            @Test func a() async throws {
                let child = try ChildProcess(executable: "x", arguments: [])
                _ = child.wait()
                let run = try runCommand(["true"])
            }
            func b(x: Int)
                async -> Int {
                usleep(10)
            }
            """
        #expect(Self.violations(in: refused) == ["3: _ = child.wait()", "4: let run = try runCommand([\"true\"])", "8: usleep(10)"])
        let synchronous = "@Test func c() throws {\n    _ = child.wait()\n}\n"
        #expect(Self.violations(in: synchronous) == ["2: _ = child.wait()"], "on the pool")
        #expect(Self.violations(in: "@Suite(.ownThreads) struct S {\n" + synchronous + "}").isEmpty, "on threads of its own")
        let allowed = """
            @Test func a() async throws {
                _ = await child.ended()
                let run = try await runCommandAsync(["true"])
                let thread = Thread {
                    usleep(10)
                }
                Thread.detachNewThread { _ = child.wait() }
                defer { child.signal(SIGKILL); _ = child.wait() } // blocking: SIGKILL ends it at once
            }
            """
        #expect(Self.violations(in: allowed).isEmpty, "\(Self.violations(in: allowed))")
    }
}
