import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Events as `text/event-stream`: `event:` is the event name, `data:` its JSON, `id:` a sequence number.
enum ServerSentEvents {
    /// Job events: the data is the job, or for `rows` the band.
    static func response(_ events: JobEvents) -> Response {
        response(events) { event in
            if let rows = event.rows { return (event.name.rawValue, try JSONEncoder.api.encode(rows)) }
            return (event.name.rawValue, try JSONEncoder.api.encode(event.job))
        }
    }

    /// Any event stream, each event named and encoded by `encode`.
    static func response<Events: AsyncSequence & Sendable>(_ events: Events,
                                                           encode: @escaping @Sendable (Events.Element) throws -> (name: String, data: Data)) -> Response
        where Events.Failure == Never, Events.Element: Sendable {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                var sequence = 0
                for await event in events {
                    sequence += 1
                    let (name, data) = try encode(event)
                    try await writer.write(ByteBuffer(string: format(name: name, data: data, id: sequence)))
                }
                try await writer.finish(nil)
            })
    }

    static func format(name: String, data: Data, id: Int) -> String {
        "id: \(id)\nevent: \(name)\ndata: \(String(decoding: data, as: UTF8.self))\n\n"
    }
}
