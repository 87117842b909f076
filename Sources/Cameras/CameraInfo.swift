import Attachments

/// A video capture device as discovered: identity, formats, sizes and controls.
public struct CameraInfo: Sendable, Equatable, Codable {
    /// Stable id: `v4l2:` and the bus the camera sits on, so a replug into the same port keeps it.
    public var id: String
    /// The device node (`/dev/video0`); may change across replugs.
    public var path: String
    /// The kernel driver (`uvcvideo`, `vivid`).
    public var driver: String
    /// The product name the driver reports.
    public var card: String
    /// Bus information (`usb-0000:00:14.0-1`, `platform:vivid-000`).
    public var bus: String
    /// Pixel formats with their sizes.
    public var formats: [CameraFormat]
    /// Controls, with current values.
    public var controls: [CameraControl]

    /// The largest frame over the formats CounterKit can save, preferring MJPEG at equal size.
    public var largestSize: FrameSize? {
        formats.filter(\.savable).flatMap(\.sizes).max { $0.width * $0.height < $1.width * $1.height }
    }
}

/// One pixel format a camera offers.
public struct CameraFormat: Sendable, Equatable, Codable {
    /// The V4L2 code ("YUYV", "MJPG").
    public var pixelFormat: FourCC
    /// The driver's description.
    public var description: String
    /// Whether frames are compressed (MJPEG, H.264…).
    public var compressed: Bool
    /// Frame sizes, each with its frame rates.
    public var sizes: [FrameSize]
    /// Whether CounterKit can turn frames of this format into a photo.
    public var savable: Bool

    /// Whether its frames are JPEG images (MJPEG or JPEG), stored as they are for JPEG photos.
    public var isJPEG: Bool { pixelFormat == .mjpeg || pixelFormat == .jpeg }
}

/// A frame size and the frame rates offered at it.
public struct FrameSize: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// Frame rates, fastest last or in the driver's order.
    public var framesPerSecond: [Double]

    /// Creates a size.
    public init(width: Int, height: Int, framesPerSecond: [Double] = []) {
        self.width = width
        self.height = height
        self.framesPerSecond = framesPerSecond
    }

    /// Parses `WIDTHxHEIGHT`, each side 1…16384 (`PixelSizeText`).
    public init?(parsing text: String) {
        guard let (width, height) = PixelSizeText.parse(text, maximum: 16384) else { return nil }
        self.init(width: width, height: height)
    }

    public var description: String { "\(width)x\(height)" }
}

/// A camera control (brightness, focus, exposure…) as V4L2 describes it.
public struct CameraControl: Sendable, Equatable, Codable {
    /// The control's type.
    public enum Kind: String, Sendable, Codable {
        /// The V4L2 control types CounterKit reads and sets.
        case integer, boolean, menu, button, integer64, bitmask
        /// A menu of integer values.
        case integerMenu = "integer_menu"

        init?(v4l2Type: UInt32) {
            switch v4l2Type {
            case 1: self = .integer
            case 2: self = .boolean
            case 3: self = .menu
            case 4: self = .button
            case 5: self = .integer64
            case 8: self = .bitmask
            case 9: self = .integerMenu
            default: return nil  // control classes, strings, compound types
            }
        }
    }

    /// One entry of a menu control.
    public struct MenuItem: Sendable, Equatable, Codable {
        /// The value that selects this item.
        public var index: Int
        /// The driver's name for it.
        public var name: String
    }

    /// The V4L2 control id.
    public var id: UInt32
    /// The key used in requests: the label in lower case with `_` between words ("white_balance_temperature").
    public var name: String
    /// The driver's label ("White Balance Temperature").
    public var label: String
    /// The control's type.
    public var kind: Kind
    /// The smallest value.
    public var minimum: Int64
    /// The largest value.
    public var maximum: Int64
    /// The step between values.
    public var step: Int64
    /// The driver's default.
    public var defaultValue: Int64
    /// The current value (nil for buttons and write-only controls).
    public var value: Int64?
    /// Menu entries for menu and integer-menu controls.
    public var menu: [MenuItem]?
    /// Whether the control can only be read.
    public var readOnly: Bool
    /// Inactive controls are ignored by the driver until another control enables them.
    public var inactive: Bool
    /// Whether the control can only be written.
    public var writeOnly: Bool

    /// The request key for a driver label: lower case, runs of other characters become one `_`.
    public static func key(for label: String) -> String {
        var key = ""
        var pendingSeparator = false
        for scalar in label.lowercased().unicodeScalars {
            if (scalar >= "a" && scalar <= "z") || (scalar >= "0" && scalar <= "9") {
                if pendingSeparator, !key.isEmpty { key.append("_") }
                pendingSeparator = false
                key.unicodeScalars.append(scalar)
            } else {
                pendingSeparator = true
            }
        }
        return key
    }

    /// Parses a request value for this control: integers, booleans (`on`/`off`, `true`/`false`),
    /// menu entries by name or index; buttons take any value (or none) and are pressed.
    public func parse(_ text: String) throws(CameraError) -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if readOnly { throw CameraError(.invalidControl, "\(name) is read-only") }
        switch kind {
        case .button:
            return 1
        case .boolean:
            switch trimmed.lowercased() {
            case "1", "true", "on", "yes": return 1
            case "0", "false", "off", "no": return 0
            default: throw CameraError(.invalidControl, "\(name) is on/off, not \"\(text)\"")
            }
        case .menu, .integerMenu:
            let items = menu ?? []
            if let item = items.first(where: { $0.name.lowercased() == trimmed.lowercased() }) { return Int64(item.index) }
            if let index = Int64(trimmed), items.contains(where: { Int64($0.index) == index }) { return index }
            let names = items.map { "\($0.index) (\($0.name))" }.joined(separator: ", ")
            throw CameraError(.invalidControl, "\(name) has no entry \"\(text)\"; entries: \(names)")
        case .integer, .integer64, .bitmask:
            let parsed: Int64? = trimmed.lowercased().hasPrefix("0x") ? Int64(trimmed.dropFirst(2), radix: 16) : Int64(trimmed)
            guard let value = parsed else { throw CameraError(.invalidControl, "\(name) takes an integer, not \"\(text)\"") }
            if kind == .bitmask {
                guard value >= 0, value & ~maximum == 0 else {
                    throw CameraError(.invalidControl, "\(name) accepts the bits of 0x\(String(maximum, radix: 16)), not \(text)")
                }
                return value
            }
            guard value >= minimum, value <= maximum else {
                throw CameraError(.invalidControl, "\(name) is \(minimum)…\(maximum), not \(value)")
            }
            if step > 1, (value - minimum) % step != 0 {
                throw CameraError(.invalidControl, "\(name) moves in steps of \(step) from \(minimum); \(value) is not one")
            }
            return value
        }
    }

    /// The value in request form: the menu entry's name, on/off, or the number.
    public func describe(_ value: Int64) -> String {
        switch kind {
        case .boolean: return value != 0 ? "on" : "off"
        case .menu, .integerMenu: return menu?.first { Int64($0.index) == value }?.name ?? String(value)
        default: return String(value)
        }
    }
}
