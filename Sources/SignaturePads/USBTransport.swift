import CLibUSB
import CounterKitCore
import Foundation

/// A HID interface on a USB device, as enumeration finds it.
public struct USBHIDInterface: Sendable, Equatable, Codable {
    /// Stable id from the physical port: `usb:<bus>-<port>[.<port>…]:<interface>`, so a replug into
    /// the same port keeps it.
    public var id: String
    /// The USB vendor id.
    public var vendorID: UInt16
    /// The USB product id.
    public var productID: UInt16
    /// The bus number.
    public var bus: UInt8
    /// The device address on the bus (changes on replug).
    public var address: UInt8
    /// The HID interface number.
    public var interfaceNumber: UInt8
    /// The HID boot protocol: 0 none, 1 keyboard, 2 mouse (pads use none).
    public var bootProtocol: UInt8 = 0
    /// The interrupt IN endpoint the reports arrive on.
    public var inEndpoint: UInt8
    /// The interrupt IN endpoint's packet size.
    public var maxPacketSize: Int
    /// The manufacturer string, when the device has one.
    public var manufacturer: String?
    /// The product string, when the device has one.
    public var product: String?
    /// The serial number string, when the device has one.
    public var serialNumber: String?

    /// Describes an interface (enumeration makes these; tests and emulators may too).
    public init(
        id: String, vendorID: UInt16, productID: UInt16, bus: UInt8, address: UInt8, interfaceNumber: UInt8,
        inEndpoint: UInt8, maxPacketSize: Int, manufacturer: String?, product: String?, serialNumber: String?,
        bootProtocol: UInt8 = 0
    ) {
        self.id = id
        self.vendorID = vendorID
        self.productID = productID
        self.bus = bus
        self.address = address
        self.interfaceNumber = interfaceNumber
        self.inEndpoint = inEndpoint
        self.maxPacketSize = maxPacketSize
        self.manufacturer = manufacturer
        self.product = product
        self.serialNumber = serialNumber
        self.bootProtocol = bootProtocol
    }
}

/// libusb-1.0 access to USB HID interfaces: enumeration, and connections that claim an interface.
///
/// Each enumeration uses a fresh libusb context, so devices that arrived since the last one are
/// found even where no udev daemon tells libusb about them (containers, the test VM).
public enum USBTransport: Sendable {
    /// HID interfaces (class 3) with an interrupt IN endpoint on every USB device this process can see.
    /// Devices that cannot be opened still appear (their strings are then nil).
    public static func hidInterfaces() throws(SignaturePadError) -> [USBHIDInterface] {
        let context = try USBContext()
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = libusb_get_device_list(context.pointer, &list)
        guard count >= 0, let list else { throw USBTransport.error(Int32(count), "listing USB devices") }
        defer { libusb_free_device_list(list, 1) }
        var found: [USBHIDInterface] = []
        for index in 0..<Int(count) {
            guard let device = list[index] else { continue }
            found += interfaces(of: device)
        }
        return found.sorted { $0.id < $1.id }
    }

    static func interfaces(of device: OpaquePointer) -> [USBHIDInterface] {
        var descriptor = libusb_device_descriptor()
        guard libusb_get_device_descriptor(device, &descriptor) == 0 else { return [] }
        var configuration: UnsafeMutablePointer<libusb_config_descriptor>?
        guard libusb_get_active_config_descriptor(device, &configuration) == 0 || libusb_get_config_descriptor(device, 0, &configuration) == 0,
            let configuration
        else { return [] }
        defer { libusb_free_config_descriptor(configuration) }
        var ports = [UInt8](repeating: 0, count: 8)
        let depth = Int(libusb_get_port_numbers(device, &ports, Int32(ports.count)))
        let bus = libusb_get_bus_number(device), address = libusb_get_device_address(device)
        let portPath = depth > 0 ? ports[0..<depth].map(String.init).joined(separator: ".") : "0"
        var strings: (String?, String?, String?) = (nil, nil, nil)
        var handle: OpaquePointer?
        if libusb_open(device, &handle) == 0, let handle {
            strings = (string(handle, descriptor.iManufacturer), string(handle, descriptor.iProduct), string(handle, descriptor.iSerialNumber))
            libusb_close(handle)
        }
        var result: [USBHIDInterface] = []
        for interfaceIndex in 0..<Int(configuration.pointee.bNumInterfaces) {
            let interface = configuration.pointee.interface[interfaceIndex]
            guard interface.num_altsetting > 0 else { continue }
            let setting = interface.altsetting[0]
            guard setting.bInterfaceClass == UInt8(LIBUSB_CLASS_HID.rawValue) else { continue }
            for endpointIndex in 0..<Int(setting.bNumEndpoints) {
                let endpoint = setting.endpoint[endpointIndex]
                let isInterruptIn =
                    endpoint.bEndpointAddress & 0x80 != 0
                    && endpoint.bmAttributes & 0x03 == UInt8(LIBUSB_TRANSFER_TYPE_INTERRUPT.rawValue)
                guard isInterruptIn else { continue }
                result.append(
                    USBHIDInterface(
                        id: "usb:\(bus)-\(portPath):\(setting.bInterfaceNumber)", vendorID: descriptor.idVendor, productID: descriptor.idProduct,
                        bus: bus, address: address, interfaceNumber: setting.bInterfaceNumber, inEndpoint: endpoint.bEndpointAddress,
                        maxPacketSize: Int(endpoint.wMaxPacketSize), manufacturer: strings.0, product: strings.1, serialNumber: strings.2,
                        bootProtocol: setting.bInterfaceSubClass == 1 ? setting.bInterfaceProtocol : 0))
                break
            }
        }
        return result
    }

