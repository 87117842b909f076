import Foundation

/// A USB HID device made by the kernel's gadget framework in the test VM (configfs, `usb_f_hid`,
/// attached to `dummy_hcd`'s virtual controller): libusb sees it as a real USB device. Input reports
/// written with `send` arrive on its interrupt IN endpoint; `unplug` and `plug` detach and attach it.
/// (`usb_f_hid` answers GET_REPORT with zeros: pads that need feature reports use `FunctionFSPad`.)
public final class HIDGadget: @unchecked Sendable {
    public let gadget: ConfigfsGadget
    /// The gadget's character device, e.g. `/dev/hidg0`.
    public let devicePath: String
    private var hidDevice: FileHandle?

    /// Creates and plugs in a HID gadget; `controller` is an index into the dummy_hcd controllers.
    public init(
        name: String, vendorID: UInt16, productID: UInt16, product: String, reportDescriptor: [UInt8],
        reportLength: Int = 64, controller index: Int = 0
    ) throws {
        let before = Set(Self.hidNodes())
        gadget = try ConfigfsGadget(
            name: name, vendorID: vendorID, productID: productID, product: product,
            function: "hid.\(name)", controller: index
        ) { function in
            for (attribute, value) in [("protocol", "0"), ("subclass", "0"), ("report_length", String(reportLength))] {
                try Data(value.utf8).write(to: URL(fileURLWithPath: "\(function)/\(attribute)"))
            }
            try Data(reportDescriptor).write(to: URL(fileURLWithPath: "\(function)/report_desc"))
        }
        try gadget.plug()
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

    /// Attaches the gadget: the host enumerates it.
    public func plug() throws { try gadget.plug() }

    /// Detaches it: a real unplug for the host.
    public func unplug() throws {
        try? hidDevice?.close()
        hidDevice = nil
        try gadget.unplug()
    }

    /// Sends one input report (report-id byte first when the descriptor uses ids). Blocks until the host
    /// has taken the previous one.
    public func send(_ report: [UInt8]) throws {
        if hidDevice == nil { hidDevice = try FileHandle(forUpdating: URL(fileURLWithPath: devicePath)) }
        try hidDevice!.write(contentsOf: Data(report))
    }

    /// Unplugs and removes the gadget from configfs.
    public func remove() {
        try? hidDevice?.close()
        hidDevice = nil
        gadget.remove()
    }

    private static func hidNodes() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? []).filter { $0.hasPrefix("hidg") }.map { "/dev/\($0)" }
    }
}
