import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Events as `text/event-stream`: `event:` is the event name, `data:` its JSON, `id:` a sequence number.
enum ServerSentEvents {
    /// Job events: the data is the job, or for `rows` the band.
    static func response(_ events: AsyncThrowingStream<JobEvent, any Error>) -> Response {
        stream(events) { event, id in
            if let rows = event.rows { return self.event(rows, id: id) }
            return format(name: event.name.rawValue, data: try JSONEncoder.api.encode(event.job), id: id)
        }
    }

    /// Any event stream, each event named and encoded by `encode`.
    static func response<Events: AsyncSequence & Sendable>(
        _ events: Events,
        encode: @escaping @Sendable (Events.Element) throws -> (name: String, data: Data)
    ) -> Response
    where Events.Element: Sendable {
        stream(events) { event, id in
            let (name, data) = try encode(event)
            return format(name: name, data: data, id: id)
        }
    }

    /// The response: each event as `format` gives it, numbered from 1.
    private static func stream<Events: AsyncSequence & Sendable>(
        _ events: Events,
        format: @escaping @Sendable (Events.Element, Int) throws -> ByteBuffer
    ) -> Response
    where Events.Element: Sendable {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                var sequence = 0
                for try await event in events {
                    sequence += 1
                    try await writer.write(format(event, sequence))
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

    /// A `rows` event, its JSON as `JSONEncoder.api` writes it (sorted keys) but built directly into the event: the
    /// band's base64 needs no escaping, and this runs for every band while the scan is still going.
    static func event(_ rows: LiveRowsEvent, id: Int) -> ByteBuffer {
        let image = rows.image.base64EncodedData()
        var buffer = ByteBuffer()
        buffer.reserveCapacity(image.count + 128)
        buffer.writeString("id: \(id)\nevent: rows\ndata: ")
        buffer.writeString(#"{"image":""#)
        buffer.writeBytes(image)
        buffer.writeString(#"","lines":\#(rows.lines),"page":\#(rows.page),"width":\#(rows.width),"y":\#(rows.y)}"#)
        buffer.writeString("\n\n")
        return buffer
    }
}
