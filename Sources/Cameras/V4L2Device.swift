import CV4L2
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// One open V4L2 device node. Not thread-safe: one capture or query at a time.
/// The node is closed (and any streaming stopped) when the value goes away.
final class V4L2Device {
    let path: String
    private(set) var fd: Int32

    /// Opens `path` for capture without blocking on reads.
    init(path: String) throws(CameraError) {
        self.path = path
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw V4L2Device.error(errno, "cannot open \(path)", path: path) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFCHR else {
            Glibc.close(fd)
            fd = -1
            throw CameraError(.deviceNotFound, "\(path) is not a video device")
        }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Closes the node now.
    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Runs an ioctl, retrying on EINTR; returns 0 or the errno.
    @discardableResult
    func ioctl<T>(_ request: UInt, _ argument: inout T) -> Int32 {
        while true {
            let result = withUnsafeMutableBytes(of: &argument) { ck_ioctl(fd, request, $0.baseAddress) }
            if result == 0 { return 0 }
            if errno != EINTR { return errno }
        }
    }

    /// Runs an ioctl and throws a camera error naming `what` when it fails.
    func check<T>(_ request: UInt, _ argument: inout T, _ what: String) throws(CameraError) {
        let code = ioctl(request, &argument)
        if code != 0 { throw V4L2Device.error(code, what, path: path) }
    }

    /// Maps an errno to the stable error codes.
    static func error(_ code: Int32, _ what: String, path: String) -> CameraError {
        let reason = Errno(rawValue: code).description
        switch code {
        case ENOENT: return CameraError(.deviceNotFound, "\(what): \(path) does not exist")
        case EACCES, EPERM: return CameraError(.accessDenied, "\(what): no permission for \(path) (is the user in the video group?)")
        case EBUSY: return CameraError(.deviceBusy, "\(what): \(path) is in use by another program")
        case ENODEV, ENXIO: return CameraError(.deviceDisconnected, "\(what): \(path) was disconnected")
        default: return CameraError(.ioError, "\(what): \(reason)")
        }
    }

    // MARK: Queries

    struct Capability {
        var driver: String
        var card: String
        var bus: String
        var deviceCaps: UInt32
        var isCapture: Bool { deviceCaps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 && deviceCaps & UInt32(V4L2_CAP_STREAMING) != 0 }
    }

    func capability() throws(CameraError) -> Capability {
        var cap = v4l2_capability()
        try check(ck_vidioc_querycap, &cap, "VIDIOC_QUERYCAP")
        let caps = cap.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
        return Capability(driver: cString(cap.driver), card: cString(cap.card), bus: cString(cap.bus_info), deviceCaps: caps)
    }

    /// Formats with their sizes; frame rates too unless `frameRates` is false (hundreds of ioctls on some drivers).
    func formats(frameRates: Bool = true) -> [CameraFormat] {
        var result: [CameraFormat] = []
        for index in 0..<256 {
            var description = v4l2_fmtdesc()
            description.index = UInt32(index)
            description.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            guard ioctl(ck_vidioc_enum_fmt, &description) == 0 else { break }
            let code = FourCC(rawValue: description.pixelformat)
            let compressed = description.flags & UInt32(V4L2_FMT_FLAG_COMPRESSED) != 0
            result.append(
                CameraFormat(
                    pixelFormat: code, description: cString(description.description), compressed: compressed,
                    sizes: frameSizes(code, frameRates: frameRates), savable: code == .mjpeg || code == .jpeg || PixelLayout.of(code) != nil))
        }
        return result
    }

    func frameSizes(_ code: FourCC, frameRates withRates: Bool = true) -> [FrameSize] {
        var sizes: [FrameSize] = []
        for index in 0..<512 {
            var size = v4l2_frmsizeenum()
            size.index = UInt32(index)
            size.pixel_format = code.rawValue
            guard ioctl(ck_vidioc_enum_framesizes, &size) == 0 else { break }
            if size.type == V4L2_FRMSIZE_TYPE_DISCRETE.rawValue {
                let width = Int(size.discrete.width), height = Int(size.discrete.height)
                sizes.append(FrameSize(width: width, height: height, framesPerSecond: withRates ? frameRates(code, width, height) : []))
            } else {
                // Stepwise or continuous: the driver gives a range; report its two ends.
                let s = size.stepwise
                for (width, height) in [(Int(s.min_width), Int(s.min_height)), (Int(s.max_width), Int(s.max_height))] {
                    sizes.append(FrameSize(width: width, height: height, framesPerSecond: withRates ? frameRates(code, width, height) : []))
                }
                break
            }
        }
        return sizes
    }

    func frameRates(_ code: FourCC, _ width: Int, _ height: Int) -> [Double] {
        var rates: [Double] = []
        for index in 0..<64 {
            var interval = v4l2_frmivalenum()
            interval.index = UInt32(index)
            interval.pixel_format = code.rawValue
            interval.width = UInt32(width)
            interval.height = UInt32(height)
            guard ioctl(ck_vidioc_enum_frameintervals, &interval) == 0 else { break }
            if interval.type == V4L2_FRMIVAL_TYPE_DISCRETE.rawValue {
                let fraction = interval.discrete
                if fraction.numerator > 0 { rates.append(Double(fraction.denominator) / Double(fraction.numerator)) }
            } else {
                let fastest = interval.stepwise.min
                if fastest.numerator > 0 { rates.append(Double(fastest.denominator) / Double(fastest.numerator)) }
                break
            }
        }
        return rates
    }

    func controls() -> [CameraControl] {
        var result: [CameraControl] = []
        let next = UInt32(V4L2_CTRL_FLAG_NEXT_CTRL) | UInt32(V4L2_CTRL_FLAG_NEXT_COMPOUND)
        var query = v4l2_query_ext_ctrl()
        query.id = next
        while ioctl(ck_vidioc_query_ext_ctrl, &query) == 0 {
            defer { query.id |= next }
            if let control = control(from: query) { result.append(control) }
        }
        return result
    }

    private func control(from query: v4l2_query_ext_ctrl) -> CameraControl? {
        guard query.flags & UInt32(V4L2_CTRL_FLAG_DISABLED) == 0,
            let type = CameraControl.Kind(v4l2Type: query.type)
        else { return nil }
        let label = cString(query.name)
        var menu: [CameraControl.MenuItem]?
        if type == .menu || type == .integerMenu, query.minimum >= 0, query.maximum < 1024 {
            menu = []
            for index in query.minimum...query.maximum {
                var name = [CChar](repeating: 0, count: 33)
                var value: Int64 = 0
                guard ck_query_menu(fd, query.id, UInt32(index), &name, &value) == 0 else { continue }
                let text = type == .menu ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : String(value)
                menu?.append(CameraControl.MenuItem(index: Int(index), name: text))
            }
        }
        let writeOnly = query.flags & UInt32(V4L2_CTRL_FLAG_WRITE_ONLY) != 0
        var value: Int64?
        if !writeOnly, type != .button {
            var current: Int64 = 0
            if ck_get_control(fd, query.id, type == .integer64 ? 1 : 0, &current) == 0 { value = current }
        }
        return CameraControl(
            id: query.id, name: CameraControl.key(for: label), label: label, kind: type,
            minimum: query.minimum, maximum: query.maximum, step: Int64(truncatingIfNeeded: query.step),
            defaultValue: query.default_value, value: value, menu: menu,
            readOnly: query.flags & UInt32(V4L2_CTRL_FLAG_READ_ONLY) != 0,
            inactive: query.flags & UInt32(V4L2_CTRL_FLAG_INACTIVE) != 0, writeOnly: writeOnly)
    }

    /// Reads a control's current value.
    func controlValue(_ control: CameraControl) throws(CameraError) -> Int64 {
        var value: Int64 = 0
        guard ck_get_control(fd, control.id, control.kind == .integer64 ? 1 : 0, &value) == 0 else {
            throw V4L2Device.error(errno, "reading control \(control.name)", path: path)
        }
        return value
    }

    /// Sets a control; EINVAL and ERANGE become `invalid_control`.
    func setControl(_ control: CameraControl, to value: Int64) throws(CameraError) {
        guard ck_set_control(fd, control.id, control.kind == .integer64 ? 1 : 0, value) == 0 else {
            let code = errno
            if code == EINVAL || code == ERANGE || code == EACCES {
                throw CameraError(.invalidControl, "\(control.name) does not accept \(value): \(Errno(rawValue: code))")
            }
            throw V4L2Device.error(code, "setting control \(control.name)", path: path)
        }
    }
}

/// A fixed-size C character array (a tuple) as a Swift string.
func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        let bytes = raw.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
}
