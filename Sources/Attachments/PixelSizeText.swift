/// Sizes as the API and the CLI write them, `WIDTHxHEIGHT` (or `X`): digits only, no sign or spaces, leading zeros
/// allowed, each side 1…`maximum`, which is what the API's schema patterns say too. Camera frame sizes and signature
/// PNG sizes are read by this one parser.
public enum PixelSizeText {
    /// The size in `text`, or nil when it is not `WIDTHxHEIGHT` within 1…`maximum`.
    public static func parse(_ text: String, maximum: Int) -> (width: Int, height: Int)? {
        func side(_ part: Substring) -> Int? {
            guard !part.isEmpty, part.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            let digits = part.drop { $0 == "0" }
            guard digits.count <= String(maximum).count, let value = Int(digits), (1...maximum).contains(value) else { return nil }
            return value
        }
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let width = side(parts[0]), let height = side(parts[1]) else { return nil }
        return (width, height)
    }
}
