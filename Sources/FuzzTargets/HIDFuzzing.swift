import SignaturePads

/// Targets for what a signature pad sends: its report descriptor and its reports.
enum HIDFuzzing {
    /// Parses a descriptor; when it parses, asks it everything a driver would and builds a digitizer from it.
    static func descriptor(_ bytes: [UInt8]) -> Bool {
        guard let descriptor = try? HIDReportDescriptor(bytes) else { return false }
        for kind in [HIDReportKind.input, .output, .feature] {
            for id in descriptor.reportIDs(kind) {
                let length = descriptor.reportLength(kind, id: id)
                precondition(length >= 0, "a report length is never negative")
            }
        }
        _ = try? PenDigitizer(descriptor: descriptor)
        return true
    }

    /// Even first byte: STU reports, each length-prefixed. Odd: a generic digitizer's descriptor (length-prefixed,
    /// two bytes) and then its input reports, each length-prefixed. Decoded samples must be finite.
    static func penReports(_ bytes: [UInt8]) -> Bool {
        var reader = FuzzReader(bytes)
        var accepted = false
        if reader.byte() & 1 == 0 {
            while !reader.isAtEnd {
                let report = reader.piece()
                if let pen = try? STU.PenData(report: report) {
                    let sample = pen.sample(time: 0, maxPressure: reader.uint16())
                    precondition(sample.x.isFinite && sample.y.isFinite && sample.pressure.isFinite)
                    accepted = true
                }
                accepted = (try? STU.Status(report: report)) != nil || accepted
                accepted = (try? STU.Information(report: report)) != nil || accepted
                accepted = (try? STU.Capability(report: report)) != nil || accepted
            }
            return accepted
        }
        let descriptorBytes = reader.take(Int(reader.uint16()))
        guard let descriptor = try? HIDReportDescriptor(descriptorBytes),
            let digitizer = try? PenDigitizer(descriptor: descriptor)
        else { return false }
        var time = 0.0
        while !reader.isAtEnd {
            time += 0.005
            if let sample = try? digitizer.decode(reader.piece(), time: time) {
                precondition(sample.x.isFinite && sample.y.isFinite && sample.pressure.isFinite, "a decoded sample is finite")
                accepted = true
            }
        }
        return accepted
    }
}