    private static func string(_ handle: OpaquePointer, _ index: UInt8) -> String? {
        guard index != 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = libusb_get_string_descriptor_ascii(handle, index, &buffer, Int32(buffer.count))
        guard length > 0 else { return nil }
        return String(decoding: buffer[0..<Int(length)], as: UTF8.self)
    }

    /// A libusb error code as a pad error.
    static func error(_ code: Int32, _ doing: String) -> SignaturePadError {
        let name = String(cString: libusb_error_name(code))
        let code: ErrorCode =
            switch code {
            case LIBUSB_ERROR_NO_DEVICE.rawValue: .deviceDisconnected
            case LIBUSB_ERROR_ACCESS.rawValue: .accessDenied
            case LIBUSB_ERROR_BUSY.rawValue: .deviceBusy
            case LIBUSB_ERROR_TIMEOUT.rawValue: .timeout
            case LIBUSB_ERROR_NOT_FOUND.rawValue: .deviceNotFound
            default: .ioError
            }
        return SignaturePadError(code, "\(doing): \(name)")
    }
}

/// One libusb context, closed when released.
final class USBContext: @unchecked Sendable {
    let pointer: OpaquePointer

    init() throws(SignaturePadError) {
        var context: OpaquePointer?
        let status = libusb_init(&context)
        guard status == 0, let context else { throw USBTransport.error(status, "starting libusb") }
        pointer = context
    }

    deinit { libusb_exit(pointer) }
}

/// An open, claimed HID interface: the report descriptor, feature reports over control transfers,
/// and input reports from the interrupt IN endpoint. Closing releases the interface and gives the
/// kernel driver back. Transfers may run on several threads at once (libusb's synchronous API is
/// thread-safe); `close()` must come after they have returned.
public final class HIDConnection: @unchecked Sendable {
    /// The interface this connection claimed.
    public let interface: USBHIDInterface
    private let context: USBContext
    private let handle: OpaquePointer
    private let closed = NSLock()
    private var isClosed = false
    /// Interrupt transfers kept in flight once input is read (see `InterruptReader`).
    private var reader: InterruptReader?
    /// How long a control transfer (feature report) may take. A pad answers in milliseconds; the margin is for
    /// a loaded host (a pad on a busy hub, or an emulated one), where a short limit fails a healthy session.
    static let controlTimeoutMilliseconds: UInt32 = 5000

    /// Opens the device at the interface's bus and address, detaching any kernel driver and claiming the interface.
    public init(_ interface: USBHIDInterface) throws(SignaturePadError) {
        let context = try USBContext()
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = libusb_get_device_list(context.pointer, &list)
        guard count >= 0, let list else { throw USBTransport.error(Int32(count), "listing USB devices") }
        defer { libusb_free_device_list(list, 1) }
        let device = (0..<Int(count)).compactMap { list[$0] }.first {
            libusb_get_bus_number($0) == interface.bus && libusb_get_device_address($0) == interface.address
        }
        guard let device else {
            throw SignaturePadError(.deviceNotFound, "\(interface.id) is no longer connected")
        }
        var opened: OpaquePointer?
        let status = libusb_open(device, &opened)
        guard status == 0, let opened else { throw USBTransport.error(status, "opening \(interface.id)") }
        libusb_set_auto_detach_kernel_driver(opened, 1)
        let claimed = libusb_claim_interface(opened, Int32(interface.interfaceNumber))
        guard claimed == 0 else {
            libusb_close(opened)
            throw USBTransport.error(claimed, "claiming interface \(interface.interfaceNumber) of \(interface.id)")
        }
        self.interface = interface
        self.context = context
        self.handle = opened
    }

