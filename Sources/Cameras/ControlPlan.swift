/// Turns requested `name=value` controls into the V4L2 writes that achieve them.
///
/// Names are control keys (`brightness`, `focus_absolute`) or the friendly names
/// `focus`, `exposure` and `white_balance`, which map to the absolute control the camera has.
/// Setting one of those also switches its automatic mode off first, since UVC cameras
/// ignore (or refuse) manual values while the automatic mode is on.
struct ControlPlan {
    /// Writes in order: automatic modes off, then the requested values.
    private(set) var writes: [(control: CameraControl, value: Int64)] = []

    private static let aliases: [String: [String]] = [
        "focus": ["focus_absolute"],
        "exposure": ["exposure_time_absolute", "exposure_absolute"],
        "white_balance": ["white_balance_temperature"],
    ]

    /// Automatic modes to turn off (control key, value meaning "manual") before a manual control is set.
    private static let automaticModes: [String: [(String, String)]] = [
        "focus_absolute": [("focus_automatic_continuous", "0"), ("focus_auto", "0")],
        "exposure_time_absolute": [("auto_exposure", "Manual Mode"), ("exposure_auto", "Manual Mode")],
        "exposure_absolute": [("auto_exposure", "Manual Mode"), ("exposure_auto", "Manual Mode")],
        "white_balance_temperature": [("white_balance_automatic", "0"), ("white_balance_temperature_auto", "0")],
    ]

    /// Resolves every request against the camera's controls; throws `invalid_control` naming what is wrong.
    init(requests: [String: String], controls: [CameraControl]) throws(CameraError) {
        let byKey = Dictionary(controls.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var manual: [(CameraControl, Int64)] = []
        var automaticOff: [(CameraControl, Int64)] = []
        for (name, text) in requests.sorted(by: { $0.key < $1.key }) {
            let key = CameraControl.key(for: name)
            let candidates = [key] + (Self.aliases[key] ?? [])
            guard let control = candidates.lazy.compactMap({ byKey[$0] }).first else {
                let available = controls.filter { !$0.readOnly }.map(\.name).sorted().joined(separator: ", ")
                throw CameraError(.invalidControl, "this camera has no control \"\(name)\"; controls: \(available)")
            }
            let value = try control.parse(text)
            for (modeKey, manualValue) in Self.automaticModes[control.name] ?? [] {
                guard let mode = byKey[modeKey], requests[modeKey] == nil, !mode.readOnly else { continue }
                automaticOff.append((mode, try mode.parse(manualValue)))
                break
            }
            manual.append((control, value))
        }
        writes = automaticOff + manual
    }
}
