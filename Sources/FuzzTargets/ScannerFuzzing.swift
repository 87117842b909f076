import Attachments
import Foundation
import Scanning
import SystemPackage

/// Targets for what a scanner, its backend and the scan worker send, and for option values people type.
enum ScannerFuzzing {
    /// A descriptor from the input's first bytes, then the rest as the typed value.
    static func optionValue(_ bytes: [UInt8]) -> Bool {
        var reader = FuzzReader(bytes)
        let types: [OptionType] = [.bool, .int, .fixed, .string]
        let type = types[Int(reader.byte()) % types.count]
        let constraint: OptionConstraint
        switch reader.byte() % 3 {
        case 0:
            constraint = .none
        case 1:
            constraint = .range(
                min: Double(reader.int32()) / 65536, max: Double(reader.int32()) / 65536,
                quant: Double(reader.int32()) / 65536)
        default:
            let count = Int(reader.byte() % 16)
            constraint =
                type == .string
                ? .stringList((0..<count).map { _ in String(decoding: reader.piece(), as: UTF8.self) })
                : .wordList((0..<count).map { _ in Double(reader.int32()) / 65536 })
        }
        let size = 4 * (1 + Int(reader.byte() % 4))
        let descriptor = OptionDescriptor(name: "fuzzed", type: type, size: size, constraint: constraint)
        let text = String(decoding: reader.rest(), as: UTF8.self)
        guard let value = try? RawOptionsLayer.parse(text, for: descriptor) else { return false }
        _ = value.description
        return true
    }

    /// Operations on a frame assembler, one byte each: begin a frame (its parameters follow), hand over data
    /// (a length-prefixed piece), end the frame, end the page. A refused input stops at its first error.
    static func frames(_ bytes: [UInt8]) -> Bool {
        var reader = FuzzReader(bytes)
        let assembler = FrameAssembler(sink: CheckingPageSink(), dpi: 300)
        let formats: [FrameParameters.Format] = [.gray, .rgb, .red, .green, .blue]
        do throws(ScanError) {
            while !reader.isAtEnd {
                switch reader.byte() % 4 {
                case 0:
                    let format = formats[Int(reader.byte()) % formats.count]
                    let flags = reader.byte()
                    let depths = [1, 8, 16, Int(flags >> 2)]
                    let pixels = Int(reader.int32()), bytesPerLine = Int(reader.int32()), lines = Int(Int16(bitPattern: reader.uint16()))
                    try assembler.beginFrame(
                        FrameParameters(
                            format: format, lastFrame: flags & 1 == 1, bytesPerLine: bytesPerLine,
                            pixelsPerLine: pixels, lines: lines, depth: depths[Int(flags >> 1) % depths.count]))
                case 1:
                    let piece = reader.piece()
                    let failure = piece.withUnsafeBytes { data -> ScanError? in
                        do throws(ScanError) { try assembler.consume(data) } catch { return error }
                        return nil
                    }
                    if let failure { throw failure }
                case 2:
                    try assembler.endFrame()
                default:
                    try assembler.endPage()
                }
            }
            return true
        } catch {
            return false
        }
    }

    /// Bytes as the worker could write them on its pipe (the parent must survive a worker gone mad),
    /// read back frame by frame until the end.
    static func workerStream(_ bytes: [UInt8]) -> Bool {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { preconditionFailure("pipe: \(Errno(rawValue: errno).description)") }
        defer { close(ends[0]) }
        // A pipe holds 64 KiB, more than any input, so one write never blocks.
        let written = bytes.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }
        precondition(bytes.isEmpty || written == bytes.count, "the pipe took \(written) of \(bytes.count) bytes")
        close(ends[1])
        let reader = WorkerFrameReader(fd: ends[0], ringCapacity: 1 << 17)
        var frames = 0
        while true {
            switch try? reader.next(pollMilliseconds: 1000) {
            case .event, .data: frames += 1
            case .closed, .idle, nil: return frames > 0
            }
        }
    }
}

/// Pages go to encoders that check their rows and store nothing.
final class CheckingPageSink: PageSink {
    func beginPage(_ image: ImageDescription) throws(ScanError) -> RowEncoder {
        precondition(image.width > 0 && image.height > 0, "a page of \(image.width)x\(image.height)")
        return CheckingRowEncoder(image: image)
    }

    func endPage(_ image: ImageDescription) throws(ScanError) {}
}
