import Foundation

/// A USB HID device made by the kernel's gadget framework in the test VM (configfs, `usb_f_hid`,
/// attached to `dummy_hcd`'s virtual controller): libusb sees it as a real USB device. Input reports
/// written with `send` arrive on its interrupt IN endpoint; `unplug` and `plug` detach and attach it.
/// (`usb_f_hid` answers GET_REPORT with zeros: pads that need feature reports need FunctionFS.)
public final class HIDGadget: @unchecked Sendable {
    public let name: String
    public let directory: String
    /// The controller it attaches to (`dummy_udc.N`).
    public let controller: String
    /// The gadget's character device, e.g. `/dev/hidg0`.
    public let devicePath: String
    private var hidDevice: FileHandle?

    /// Creates and plugs in a HID gadget; `controller` is an index into the dummy_hcd controllers.
    public init(name: String, vendorID: UInt16, productID: UInt16, product: String, reportDescriptor: [UInt8],
                reportLength: Int = 64, controller index: Int = 0) throws {
        try Self.loadModules()
        let controllers = try FileManager.default.contentsOfDirectory(atPath: "/sys/class/udc").sorted()
        guard index < controllers.count else { throw TestVMError(message: "no USB device controller \(index) (have \(controllers))") }
        self.name = name
        controller = controllers[index]
        let directory = "/sys/kernel/config/usb_gadget/\(name)"
        self.directory = directory
        let before = Set(Self.hidNodes())
        // configfs directories are made with mkdir(2) alone (Foundation's createDirectory also inspects the result).
        func makeDirectory(_ path: String) throws {
            var built = ""
            for part in path.split(separator: "/") {
                built += "/" + part
                guard mkdir(built, 0o755) == 0 || errno == EEXIST else {
                    throw TestVMError(message: "mkdir \(built): \(String(cString: strerror(errno)))")
                }
            }
        }
        try makeDirectory(directory)
        func write(_ path: String, _ text: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(path)")) }
        try write("idVendor", String(format: "0x%04x", vendorID))
        try write("idProduct", String(format: "0x%04x", productID))
        try write("bcdUSB", "0x0200")
        try makeDirectory("\(directory)/strings/0x409")
        try write("strings/0x409/manufacturer", "CounterKit tests")
        try write("strings/0x409/product", product)
        try write("strings/0x409/serialnumber", "\(name)-0001")
        let function = "functions/hid.\(name)"
        try makeDirectory("\(directory)/\(function)")
        try write("\(function)/protocol", "0")
        try write("\(function)/subclass", "0")
        try write("\(function)/report_length", String(reportLength))
        try Data(reportDescriptor).write(to: URL(fileURLWithPath: "\(directory)/\(function)/report_desc"))
        try makeDirectory("\(directory)/configs/c.1/strings/0x409")
        try write("configs/c.1/strings/0x409/configuration", "pen")
        try write("configs/c.1/MaxPower", "100")
        guard symlink("\(directory)/\(function)", "\(directory)/configs/c.1/hid.\(name)") == 0 else {
            throw TestVMError(message: "linking the HID function into the configuration: \(String(cString: strerror(errno)))")
        }
        try Data((controller + "\n").utf8).write(to: URL(fileURLWithPath: "\(directory)/UDC"))
        // The function's /dev/hidgN appears once it is bound to the controller.
        var created: String?
        for _ in 0..<50 {
            created = Set(Self.hidNodes()).subtracting(before).first
            if created != nil { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard let created else { throw TestVMError(message: "no /dev/hidg* appeared for gadget \(name)") }
        devicePath = created
    }

    deinit { remove() }

    /// Attaches the gadget to its controller: the host enumerates it.
    public func plug() throws {
        try Data((controller + "\n").utf8).write(to: URL(fileURLWithPath: "\(directory)/UDC"))
    }

    /// Detaches it: a real unplug for the host.
    public func unplug() throws {
        try? hidDevice?.close()
        hidDevice = nil
        try Data("\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/UDC"))
    }

    /// Sends one input report (report-id byte first when the descriptor uses ids). Blocks until the host
    /// has taken the previous one.
    public func send(_ report: [UInt8]) throws {
        if hidDevice == nil { hidDevice = try FileHandle(forUpdating: URL(fileURLWithPath: devicePath)) }
        try hidDevice!.write(contentsOf: Data(report))
    }

    /// Unplugs and removes the gadget from configfs.
    public func remove() {
        try? unplug()
        unlink("\(directory)/configs/c.1/hid.\(name)")
        for path in ["configs/c.1/strings/0x409", "configs/c.1", "functions/hid.\(name)", "strings/0x409", ""] {
            rmdir("\(directory)/\(path)")
        }
    }

    /// dummy_hcd with two controllers (two pads at once), the gadget framework and the HID function.
    static func loadModules() throws {
        if FileManager.default.fileExists(atPath: "/sys/kernel/config/usb_gadget"),
           (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/udc"))?.isEmpty == false { return }
        for arguments in [["dummy_hcd", "num=2"], ["libcomposite"], ["usb_f_hid"]] {
            let result = try runCommand(["/sbin/modprobe"] + arguments, environment: ProcessInfo.processInfo.environment)
            guard result.status == 0 else { throw TestVMError(message: "modprobe \(arguments.joined(separator: " ")) failed: \(result.output)") }
        }
    }

    private static func hidNodes() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? []).filter { $0.hasPrefix("hidg") }.map { "/dev/\($0)" }
    }
}
