import Foundation

/// Whether this process runs inside the test VM (scripts/vm-run sets COUNTERKIT_VM=1).
public let insideTestVM = ProcessInfo.processInfo.environment["COUNTERKIT_VM"] == "1"

/// Loads (and reloads) the kernel's vivid camera driver in the test VM.
public enum VividModule {
    /// The capture node vivid creates first.
    public static let capturePath = "/dev/video0"

    /// Loads vivid unless its capture node is there.
    public static func load() throws {
        if FileManager.default.fileExists(atPath: capturePath) { return }
        try modprobe(["vivid"])
    }

    /// Unloads and loads vivid: a fresh device with default controls.
    public static func reload() throws {
        try modprobe(["-r", "vivid"])
        try modprobe(["vivid"])
    }

    private static func modprobe(_ arguments: [String]) throws {
        let result = try runCommand(["/sbin/modprobe"] + arguments, environment: ProcessInfo.processInfo.environment)
        guard result.status == 0 else {
            throw TestVMError(message: "modprobe \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.output)")
        }
        for _ in 0..<50 where !FileManager.default.fileExists(atPath: capturePath) { Thread.sleep(forTimeInterval: 0.1) }
    }
}

/// A guest setup step failed.
public struct TestVMError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Every suite that runs in the test VM, by its full name, in the order the guest runs them. Named here, not found by a
/// name suffix, so that a renamed or removed suite fails the run instead of vanishing from it (`VMHarnessTests` also
/// checks that the test binary has no `…InGuestTests` suite missing from this list).
public let guestSuites = [
    "CamerasTests.DoctorInGuestTests", "CamerasTests.VividInGuestTests",
    "DeviceServiceTests.ConsoleInGuestTests", "DeviceServiceTests.DiskFullInGuestTests", "DeviceServiceTests.PhotoServiceInGuestTests",
    "DeviceServiceTests.PreviewInGuestTests", "DeviceServiceTests.SignatureServiceInGuestTests",
    "SignaturePadsTests.DeviceWatchInGuestTests", "SignaturePadsTests.DiagnosticsInGuestTests", "SignaturePadsTests.STUPadInGuestTests",
    "SignaturePadsTests.SessionStreamInGuestTests", "SignaturePadsTests.SignCommandInGuestTests", "SignaturePadsTests.USBGadgetInGuestTests",
]

/// Whether the VM-backed tests were switched off on purpose (`COUNTERKIT_SKIP_VM=1`); without it, a machine that cannot
/// run the test VM fails those tests instead of passing them unrun.
public var vmTestsSkippedOnPurpose: Bool { ProcessInfo.processInfo.environment["COUNTERKIT_SKIP_VM"] == "1" }

/// The shell command the host runs in the VM: every suite of `guestSuites`, one suite after another (suites in one
/// process run concurrently, and guest suites share devices such as vivid). Exits non-zero if any suite failed, after
/// running them all.
public func guestSuitesCommand(testBinary: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
    // The guest's environment starts empty: sanitizer settings (scripts/sanitize) are passed on explicitly.
    let forwarded = ["ASAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS", "UBSAN_OPTIONS"].compactMap { name in
        environment[name].map { "export \(name)='\($0.replacingOccurrences(of: "'", with: ""))'\n" }
    }.joined()
    let script =
        forwarded + #"""
            bin=$1; shift; status=0
            for suite in "$@"; do
                echo "=== $suite"
                "$bin" --testing-library swift-testing --filter "^$suite/" || status=1
            done
            exit $status
            """#
    return ["/bin/sh", "-c", script, "guest-suites", testBinary] + guestSuites
}

/// The eight bars of vivid's "75% Colorbar" pattern (and of the standard 75% colour bars) in RGB:
/// white, yellow, cyan, green, magenta, red, blue, black at 75% amplitude.
public let colourBars75: [(UInt8, UInt8, UInt8)] = [
    (191, 191, 191), (191, 191, 0), (0, 191, 191), (0, 191, 0), (191, 0, 191), (191, 0, 0), (0, 0, 191), (0, 0, 0),
]

/// Whether an RGB pixel is within `tolerance` of `expected` in every component.
public func close(_ pixel: ArraySlice<UInt8>, _ expected: (UInt8, UInt8, UInt8), tolerance: Int) -> Bool {
    let values = Array(pixel)
    return abs(Int(values[0]) - Int(expected.0)) <= tolerance && abs(Int(values[1]) - Int(expected.1)) <= tolerance
        && abs(Int(values[2]) - Int(expected.2)) <= tolerance
}

extension DecodedImage {
    /// The pixel at the middle of colour bar `bar` (of eight) on the middle row.
    public func barPixel(_ bar: Int) -> ArraySlice<UInt8> {
        let x = width * (2 * bar + 1) / 16, y = height / 2
        let offset = (y * width + x) * channels
        return pixels[offset..<offset + channels]
    }
}
