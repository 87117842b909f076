import Testing

@testable import Cameras

func control(
    _ name: String, _ kind: CameraControl.Kind, _ minimum: Int64 = 0, _ maximum: Int64 = 255, step: Int64 = 1,
    menu: [String]? = nil, readOnly: Bool = false
) -> CameraControl {
    CameraControl(
        id: 1, name: CameraControl.key(for: name), label: name, kind: kind, minimum: minimum, maximum: maximum, step: step,
        defaultValue: minimum, value: minimum,
        menu: menu.map { $0.enumerated().map { CameraControl.MenuItem(index: $0.offset, name: $0.element) } },
        readOnly: readOnly, inactive: false, writeOnly: false)
}

@Suite struct ControlTests {
    @Test func keysFromDriverLabels() {
        #expect(CameraControl.key(for: "Exposure Time, Absolute") == "exposure_time_absolute")
        #expect(CameraControl.key(for: "Inject V4L2_BUF_FLAG_ERROR") == "inject_v4l2_buf_flag_error")
        #expect(CameraControl.key(for: "  White Balance Temperature ") == "white_balance_temperature")
    }

    @Test func valuesAreCheckedAgainstTheDescriptor() throws {
        let brightness = control("Brightness", .integer, -64, 64)
        #expect(try brightness.parse("10") == 10)
        #expect(try brightness.parse(" -64 ") == -64)
        #expect(throws: CameraError(.invalidControl, "brightness is -64…64, not 65")) { try brightness.parse("65") }
        #expect(throws: CameraError.self) { try brightness.parse("bright") }
        let stepped = control("Focus (absolute)", .integer, 0, 250, step: 5)
        #expect(try stepped.parse("25") == 25)
        #expect(throws: CameraError.self) { try stepped.parse("26") }
        let flag = control("Backlight Compensation", .boolean, 0, 1)
        #expect(try flag.parse("on") == 1 && flag.parse("FALSE") == 0)
        #expect(throws: CameraError.self) { try flag.parse("maybe") }
        let menu = control("Power Line Frequency", .menu, 0, 2, menu: ["Disabled", "50 Hz", "60 Hz"])
        #expect(try menu.parse("50 hz") == 1 && menu.parse("2") == 2)
        #expect(throws: CameraError.self) { try menu.parse("70 Hz") }
        #expect(menu.describe(1) == "50 Hz")
        #expect(throws: CameraError.self) { try control("Gain", .integer, readOnly: true).parse("3") }
        #expect(try control("Disconnect", .button).parse("") == 1)
    }

    @Test func friendlyNamesSwitchTheAutomaticModeOffFirst() throws {
        let controls = [
            control("Auto Exposure", .menu, 0, 3, menu: ["Auto Mode", "Manual Mode", "Shutter Priority Mode", "Aperture Priority Mode"]),
            control("Exposure Time, Absolute", .integer, 3, 2047),
            control("Focus, Automatic Continuous", .boolean, 0, 1),
            control("Focus (absolute)", .integer, 0, 250, step: 5),
            control("Brightness", .integer, -64, 64),
        ]
        let plan = try ControlPlan(requests: ["exposure": "300", "focus": "50", "Brightness": "5"], controls: controls)
        let writes = plan.writes.map { "\($0.control.name)=\($0.value)" }
        #expect(writes == ["auto_exposure=1", "focus_automatic_continuous=0", "brightness=5", "exposure_time_absolute=300", "focus_absolute=50"])
        #expect(throws: CameraError.self) { try ControlPlan(requests: ["zoom": "2"], controls: controls) }
    }

    @Test func requestsAreValidatedBeforeTheDevice() {
        #expect(throws: CameraError.self) { try PhotoRequest(quality: 0).validate() }
        #expect(throws: CameraError.self) { try PhotoRequest(skipFrames: -1).validate() }
        #expect(throws: CameraError.self) { try PhotoRequest(timeoutSeconds: 0).validate() }
        #expect(FrameSize(parsing: "1920x1080") == FrameSize(width: 1920, height: 1080))
        #expect(FrameSize(parsing: "1920") == nil && FrameSize(parsing: "0x10") == nil)
        #expect(FrameSize(parsing: "0640X0480") == FrameSize(width: 640, height: 480))
        for bad in ["+5x5", " 5x5", "5x", "x5", "16385x1", "5x5x5", "99999999999999999999x1"] { #expect(FrameSize(parsing: bad) == nil, "\(bad)") }
        #expect(PhotoRequest().warmUp == (2, 500))
        #expect(PhotoRequest(skipFrames: 0).warmUp == (0, 0))
    }
}
