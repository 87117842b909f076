// libusb-1.0 seam. Request types for HID class requests as plain constants.
#ifndef COUNTERKIT_CLIBUSB_SHIM_H
#define COUNTERKIT_CLIBUSB_SHIM_H
#include <libusb.h>
static const int ck_hid_get_report = 0x01;
static const int ck_hid_set_report = 0x09;
static const int ck_hid_descriptor_report = 0x22;
static inline const struct libusb_version *ck_libusb_version(void) { return libusb_get_version(); }
#endif
