// swift-tools-version: 6.1
import Foundation
import PackageDescription

/// swift-system: file descriptors and errno as types (its calls retry on EINTR themselves).
let system: Target.Dependency = .product(name: "SystemPackage", package: "swift-system")

/// C libraries come from Debian's -dev packages, found through pkg-config.
let package = Package(
    name: "CounterKit",
    products: [
        .library(name: "CounterKit", targets: ["CounterKit"]),
        .library(name: "CounterKitCore", targets: ["CounterKitCore"]),
        .library(name: "Attachments", targets: ["Attachments"]),
        .library(name: "Scanning", targets: ["Scanning"]),
        .library(name: "Cameras", targets: ["Cameras"]),
        .library(name: "SignaturePads", targets: ["SignaturePads"]),
        .library(name: "DeviceHub", targets: ["DeviceHub"]),
        // A hub that answers from memory, for an integrator's own tests.
        .library(name: "DeviceHubTesting", targets: ["DeviceHubTesting"]),
        .library(name: "DeviceService", targets: ["DeviceService"]),
        .library(name: "Diagnostics", targets: ["Diagnostics"]),
        .library(name: "ESCL", targets: ["ESCL"]),
        .library(name: "DocumentImaging", targets: ["DocumentImaging"]),
        .library(name: "Sealing", targets: ["Sealing"]),
        .library(name: "SignedDocuments", targets: ["SignedDocuments"]),
        .library(name: "Audit", targets: ["Audit"]),
        // An executable that runs SANE backends in its own process (a scan worker) links this: it keeps backends'
        // reader threads cancellable only where glibc holds no lock, by replacing pthread_setcanceltype for the process.
        .library(name: "ScanWorkerThreads", targets: ["CBackendThreads"]),
        .executable(name: "counterkit", targets: ["counterkit"]),
        .executable(name: "counterkit-scan-worker", targets: ["counterkit-scan-worker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
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
        // What Sealing asks of OpenSSL's libcrypto: CMS envelopes (one-way encryption to the back office) and SM2/SM3.
        .target(name: "CLibcrypto", linkerSettings: [.linkedLibrary("crypto")]),
        // Counter keys in a PKCS#11 token: p11-kit (Debian's libp11-kit-dev) loads the module and parses pkcs11: URIs.
        // Its headers are reached through `p11-kit`, a link to /usr/include/p11-kit-1/p11-kit (as CDocumentImaging
        // reaches OpenCV's), so that no unsafe flags are needed.
        .target(name: "CTokenSigning", exclude: ["p11-kit"], cSettings: [.headerSearchPath(".")], linkerSettings: [.linkedLibrary("p11-kit")]),
        // What every module shares: the one error type and its code vocabulary, the version, the cancel switch.
        .target(name: "CounterKitCore", dependencies: [system]),
        .target(
            name: "Attachments",
            dependencies: ["CounterKitCore", "CPNG", "CTurboJPEG", "CZlib", "CWriteStream", .product(name: "Crypto", package: "swift-crypto"), system]
        ),
        .target(name: "ChildProcesses", dependencies: [system]),
        // Document imaging on OpenCV (Debian's libopencv-core-dev and libopencv-imgproc-dev, which ship no pkg-config
        // file of their own): C++ behind a C header. OpenCV's headers are reached through `opencv/opencv2`, a link to
        // /usr/include/opencv4/opencv2, with a header search path inside the target: no unsafe flags, so a package
        // that depends on CounterKit by version may use DocumentImaging (SwiftPM refuses unsafe flags there).
        .target(
            name: "CDocumentImaging",
            exclude: ["opencv"],
            cxxSettings: [.headerSearchPath("opencv")],
            linkerSettings: [.linkedLibrary("opencv_imgproc"), .linkedLibrary("opencv_core")]
        ),
        // Finding, flattening, deskewing and judging pages between the device streams and the encoders.
        .target(name: "DocumentImaging", dependencies: ["CounterKitCore", "CDocumentImaging", "Attachments", "CPNG", "CTurboJPEG", system]),
        .target(name: "CBackendThreads"),
        // The counter's signing key (and, to come, signed manifests, envelopes and the audit log): swift-crypto, ASN.1
        // and X.509 through swift-asn1 and swift-certificates.
        .target(
            name: "Sealing",
            dependencies: [
                "CounterKitCore", "Attachments", "CLibcrypto", "CTokenSigning", system, .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"), .product(name: "X509", package: "swift-certificates"),
            ]),
        .systemLibrary(name: "CQPDF", pkgConfig: "libqpdf", providers: [.apt(["libqpdf-dev"])]),
        // Documents the citizen signs: the ink placed on a PDF, a PAdES signature in an incremental update, the pen
        // data encrypted inside (qpdf reads the PDF; CMS through swift-asn1).
        .target(
            name: "SignedDocuments",
            dependencies: [
                "CounterKitCore", "Attachments", "Sealing", "SignaturePads", "CQPDF", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"), .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        // The spool's hash-chained, signed audit log: what CounterSigning signs, in the spool it keeps.
        .target(
            name: "Audit",
            dependencies: ["CounterKitCore", "Attachments", system, .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "Scanning",
            dependencies: ["CounterKitCore", "CSANE", "Attachments", "ChildProcesses", .product(name: "Crypto", package: "swift-crypto"), system]),
        .target(name: "Cameras", dependencies: ["CounterKitCore", "CV4L2", "Attachments", system]),
        .target(name: "SignaturePads", dependencies: ["CounterKitCore", "CLibUSB", "CFreeType", "Attachments"]),
        .target(
            name: "Diagnostics",
            dependencies: [
                "Attachments", "Scanning", "Cameras", "SignaturePads", "DeviceHub", "ChildProcesses", "ServiceDiscovery", "CLibUSB", "CPNG", "CTurboJPEG",
            ]),
        // Whether this machine can advertise over mDNS (the eSCL advertiser and the doctor ask it).
        .target(name: "ServiceDiscovery"),
        // The one owner of devices: discovery of the three families, device summaries, the blocking-call executor.
        .target(name: "DeviceHub", dependencies: ["CounterKitCore", "Attachments", "Scanning", "Cameras", "SignaturePads", "DocumentImaging", system]),
        // `FakeDeviceHub`: the hub's protocol answered from memory, for tests of code built on the hub.
        .target(name: "DeviceHubTesting", dependencies: ["DeviceHub", "Attachments", "Scanning", "Cameras", "SignaturePads"]),
        // eSCL (AirScan) for driverless clients, over the hub's scanners and jobs.
        .target(
            name: "ESCL",
            dependencies: [
                "CounterKitCore", "Attachments", "Scanning", "DeviceHub", "ChildProcesses", "ServiceDiscovery",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(name: "CounterKit", dependencies: ["Attachments", "Scanning", "Cameras", "SignaturePads", "DeviceHub"]),
        .target(
            name: "DeviceService",
            dependencies: [
                "CounterKitCore", "Attachments", "Scanning", "Cameras", "SignaturePads", "DeviceHub", "Diagnostics", "ESCL", "DocumentImaging",
                "Audit", "SignedDocuments", system,
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            // The API contract (api/openapi.json) and the browser files (clients/js/) are compiled in byte for byte, so an
            // installed binary serves them with no files beside it; Embedded/ links to them where they are edited.
            resources: ["openapi.json", "counterkit.js", "counterkit.d.ts", "index.html", "console.js"].map { .embedInCode("Embedded/\($0)") }
        ),
        .target(name: "FuzzTargets", dependencies: ["Attachments", "Scanning", "SignaturePads", "DeviceService", system]),
        // Shared by the tests and the benchmark; nothing that ships links it. Its Testing traits compile only where the
        // Testing module is (test builds), so a release build of the package does not need it.
        .target(
            name: "CounterKitTestSupport",
            dependencies: ["Attachments", "Scanning", "SignaturePads", "ChildProcesses", "DocumentImaging", "CPNG", "CTurboJPEG", system],
            // Optimized even in debug builds: its synthetic scenes are millions of pixels drawn in Swift, and unoptimized
            // they took a core for a minute of every test run, beside timing-sensitive tests.
            swiftSettings: [.unsafeFlags(["-O"])]),
        .executableTarget(
            name: "counterkit",
            dependencies: [
                "CounterKitCore", "Attachments", "Scanning", "Cameras", "SignaturePads", "DeviceHub", "DeviceService", "Diagnostics", "ChildProcesses", "ESCL",
                "DocumentImaging", "Sealing", "Audit", "SignedDocuments", system,
                "CBackendThreads",  // `counterkit worker` runs SANE backends
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .executableTarget(name: "counterkit-scan-worker", dependencies: ["Scanning", "CBackendThreads"]),
        // Examples/: small programs for integrators to copy, built with everything else.
        .executableTarget(name: "scan-to-pdf", dependencies: ["Scanning", "Attachments", "CBackendThreads"], path: "Examples/ScanToPDF"),
        .executableTarget(name: "sign-to-files", dependencies: ["SignaturePads", "Attachments"], path: "Examples/SignToFiles"),
        .executableTarget(name: "id-photo", dependencies: ["Cameras", "Attachments"], path: "Examples/IDPhoto"),

        .testTarget(name: "CounterKitTests", dependencies: ["CounterKitCore", "CounterKit", "CounterKitTestSupport", "ChildProcesses"]),
        .testTarget(
            name: "DeviceHubTests",
            dependencies: ["DeviceHub", "DeviceHubTesting", "Attachments", "Scanning", "Cameras", "SignaturePads", "CounterKitTestSupport"]),
        .testTarget(name: "AttachmentsTests", dependencies: ["Attachments", "SignaturePads", "CounterKitTestSupport"]),
        .testTarget(name: "CamerasTests", dependencies: ["Cameras", "Attachments", "CounterKitTestSupport"]),
        .testTarget(name: "SignaturePadsTests", dependencies: ["SignaturePads", "Attachments", "Diagnostics", "ChildProcesses", "CounterKitTestSupport"]),
        .testTarget(name: "ScanningTests", dependencies: ["Scanning", "CBackendThreads", "Attachments", "CounterKitTestSupport"]),
        .testTarget(name: "DiagnosticsTests", dependencies: ["Diagnostics", "CounterKitTestSupport"]),
        .testTarget(
            name: "DeviceServiceTests",
            dependencies: [
                "DeviceService", "Diagnostics", "ESCL", "Scanning", "Cameras", "SignaturePads", "Attachments", "ChildProcesses", "CounterKitTestSupport",
                "DocumentImaging", "Sealing",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
        .testTarget(name: "ESCLTests", dependencies: ["ESCL", "Scanning"]),
        .testTarget(
            name: "SealingTests",
            dependencies: ["Sealing", "Attachments", "CounterKitTestSupport", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(
            name: "AuditTests",
            dependencies: ["Audit", "Sealing", "Attachments", "CounterKitTestSupport", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(
            name: "SignedDocumentsTests",
            dependencies: [
                "SignedDocuments", "Sealing", "SignaturePads", "Attachments", "DocumentImaging", "CounterKitTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(name: "DocumentImagingTests", dependencies: ["DocumentImaging", "CDocumentImaging", "Attachments", "CounterKitTestSupport"]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets", "CounterKitTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

// scripts/fuzz sets COUNTERKIT_FUZZ=1 and builds with -sanitize=fuzzer,address, where libFuzzer supplies main();
// without that flag the fuzzer cannot link, so an ordinary build leaves it out.
if ProcessInfo.processInfo.environment["COUNTERKIT_FUZZ"] == "1" {
    package.targets += [
        .target(name: "CFuzzerDriver", path: "Fuzz/CFuzzerDriver"),
        .executableTarget(
            name: "counterkit-fuzz", dependencies: ["FuzzTargets", "CFuzzerDriver"], path: "Fuzz/counterkit-fuzz",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ]
}

// The benchmark (`make bench` sets COUNTERKIT_BENCH=1) is built only when asked for, so that a plain build of the
// products, as the README's install command runs it, builds no benchmark.
if ProcessInfo.processInfo.environment["COUNTERKIT_BENCH"] == "1" {
    package.targets.append(
        .executableTarget(
            name: "counterkit-bench",
            dependencies: ["Attachments", "SignaturePads", "DeviceService", "DocumentImaging", "Sealing", "SignedDocuments", "CounterKitTestSupport"],
            path: "Benchmarks/counterkit-bench"
        ))
}
