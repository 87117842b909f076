// swift-tools-version: 6.1
import Foundation
import PackageDescription

/// C libraries come from Debian's -dev packages, found through pkg-config.
let package = Package(
    name: "CounterKit",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "CounterKit", targets: ["CounterKit"]),
        .library(name: "Attachments", targets: ["Attachments"]),
        .library(name: "Scanning", targets: ["Scanning"]),
        .library(name: "Cameras", targets: ["Cameras"]),
        .library(name: "SignaturePads", targets: ["SignaturePads"]),
        .library(name: "DeviceService", targets: ["DeviceService"]),
        .library(name: "Diagnostics", targets: ["Diagnostics"]),
        .executable(name: "counterkit", targets: ["counterkit"]),
        .executable(name: "counterkit-scan-worker", targets: ["counterkit-scan-worker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CSANE", pkgConfig: "sane-backends", providers: [.apt(["libsane-dev"])]),
        .systemLibrary(name: "CLibUSB", pkgConfig: "libusb-1.0", providers: [.apt(["libusb-1.0-0-dev"])]),
        .systemLibrary(name: "CV4L2", pkgConfig: "libv4lconvert", providers: [.apt(["libv4l-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev", "libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CFreeType", pkgConfig: "freetype2", providers: [.apt(["libfreetype-dev", "libfontconfig-dev", "fonts-dejavu-core"])]),

        .target(name: "CWriteStream"),
        .target(
            name: "Attachments",
            dependencies: ["CPNG", "CTurboJPEG", "CZlib", "CWriteStream", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(name: "ChildProcesses"),
        .target(name: "CBackendThreads"),
        .target(name: "Scanning", dependencies: ["CSANE", "CBackendThreads", "Attachments", "ChildProcesses"]),
        .target(name: "Cameras", dependencies: ["CV4L2", "Attachments"]),
        .target(name: "SignaturePads", dependencies: ["CLibUSB", "CFreeType", "Attachments"]),
        .target(name: "Diagnostics", dependencies: ["Attachments", "Scanning", "Cameras", "SignaturePads", "ChildProcesses", "CLibUSB", "CPNG", "CTurboJPEG"]),
        .target(name: "CounterKit", dependencies: ["Attachments", "Scanning", "Cameras", "SignaturePads"]),
        .target(
            name: "DeviceService",
            dependencies: [
                "Attachments", "Scanning", "Cameras", "SignaturePads", "Diagnostics",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(name: "FuzzTargets", dependencies: ["Attachments", "Scanning", "SignaturePads", "DeviceService"]),
        .target(name: "CounterKitTestSupport", dependencies: ["Attachments", "Scanning", "SignaturePads", "ChildProcesses", "CPNG", "CTurboJPEG"]),
        .executableTarget(
            name: "counterkit",
            dependencies: [
                "Attachments", "Scanning", "Cameras", "SignaturePads", "DeviceService", "Diagnostics", "CSANE", "CLibUSB", "CV4L2", "CPNG", "CTurboJPEG",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "counterkit-scan-worker", dependencies: ["Scanning"]),
        .executableTarget(
            name: "counterkit-bench",
            dependencies: ["Attachments", "Scanning", "SignaturePads", "DeviceService", "CounterKitTestSupport"],
            path: "Benchmarks/counterkit-bench"
        ),
        // Examples/: small programs for integrators to copy, built with everything else.
        .executableTarget(name: "scan-to-pdf", dependencies: ["Scanning", "Attachments"], path: "Examples/ScanToPDF"),
        .executableTarget(name: "sign-to-files", dependencies: ["SignaturePads", "Attachments"], path: "Examples/SignToFiles"),
        .executableTarget(name: "id-photo", dependencies: ["Cameras", "Attachments"], path: "Examples/IDPhoto"),

        .testTarget(name: "CounterKitTests", dependencies: ["CounterKit", "CounterKitTestSupport", "ChildProcesses"]),
        .testTarget(name: "AttachmentsTests", dependencies: ["Attachments", "SignaturePads", "CounterKitTestSupport"]),
        .testTarget(name: "CamerasTests", dependencies: ["Cameras", "Attachments", "CounterKitTestSupport"]),
        .testTarget(name: "SignaturePadsTests", dependencies: ["SignaturePads", "Attachments", "Diagnostics", "ChildProcesses", "CounterKitTestSupport"]),
        .testTarget(name: "ScanningTests", dependencies: ["Scanning", "CBackendThreads", "Attachments", "CounterKitTestSupport"]),
        .testTarget(name: "DiagnosticsTests", dependencies: ["Diagnostics", "DeviceService", "Scanning", "CounterKitTestSupport", "ChildProcesses"]),
        .testTarget(name: "DeviceServiceTests", dependencies: ["DeviceService", "Diagnostics", "Scanning", "Cameras", "SignaturePads", "Attachments", "ChildProcesses", "CounterKitTestSupport",
                                                                  .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets", "CounterKitTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

// scripts/fuzz sets COUNTERKIT_FUZZ=1 and builds with -sanitize=fuzzer,address, where libFuzzer supplies main();
// without that flag the fuzzer cannot link, so an ordinary build leaves it out.
if ProcessInfo.processInfo.environment["COUNTERKIT_FUZZ"] == "1" {
    package.targets += [
        .target(name: "CFuzzerDriver", path: "Fuzz/CFuzzerDriver"),
        .executableTarget(name: "counterkit-fuzz", dependencies: ["FuzzTargets", "CFuzzerDriver"], path: "Fuzz/counterkit-fuzz",
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ]
}
