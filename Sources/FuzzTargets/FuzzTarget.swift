import Attachments
import DeviceService
import Foundation
import Scanning
import SignaturePads

/// The parsers that read bytes from outside CounterKit's control (devices, backends, drivers, clients), each as a
/// fuzz target: a function that must return for every input, without trapping, leaking or touching memory it
/// does not own. libFuzzer drives them through `counterkit-fuzz` (`scripts/fuzz`); the test suite replays the
/// seed corpus in `fixtures/fuzz/<target>/` (which also keeps every input that once failed) and a bounded
/// number of deterministic mutations of it.
package enum FuzzTarget: String, CaseIterable, Sendable {
    /// A HID report descriptor, as a pad's firmware reports it.
    case hidDescriptor = "hid-descriptor"
    /// Pen and feature reports: STU reports, or a generic digitizer's descriptor followed by its input reports.
    case penReports = "pen-reports"
    /// A camera's Motion-JPEG frame: the marker walk, the Huffman-table insertion and the decode.
    case jpegFrame = "jpeg-frame"
    /// A value typed for a SANE option (`--option NAME=VALUE`), against a descriptor the input describes.
    case saneOptionValue = "sane-option-value"
    /// Frame parameters and image data as a SANE backend hands them over, through the frame assembler.
    case saneFrames = "sane-frames"
    /// The scan worker's pipe: frames of events and of image bytes announced in the shared ring, read by the parent.
    case workerStream = "worker-stream"
    /// A JSON request body for `POST /v1/scans`, `/v1/photos` and `/v1/signatures`.
    case apiRequest = "api-request"

    /// Inputs longer than this are cut (each target reaches its code paths with far less).
    package static let maxInputLength = 16_384

    /// Runs the target on one input; true when the input was accepted (parsed or decoded), false when it was
    /// refused with an error. Traps (crashes) when a parser breaks one of its own promises.
    @discardableResult
    package func run(_ input: [UInt8]) -> Bool {
        let bytes = Array(input.prefix(Self.maxInputLength))
        switch self {
        case .hidDescriptor: return HIDFuzzing.descriptor(bytes)
        case .penReports: return HIDFuzzing.penReports(bytes)
        case .jpegFrame: return ImageFuzzing.jpegFrame(bytes)
        case .saneOptionValue: return ScannerFuzzing.optionValue(bytes)
        case .saneFrames: return ScannerFuzzing.frames(bytes)
        case .workerStream: return ScannerFuzzing.workerStream(bytes)
        case .apiRequest: return APIFuzzing.requestBody(bytes)
        }
    }
}

/// Reads structured values off the front of a fuzz input; past its end every read gives zero.
struct FuzzReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func byte() -> UInt8 {
        defer { offset += 1 }
        return offset < bytes.count ? bytes[offset] : 0
    }

    mutating func uint16() -> UInt16 { UInt16(byte()) | UInt16(byte()) << 8 }

    mutating func int32() -> Int32 { Int32(bitPattern: UInt32(uint16()) | UInt32(uint16()) << 16) }

    /// Up to `count` bytes (fewer at the end).
    mutating func take(_ count: Int) -> [UInt8] {
        let start = min(offset, bytes.count)
        let end = min(start + count, bytes.count)
        offset = max(offset, end)
        return Array(bytes[start..<end])
    }

    /// A piece whose length comes first (one byte).
    mutating func piece() -> [UInt8] { take(Int(byte())) }

    /// Everything left.
    mutating func rest() -> [UInt8] { take(bytes.count) }
}
