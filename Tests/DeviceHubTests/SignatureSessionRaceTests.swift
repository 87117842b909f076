import Attachments
import CounterKitCore
import CounterKitTestSupport
import DeviceHub
import Foundation
import SignaturePads
import Synchronization
import Testing

/// Two requests for one pad at the same moment: opening a pad takes time, and both used to pass the "busy?"
/// check before either was recorded.
@Suite struct SignatureSessionRaceTests {
    static let pad = USBHIDInterface(
        id: "usb:1-1:0", vendorID: STU.vendorID, productID: 0xA5, bus: 1, address: 2, interfaceNumber: 0,
        inEndpoint: 0x81, maxPacketSize: 64, manufacturer: "Wacom Co.,Ltd.", product: "STU-530", serialNumber: nil)

    @Test(arguments: [Optional("usb:1-1:0"), nil])
    func twoConcurrentRequestsForOnePadGiveOneSessionAndOneDeviceBusy(device: String?) async throws {
        let directory = try TemporaryDirectory()
        let opens = Atomic<Int>(0)
        // The emulated pad opens slowly, as a real one does (USB control transfers), so the two requests overlap.
        let hub = LocalDeviceHub(store: try AttachmentStore(directory: directory.url)) { _ throws(SignaturePadError) in
            opens.add(1, ordering: .relaxed)
            usleep(300_000)  // blocking: the hub calls its pad opener on BlockingCalls' threads
            let emulator = STUEmulator()
            return (emulator, try STUDriver(transport: emulator, interface: Self.pad, model: emulator.model))
        }
        func attempt() async -> Result<SignatureSessionSnapshot, DeviceHubError> {
            do { return .success(try await hub.startSignature(SignatureRequest(device: device))) } catch {
                return .failure(error as? DeviceHubError ?? DeviceHubError(.internal, "\(error)"))
            }
        }
        async let first = attempt()
        async let second = attempt()
        let results = await [first, second]
        let won = results.compactMap { try? $0.get() }
        let lost = results.compactMap { result -> DeviceHubError? in if case .failure(let error) = result { error } else { nil } }
        #expect(won.count == 1 && won.first?.device == Self.pad.id && won.first?.state == .capturing)
        #expect(lost.map(\.code) == [.deviceBusy])
        // A named pad is refused before it is opened again; "any pad" opens, finds it taken and lets it go.
        #expect(opens.load(ordering: .relaxed) == (device == nil ? 2 : 1))
        let session = try #require(won.first)
        #expect(try await hub.cancelSignature(session.id).state == .cancelled)
        // Once the first session has ended, the pad can be had again.
        let next = try await hub.startSignature(SignatureRequest(device: device))
        #expect(next.state == .capturing)
        _ = try await hub.cancelSignature(next.id)
    }
}
