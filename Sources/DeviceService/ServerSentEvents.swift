import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Job events as `text/event-stream`: `event:` is the event name, `data:` the job as JSON, `id:` a sequence number.
enum ServerSentEvents {
    static func response(_ events: AsyncStream<JobEvent>) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                var sequence = 0
                for await event in events {
                    sequence += 1
                    try await writer.write(ByteBuffer(string: try format(event, id: sequence)))
                }
                try await writer.finish(nil)
            })
    }

    static func format(_ event: JobEvent, id: Int) throws -> String {
        let data = String(decoding: try JSONEncoder.api.encode(event.job), as: UTF8.self)
        return "id: \(id)\nevent: \(event.name.rawValue)\ndata: \(data)\n\n"
    }
}
