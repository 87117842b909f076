import Foundation
import SystemPackage

/// A USB gadget in configfs (`/sys/kernel/config/usb_gadget/NAME`) with one configuration holding one
/// function, attached to one of dummy_hcd's controllers: the scaffolding the HID and FunctionFS test
/// pads share. Plugging writes the controller's name into `UDC`; unplugging writes an empty line.
public struct ConfigfsGadget: Sendable {
    public let name: String
    public let directory: String
    /// The function's directory name, e.g. `hid.pen` or `ffs.stu`.
    public let function: String
    /// The controller it attaches to (`dummy_udc.N`).
    public let controller: String

    /// Creates the gadget with its strings and configuration and links the function in; not plugged yet.
    public init(
        name: String, vendorID: UInt16, productID: UInt16, product: String, function: String, controller index: Int,
        configureFunction: (String) throws -> Void
    ) throws {
        try Self.loadModules()
        let controllers = try FileManager.default.contentsOfDirectory(atPath: "/sys/class/udc").sorted()
        guard index < controllers.count else { throw TestVMError(message: "no USB device controller \(index) (have \(controllers))") }
        self.name = name
        self.function = function
        controller = controllers[index]
        directory = "/sys/kernel/config/usb_gadget/\(name)"
        // A gadget left by a test that crashed is taken down first.
        if FileManager.default.fileExists(atPath: directory) { Self.remove(directory: directory, function: function) }
        try Self.makeDirectory(directory)
        try write("idVendor", String(format: "0x%04x", vendorID))
        try write("idProduct", String(format: "0x%04x", productID))
        try write("bcdUSB", "0x0200")
        try Self.makeDirectory("\(directory)/strings/0x409")
        try write("strings/0x409/manufacturer", "CounterKit tests")
        try write("strings/0x409/product", product)
        try write("strings/0x409/serialnumber", "\(name)-0001")
        try Self.makeDirectory("\(directory)/functions/\(function)")
        try configureFunction("\(directory)/functions/\(function)")
        try Self.makeDirectory("\(directory)/configs/c.1/strings/0x409")
        try write("configs/c.1/strings/0x409/configuration", "pad")
        try write("configs/c.1/MaxPower", "100")
        guard symlink("\(directory)/functions/\(function)", "\(directory)/configs/c.1/\(function)") == 0 else {
            throw TestVMError(message: "linking \(function) into the configuration: \(Errno(rawValue: errno).description)")
        }
    }

    /// Writes a configfs attribute of the gadget.
    public func write(_ attribute: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(attribute)"))
    }

    /// Attaches the gadget to its controller: the host enumerates it.
    public func plug() throws { try write("UDC", controller + "\n") }

    /// Detaches it: a real unplug for the host.
    public func unplug() throws { try write("UDC", "\n") }

    /// Unplugs and removes the gadget from configfs.
    public func remove() { Self.remove(directory: directory, function: function) }

    private static func remove(directory: String, function: String) {
        try? Data("\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/UDC"))
        unlink("\(directory)/configs/c.1/\(function)")
        for path in ["configs/c.1/strings/0x409", "configs/c.1", "functions/\(function)", "strings/0x409", ""] {
            rmdir("\(directory)/\(path)")
        }
    }

    /// configfs directories are made with mkdir(2) alone (Foundation's createDirectory also inspects the result).
    static func makeDirectory(_ path: String) throws {
        var built = ""
        for part in path.split(separator: "/") {
            built += "/" + part
            guard mkdir(built, 0o755) == 0 || errno == EEXIST else {
                throw TestVMError(message: "mkdir \(built): \(Errno(rawValue: errno).description)")
            }
        }
    }

    /// dummy_hcd with two controllers (two pads at once), the gadget framework, the HID and FunctionFS functions.
    static func loadModules() throws {
        for arguments in [["dummy_hcd", "num=2"], ["libcomposite"], ["usb_f_hid"], ["usb_f_fs"]] {
            if FileManager.default.fileExists(atPath: "/sys/module/\(arguments[0])") { continue }
            let result = try runCommand(["/sbin/modprobe"] + arguments, environment: ProcessInfo.processInfo.environment)
            guard result.status == 0 else { throw TestVMError(message: "modprobe \(arguments.joined(separator: " ")) failed: \(result.output)") }
        }
    }
}
