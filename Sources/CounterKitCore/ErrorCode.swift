/// Every stable error code CounterKit reports, in one vocabulary: the same string in a Swift error's `code`, the
/// socket API's `{"error": {"code": …}}`, a failed job's `error.code` and the CLI's `error: CODE: message`.
///
/// Each device family's error (`ScanError`, `CameraError`, `SignaturePadError`, `AttachmentError`) carries one of
/// these; the service maps each to exactly one HTTP status (`DeviceService`'s `ErrorCode.httpStatus`). Codes are
/// stable: new ones may be added, none is renamed.
public enum ErrorCode: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    // MARK: Requests
    /// The request body is not JSON (or not a JSON object).
    case invalidJSON = "invalid_json"
    /// The request names a field that does not exist.
    case unknownField = "unknown_field"
    /// A field has the wrong JSON type.
    case invalidType = "invalid_type"
    /// A value is out of range or not one of the accepted values.
    case invalidValue = "invalid_value"
    /// The request is malformed in a way no other code names.
    case badRequest = "bad_request"
    /// The request body is over the service's limit.
    case bodyTooLarge = "body_too_large"
    /// A request body that is not `application/json`.
    case unsupportedMediaType = "unsupported_media_type"
    /// The path exists, not with this method.
    case methodNotAllowed = "method_not_allowed"
    /// The caller may not use the service.
    case forbidden
    /// A loopback bridge request whose `Host` does not name the listener (a DNS-rebinding attempt).
    case forbiddenHost = "forbidden_host"
    /// A loopback bridge request from a web origin that is not allowed.
    case forbiddenOrigin = "forbidden_origin"
    /// A loopback bridge request without a valid `Authorization: Bearer` token for its origin.
    case unauthorized
    /// The byte range asked for lies outside the attachment.
    case rangeNotSatisfiable = "range_not_satisfiable"

    // MARK: Things that are not there, or not any more
    /// No attachment (or other resource) has that id.
    case notFound = "not_found"
    /// The id is not a well-formed attachment id.
    case invalidId = "invalid_id"
    /// No job has that id (jobs live in memory; a restart forgets them).
    case jobNotFound = "job_not_found"
    /// No signature session has that id.
    case sessionNotFound = "session_not_found"
    /// No device has that id.
    case deviceNotFound = "device_not_found"

    // MARK: State
    /// Another job or session holds the device.
    case deviceBusy = "device_busy"
    /// The device went away during the operation.
    case deviceDisconnected = "device_disconnected"
    /// The job has already ended.
    case jobFinished = "job_finished"
    /// The signature session has already ended.
    case sessionFinished = "session_finished"
    /// The signature session is being finished by another request.
    case sessionFinishing = "session_finishing"
    /// The operation was cancelled.
    case cancelled
    /// A signature has no ink to store.
    case noInk = "no_ink"
    /// The service stopped (a restart, a crash, a power cut) while the job or session was in flight.
    case interrupted

    // MARK: Limits
    /// The device's job queue is full.
    case queueFull = "queue_full"
    /// The job or session has as many event subscribers as allowed.
    case tooManySubscribers = "too_many_subscribers"
    /// The service serves as many connections as allowed.
    case tooManyConnections = "too_many_connections"
    /// No service answers on the socket.
    case serviceUnavailable = "service_unavailable"
    /// The attachment store would exceed its configured size.
    case storeFull = "store_full"
    /// The disk holding the spool is full: nothing was kept; free space, then retry.
    case diskFull = "disk_full"

    // MARK: Devices
    /// The device cannot be opened for lack of permission.
    case accessDenied = "access_denied"
    /// The device did not answer in time.
    case timeout
    /// The paper jammed.
    case jammed
    /// The scanner's cover is open.
    case coverOpen = "cover_open"
    /// The feeder was empty for the first page.
    case noDocs = "no_docs"
    /// The device or the disk reported an I/O error.
    case ioError = "io_error"
    /// The backend ran out of memory.
    case noMemory = "no_memory"
    /// The worker process running the scanner backend died.
    case backendCrashed = "backend_crashed"
    /// The scanner has no such option, or not that value.
    case unsupportedOption = "unsupported_option"
    /// A camera control does not exist or does not take that value.
    case invalidControl = "invalid_control"
    /// The camera offers no usable pixel format for the request.
    case unsupportedFormat = "unsupported_format"
    /// A camera frame arrived damaged.
    case corruptFrame = "corrupt_frame"
    /// A pad's HID report descriptor cannot be parsed.
    case invalidDescriptor = "invalid_descriptor"
    /// A pad sent a report that does not fit its descriptor.
    case invalidReport = "invalid_report"
    /// The USB device is not a pad any driver takes.
    case unsupportedDevice = "unsupported_device"
    /// No page was found in an image where one was expected (document imaging).
    case noDocument = "no_document"
    /// No file of the pages fits the size limit asked for, at the lowest quality and resolution allowed.
    case sizeTargetUnreachable = "size_target_unreachable"

    // MARK: Attachments
    /// The image geometry or rows do not match what the encoder was given.
    case invalidImage = "invalid_image"
    /// The encoding library reported an error.
    case encoderFailed = "encoder_failed"
    /// Writing a capture's attachment failed.
    case attachmentFailed = "attachment_failed"
    /// An attachment's data, manifest or signature is not as it was committed and signed.
    case sealInvalid = "seal_invalid"
    /// The audit log's chain is broken: an entry is missing, altered or out of order.
    case auditBroken = "audit_broken"
    /// Only an attachment's envelope is left: its plaintext retention ended (`GET …/sealed` serves the envelope).
    case sealedOnly = "sealed_only"
    /// A document to sign is not a sound, open PDF (malformed, damaged, encrypted, or without pages).
    case invalidDocument = "invalid_document"
    /// The time-stamping authority (`[seal] tsa`) did not give a timestamp: unreachable, silent, or refusing.
    case timestampUnavailable = "timestamp_unavailable"
    /// A fault inside CounterKit.
    case `internal`

    /// The code as it is printed and sent.
    public var description: String { rawValue }
}
