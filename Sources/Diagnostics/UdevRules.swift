/// The udev rules CounterKit needs, as `counterkit setup udev-rules` prints them and `udev/70-counterkit.rules` holds them.
public enum UdevRules: Sendable {
    /// The file name to install them under, in /etc/udev/rules.d.
    public static let fileName = "70-counterkit.rules"

    /// The rules file's text.
    public static let text = #"""
        # CounterKit: give the service's group (counterkit) access to the devices it drives.
        # Numbered 70 so that it runs after libsane's 60-libsane.rules, which sets libsane_matched.
        # Install: sudo groupadd -f --system counterkit && sudo cp udev/70-counterkit.rules /etc/udev/rules.d/ \
        #          && sudo udevadm control --reload && sudo udevadm trigger

        ACTION=="remove", GOTO="counterkit_end"

        # Scanners: USB scanners that libsane drives (its rules tag them libsane_matched).
        SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ENV{libsane_matched}=="yes", MODE="0660", GROUP="counterkit"

        # Signature pads (USB HID), the USB device for libusb and its hidraw node:
        # Wacom STU (056a, products 00a1-00a9), Topaz (06a8), signotec (2133), StepOver (22c9, 2689), Scriptel (18fb).
        SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="056a", ATTR{idProduct}=="00a[1-9]", MODE="0660", GROUP="counterkit"
        SUBSYSTEM=="hidraw", ATTRS{idVendor}=="056a", ATTRS{idProduct}=="00a[1-9]", MODE="0660", GROUP="counterkit"
        SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="06a8|2133|22c9|2689|18fb", MODE="0660", GROUP="counterkit"
        SUBSYSTEM=="hidraw", ATTRS{idVendor}=="06a8|2133|22c9|2689|18fb", MODE="0660", GROUP="counterkit"

        # Cameras and document cameras (V4L2 capture nodes).
        SUBSYSTEM=="video4linux", MODE="0660", GROUP="counterkit"

        LABEL="counterkit_end"
        """#

    /// The commands that install the rules (for hints).
    public static let installCommand =
        "sudo groupadd -f --system counterkit && counterkit setup udev-rules | sudo tee /etc/udev/rules.d/70-counterkit.rules >/dev/null && sudo udevadm control --reload && sudo udevadm trigger"
}
