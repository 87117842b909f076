// libusb-1.0 seam. Request types for HID class requests as plain constants.
#ifndef COUNTERKIT_CLIBUSB_SHIM_H
#define COUNTERKIT_CLIBUSB_SHIM_H
#include <libusb.h>
static const int ck_hid_get_report = 0x01;
static const int ck_hid_set_report = 0x09;
static const int ck_hid_descriptor_report = 0x22;
/// bmRequestType: device-to-host, class, interface (GET_REPORT) and host-to-device (SET_REPORT).
static const int ck_hid_class_in = 0xA1;
static const int ck_hid_class_out = 0x21;
/// bmRequestType: device-to-host, standard, interface (GET_DESCRIPTOR of the report descriptor).
static const int ck_standard_interface_in = 0x81;
static const int ck_hid_report_type_input = 1;
static const int ck_hid_report_type_output = 2;
static const int ck_hid_report_type_feature = 3;
static inline const struct libusb_version *ck_libusb_version(void) { return libusb_get_version(); }
#endif
