/// CounterKit in one import: attachments and their encoders, SANE scanning, V4L2 cameras, USB signature pads, and
/// the device hub that discovers them all. Apps that need only one family can import its module (and link only its
/// C libraries).
@_exported import Attachments
@_exported import Cameras
@_exported import DeviceHub
@_exported import Scanning
@_exported import SignaturePads
