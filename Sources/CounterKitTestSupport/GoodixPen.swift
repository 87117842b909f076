import Foundation

/// The Goodix GXTP pen (27c6:0113) as a gadget plays it: its real report descriptor (`fixtures/hid`) and its pen report.
public enum GoodixPen {
    /// USB vendor and product ids.
    public static let vendor: UInt16 = 0x27C6
    public static let product: UInt16 = 0x0113

    /// The pen's report descriptor, from `fixtures/hid/goodix-gxtp-27c6-0113.hex`.
    public static func descriptor() throws -> [UInt8] {
        let text = try String(
            contentsOf: repositoryRoot().appendingPathComponent("fixtures/hid/goodix-gxtp-27c6-0113.hex"), encoding: .utf8)
        return text.split(whereSeparator: \.isWhitespace).map { UInt8($0, radix: 16)! }
    }

    /// Pen report 8: tip (when `touching`) and in range, X, Y, pressure, tilt 0.
    public static func report(x: UInt16, y: UInt16, pressure: UInt16, touching: Bool = true) -> [UInt8] {
        [
            0x08, touching ? 0b0010_0001 : 0b0010_0000, 0x00, UInt8(x & 0xFF), UInt8(x >> 8), UInt8(y & 0xFF), UInt8(y >> 8),
            UInt8(pressure & 0xFF), UInt8(pressure >> 8), 0, 0, 0, 0,
        ]
    }
}