    deinit { close() }

    /// Releases the interface (the kernel driver is attached again) and closes the device. Safe to call twice.
    public func close() {
        closed.lock()
        defer { closed.unlock() }
        guard !isClosed else { return }
        isClosed = true
        reader?.cancel()
        reader = nil
        libusb_release_interface(handle, Int32(interface.interfaceNumber))
        libusb_close(handle)
    }

    /// The HID report descriptor (GET_DESCRIPTOR, type 0x22, to the interface).
    public func reportDescriptor() throws(SignaturePadError) -> [UInt8] {
        try control(
            requestType: ck_standard_interface_in, request: Int32(LIBUSB_REQUEST_GET_DESCRIPTOR.rawValue),
            value: UInt16(ck_hid_descriptor_report) << 8, length: 4096, doing: "reading the report descriptor")
    }

    /// A feature report by GET_REPORT; the answer starts with the report id when the device uses ids.
    public func featureReport(_ id: UInt8, length: Int) throws(SignaturePadError) -> [UInt8] {
        try control(
            requestType: ck_hid_class_in, request: ck_hid_get_report, value: UInt16(ck_hid_report_type_feature) << 8 | UInt16(id),
            length: length, doing: "reading feature report 0x\(String(id, radix: 16))")
    }

    /// Sends a feature report by SET_REPORT; `report` starts with its report id.
    public func sendFeatureReport(_ report: [UInt8]) throws(SignaturePadError) {
        var bytes = report
        let id = UInt16(report.first ?? 0)
        let status = libusb_control_transfer(
            handle, UInt8(ck_hid_class_out), UInt8(ck_hid_set_report),
            UInt16(ck_hid_report_type_feature) << 8 | id, UInt16(interface.interfaceNumber),
            &bytes, UInt16(bytes.count), Self.controlTimeoutMilliseconds)
        guard status >= 0 else { throw USBTransport.error(status, "sending feature report 0x\(String(id, radix: 16))") }
    }

    /// The next input report, or nil when none arrived within `timeoutMilliseconds`. The first call starts
    /// four interrupt transfers that stay in flight until `close()`; call from one reading thread.
    public func readInputReport(timeoutMilliseconds: UInt32) throws(SignaturePadError) -> [UInt8]? {
        closed.lock()
        if isClosed {
            closed.unlock()
            throw SignaturePadError(.ioError, "\(interface.id) is closed")
        }
        if reader == nil {
            do throws(SignaturePadError) {
                reader = try InterruptReader(
                    context: context.pointer, handle: handle, endpoint: interface.inEndpoint,
                    size: max(interface.maxPacketSize, 64))
            } catch {
                closed.unlock()
                throw error
            }
        }
        let reader = self.reader!
        closed.unlock()
        switch reader.next(timeoutMilliseconds: timeoutMilliseconds) {
        case .report(let report):
            return report
        case .timedOut:
            return nil
        case .failed(let status):
            // An unplug often shows first as a failed transfer (LIBUSB_ERROR_IO) before the device is gone.
            if status != LIBUSB_ERROR_NO_DEVICE.rawValue, !isConnected() {
                throw USBTransport.error(LIBUSB_ERROR_NO_DEVICE.rawValue, "reading input reports from \(interface.id)")
            }
            throw USBTransport.error(status, "reading input reports from \(interface.id)")
        }
    }

    /// Whether the device still answers (asked a few times over 200 ms, as the kernel takes a moment
    /// to notice a disconnect after the transfers fail).
    func isConnected() -> Bool {
        for _ in 0..<10 {
            var configuration: Int32 = 0
            if libusb_get_configuration(handle, &configuration) == LIBUSB_ERROR_NO_DEVICE.rawValue { return false }
            usleep(20_000)
        }
        return true
    }

    /// An IN control transfer. Reads change nothing on the device, so one that timed out is asked once
    /// more: a pad busy with its screen (or a host under heavy load) can miss one request's deadline.
    private func control(requestType: Int32, request: Int32, value: UInt16, length: Int, doing: String) throws(SignaturePadError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: length)
        var status: Int32 = 0
        for attempt in 0..<2 {
            status = libusb_control_transfer(
                handle, UInt8(requestType), UInt8(request), value, UInt16(interface.interfaceNumber),
                &buffer, UInt16(length), Self.controlTimeoutMilliseconds)
            guard status == LIBUSB_ERROR_TIMEOUT.rawValue, attempt == 0 else { break }
        }
        guard status >= 0 else { throw USBTransport.error(status, doing) }
        return Array(buffer[0..<Int(status)])
    }
}
