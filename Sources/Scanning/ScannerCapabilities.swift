/// What a scanner can do, in the normalized vocabulary of `ScanRequest`: derived from its option descriptors.
public struct ScannerCapabilities: Sendable, Equatable, Codable {
    /// Normalized sources offered (flatbed when the scanner has no source option).
    public var sources: [ScanSource]
    /// Normalized colour modes offered.
    public var modes: [ScanMode]
    /// Resolutions: the listed values, or the range's ends and step.
    public var resolutions: ResolutionChoice?
    /// The largest scan area in millimetres (width, height), when the backend gives its range.
    public var maxAreaMillimetres: [Double]?
    /// Paper presets that fit the area.
    public var papers: [PaperSize]

    /// Resolutions a scanner accepts. In JSON: `{"values": [dpi…]}` or `{"min": …, "max": …, "step": …}`.
    public enum ResolutionChoice: Sendable, Equatable, Codable {
        /// Exactly these resolutions.
        case list([Double])
        /// Any resolution in the range, in steps (0: any).
        case range(min: Double, max: Double, step: Double)

        private enum CodingKeys: String, CodingKey { case values, min, max, step }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if let values = try container.decodeIfPresent([Double].self, forKey: .values) {
                self = .list(values)
            } else {
                self = .range(
                    min: try container.decode(Double.self, forKey: .min), max: try container.decode(Double.self, forKey: .max),
                    step: try container.decode(Double.self, forKey: .step))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .list(let values):
                try container.encode(values, forKey: .values)
            case .range(let min, let max, let step):
                try container.encode(min, forKey: .min)
                try container.encode(max, forKey: .max)
                try container.encode(step, forKey: .step)
            }
        }
    }

    /// Capabilities from their parts; the paper presets are those that fit the area.
    public init(sources: [ScanSource], modes: [ScanMode], resolutions: ResolutionChoice?, maxAreaMillimetres: [Double]?) {
        self.sources = sources
        self.modes = modes
        self.resolutions = resolutions
        self.maxAreaMillimetres = maxAreaMillimetres
        papers =
            maxAreaMillimetres.map { area in
                PaperSize.allCases.filter { area.count == 2 && $0.size.width <= area[0] + 0.5 && $0.size.height <= area[1] + 0.5 }
            } ?? []
    }

    /// Derives capabilities from the descriptors.
    public init(_ options: DeviceOptions) {
        let byName = Dictionary(options.descriptors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func strings(_ name: String) -> [String]? {
            guard let descriptor = byName[name], case .stringList(let list) = descriptor.constraint else { return nil }
            return list
        }
        func unique<T: Equatable>(_ values: [T]) -> [T] { values.reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }
        let sources = strings("source").map { unique($0.compactMap(SourceLayer.classify)) } ?? [.flatbed]
        let modes = unique((strings("mode") ?? []).compactMap(ModeLayer.classify))
        let resolutions: ResolutionChoice? =
            switch byName["resolution"]?.constraint {
            case .wordList(let values): .list(values)
            case .range(let min, let max, let quant): .range(min: min, max: max, step: quant)
            default: nil
            }
        var area: [Double]?
        if case .range(_, let maxX, _) = byName["br-x"]?.constraint, case .range(_, let maxY, _) = byName["br-y"]?.constraint,
            byName["br-x"]?.unit == .mm
        {
            area = [maxX, maxY]
        }
        self.init(sources: sources, modes: modes, resolutions: resolutions, maxAreaMillimetres: area)
    }
}
