import CounterKitTestSupport
import Foundation
import Testing

/// Boots the test VM (scripts/vm-run: Debian's kernel under qemu, this machine's root over 9p)
/// and runs every `…InGuestTests` suite of this test binary inside it, one suite at a time, against real kernel drivers;
/// then cuts the guest's power 20 times (one VM at a time: the two cores are shared).
@Suite(.serialized, .enabled(if: !insideTestVM))
struct VMHarnessTests {
    /// The explicit list of guest suites is the test binary's every `…InGuestTests` suite: a new one cannot be left out
    /// of the VM run, a renamed one cannot vanish from it.
    @Test func everyGuestSuiteIsListed() async throws {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let listed = try await runCommandAsync([executable, "--testing-library", "swift-testing", "--list-tests"]).output
        let found = Set(
            listed.split(separator: "\n").compactMap { line in line.split(separator: "/").first.map(String.init) }
                .filter { $0.hasSuffix("InGuestTests") })
        #expect(
            found == Set(guestSuites),
            "in the binary, not listed: \(found.subtracting(guestSuites)); listed, not in the binary: \(Set(guestSuites).subtracting(found))")
    }

    @Test func guestSuitesPassAgainstRealKernelDrivers() async throws {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var environment = ProcessInfo.processInfo.environment
        environment["COUNTERKIT_VM_NO_INSTALL"] = environment["COUNTERKIT_VM_NO_INSTALL"] ?? "1"
        // The device console in headless Chromium here, against the guest's service (ConsoleInGuestTests): the guest's
        // two ports are forwarded to this machine's loopback, and the browser test waits until that suite hands it a token.
        let consolePort = try freeTCPPort(), controlPort = try freeTCPPort()
        environment["COUNTERKIT_CONSOLE_PORT"] = "\(consolePort)"
        environment["COUNTERKIT_CONSOLE_CONTROL_PORT"] = "\(controlPort)"
        let root = repositoryRoot()
        let stopFile = FileManager.default.temporaryDirectory.appendingPathComponent("counterkit-console-vm-\(getpid())").path
        unlink(stopFile)
        defer { unlink(stopFile) }
        let browser = Task {
            try await runCommandAsync([
                "/bin/sh", "-c",
                [
                    "'\(root.appendingPathComponent(".build-venv/bin/python").path)'",
                    "'\(root.appendingPathComponent("clients/js/test/console_vm_test.py").path)'", "\(consolePort)", "\(controlPort)",
                    "'\(root.appendingPathComponent(".build/test-artifacts/browser").path)'", "1500", "'\(stopFile)'", "2>&1",
                ].joined(separator: " "),
            ])
        }
        let result = try await runCommandAsync(
            [
                root.appendingPathComponent("scripts/vm-run").path, "--timeout", "1200",
                "--forward", "\(consolePort)", "--forward", "\(controlPort)", "--",
            ]
                + guestSuitesCommand(testBinary: executable),
            environment: environment)
        _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
        let console = try await browser.value
        let output = result.output.replacingOccurrences(of: "\u{1B}", with: "")
        if result.status == 77 {
            // vm-run says why virtualization is impossible here. That fails the run unless the VM tests were switched
            // off on purpose (COUNTERKIT_SKIP_VM=1): a machine without the VM never passes the guest suites unrun.
            let reason = output.split(whereSeparator: \.isNewline).first { $0.contains("vm-run: SKIP") }.map(String.init) ?? output
            #expect(vmTestsSkippedOnPurpose, "the VM tests could not run (COUNTERKIT_SKIP_VM=1 skips them on purpose): \(reason)")
            print("VM-backed tests NOT RUN (\(vmTestsSkippedOnPurpose ? "COUNTERKIT_SKIP_VM=1" : "failure")): \(reason)")
            return
        }
        // A failure's own lines (the ✘ lines and the expectation after each) come first, the tail of the run after them.
        let lines = output.split(whereSeparator: \.isNewline).map(String.init)
        let failures = lines.indices.filter { lines[$0].contains("✘") }
            .flatMap { lines[$0...min($0 + 100, lines.count - 1)] }.prefix(400).joined(separator: "\n")
        #expect(result.status == 0, "guest test run failed (status \(result.status)):\n\(failures)\n--- tail ---\n\(output.suffix(8000))")
        // Every suite the guest listed ran and passed.
        // (The serial console ends lines with CR and may put terminal resets before the first one.)
        let suites = output.split(whereSeparator: \.isNewline).compactMap { line in
            line.range(of: "=== ").flatMap {
                line[$0.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").last.map(String.init)
            }
        }
        #expect(
            suites == guestSuites.map { String($0.split(separator: ".").last!) },
            "the guest ran \(suites), not every suite of guestSuites\n\(output.suffix(4000))")
        for suite in guestSuites.map({ String($0.split(separator: ".").last!) }) {
            #expect(output.contains("Suite \(suite) passed"), "\(suite) did not pass in the guest")
        }
        #expect(!output.contains("✘"), "failures in the guest:\n\(failures)")
        #expect(console.status == 0 && console.output.contains("console-vm: all passed"), "the console in Chromium: \(console.output)")
        print(console.output.split(separator: "\n").filter { $0.hasPrefix("console-vm: ") }.joined(separator: "\n"))
    }

    /// scripts/power-cuts: the service scans onto an ext4 disk image in the guest while qemu is killed at random
    /// moments, 20 times; every boot checks what the cut left (attachments against their SHA-256, no temp file, the
    /// jobs in flight `interrupted`, the next scan works).
    @Test func twentyPowerCutsLoseNothing() async throws {
        var environment = ProcessInfo.processInfo.environment
        environment["COUNTERKIT_VM_NO_INSTALL"] = environment["COUNTERKIT_VM_NO_INSTALL"] ?? "1"
        // The service the guest runs is the one this test binary was built with (a sanitizer build has its own).
        environment["COUNTERKIT_EXECUTABLE"] = SANETestEnvironment.counterkitExecutable
        let result = try await runCommandAsync(
            ["/bin/sh", "-c", "\"$0\" --cuts 20 2>&1", repositoryRoot().appendingPathComponent("scripts/power-cuts").path],
            environment: environment)
        if result.status == 77 {
            #expect(vmTestsSkippedOnPurpose, "the VM could not run (COUNTERKIT_SKIP_VM=1 skips it on purpose): \(result.output)")
            print("power cuts NOT RUN (\(vmTestsSkippedOnPurpose ? "COUNTERKIT_SKIP_VM=1" : "failure"))")
            return
        }
        #expect(result.status == 0, "\(result.output.suffix(6000))")
        let lines = result.output.split(separator: "\n").map(String.init)
        let summary = lines.last { $0.hasPrefix("power-cuts: ") } ?? ""
        #expect(
            summary.hasPrefix("power-cuts: ") && summary.contains(" cuts survived, ") && summary.hasSuffix("mid-scan (at least 10 required)"),
            "\(result.output.suffix(3000))")
        // At least ten boots saw a scan that was in flight at the cut `interrupted`; every boot checked the spool.
        #expect(lines.filter { $0.contains("the cut landed mid-scan") }.count >= 10, "\(result.output.suffix(3000))")
        #expect(!lines.contains { $0.contains("FAIL") })
        print(summary)
    }
}
