import CFuzzerDriver
import Foundation
import FuzzTargets

/// The target chosen by `COUNTERKIT_FUZZ_TARGET` (see `FuzzTarget` for the names).
let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["COUNTERKIT_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("set COUNTERKIT_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return target
}()

/// The entry point SwiftPM links as `main`: hands the command line to libFuzzer with one input callback.
@_cdecl("counterkit_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    _ = selectedTarget
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        selectedTarget.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
        return 0
    }
}

/// libFuzzer's own entry point for one input (its `main` may be linked instead of ours, depending on the linker).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selectedTarget.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
