// The device list types the API answers with (`DeviceSummary`, `DeviceList`…) belong to DeviceHub; a client of the
// service sees them with `import DeviceService` alone.
@_exported import DeviceHub
