import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Events as `text/event-stream`: `event:` is the event name, `data:` its JSON, `id:` a sequence number.
enum ServerSentEvents {
    /// Job events: the data is the job, or for `rows` the band.
    static func response(_ events: JobEvents) -> Response {
        response(events) { event in
            if let rows = event.rows { return (event.name.rawValue, json(rows)) }
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
                    try await writer.write(format(name: name, data: data, id: sequence))
                }
                try await writer.finish(nil)
            })
    }

    /// One event; `data` is compact JSON, so it has no line breaks.
    static func format(name: String, data: Data, id: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(data.count + name.utf8.count + 32)
        buffer.writeString("id: \(id)\nevent: \(name)\ndata: ")
        buffer.writeBytes(data)
        buffer.writeString("\n\n")
        return buffer
    }

    /// A live band's JSON, as `JSONEncoder.api` writes it (sorted keys), built directly: the band's base64 needs no
    /// escaping, and this runs for every band while the scan is still going.
    static func json(_ rows: LiveRowsEvent) -> Data {
        var json = Data()
        json.reserveCapacity(rows.image.count * 4 / 3 + 80)
        json.append(contentsOf: #"{"image":""#.utf8)
        json.append(rows.image.base64EncodedData())
        json.append(contentsOf: #"","lines":\#(rows.lines),"page":\#(rows.page),"width":\#(rows.width),"y":\#(rows.y)}"#.utf8)
        return json
    }
}
