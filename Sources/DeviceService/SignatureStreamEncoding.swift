import Attachments
import DeviceHub
import Foundation
import SignaturePads

extension SignatureStreamEvent {
    /// The SSE name and JSON data. Points are `[t, x, y, pressure, touching]` (ms, mm, 0…1, 0/1).
    func encoded() throws -> (name: String, data: Data) {
        switch self {
        case .state(let snapshot): ("state", try JSONEncoder.api.encode(snapshot))
        case .ended(let snapshot): ("ended", try JSONEncoder.api.encode(snapshot))
        case .cleared: ("cleared", Data("{}".utf8))
        case .points(let samples):
            (
                "points",
                try JSONEncoder.api.encode([
                    "points": samples.map {
                        [$0.time, ($0.x * 1000).rounded() / 1000, ($0.y * 1000).rounded() / 1000, ($0.pressure * 1000).rounded() / 1000, $0.touching ? 1 : 0]
                    }
                ])
            )
        }
    }

    /// An event read back from its SSE name and data (what a client of the service receives); nil for a name it
    /// does not know.
    init?(name: String, data: Data) throws {
        switch name {
        case "state": self = .state(try AttachmentManifest.makeDecoder().decode(SignatureSessionSnapshot.self, from: data))
        case "ended": self = .ended(try AttachmentManifest.makeDecoder().decode(SignatureSessionSnapshot.self, from: data))
        case "cleared": self = .cleared
        case "points":
            struct Points: Decodable { var points: [[Double]] }
            self = .points(
                try JSONDecoder().decode(Points.self, from: data).points.compactMap { point in
                    guard point.count >= 5 else { return nil }
                    return PenSample(time: point[0], x: point[1], y: point[2], pressure: point[3], inRange: true, touching: point[4] != 0)
                })
        default: return nil
        }
    }
}
