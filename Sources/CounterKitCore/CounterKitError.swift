/// Every CounterKit failure: a stable code from the one vocabulary, ``ErrorCode`` (the same string the socket API and
/// the CLI print), a message for people, and the family that raised it. Each module names this type after its family
/// (`ScanError`, `CameraError`, `SignaturePadError`, `AttachmentError`, `DocumentImagingError`, `DeviceHubError`,
/// `JobError` and `APIError` are this type), so an error passes from a scanner through the hub to the socket API
/// unchanged; a caller that must tell the families apart asks ``family``.
///
/// ```swift
/// do { _ = try await hub.scan(request) { _ in } } catch let error as CounterKitError where error.code == .jammed {
///     print("clear the jam (\(error.family)): \(error.message)")
/// }
/// ```
public struct CounterKitError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable code.
    public var code: ErrorCode
    /// A message for people.
    public var message: String
    /// The family that raised it.
    public var family: ErrorFamily

    /// An error of `family`.
    public init(_ code: ErrorCode, _ message: String, family: ErrorFamily) {
        self.code = code
        self.message = message
        self.family = family
    }

    /// An error of the family of the module that creates it (from `fileID`'s module, as swift-log names a message's
    /// source): `ScanError(.jammed, "…")` written in Scanning is a ``ErrorFamily/scanning`` error.
    public init(_ code: ErrorCode, _ message: String, fileID: StaticString = #fileID) {
        self.init(code, message, family: ErrorFamily(fileID: fileID))
    }

    /// Two errors are equal when they say the same: code and message (the family is where it was raised, as a log
    /// line's source is, so an integrator's `#expect(throws: ScanError(.jammed, "paper jam"))` matches the scanner's).
    public static func == (left: CounterKitError, right: CounterKitError) -> Bool {
        left.code == right.code && left.message == right.message
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }

    /// The stable code as a string (`device_busy`, `jammed`, `no_ink`…).
    public var codeName: String { code.rawValue }

    public var description: String { "\(code.rawValue): \(message)" }

    /// This failure as a capture that was storing its result reports it. The store's own failures become the capture's:
    /// `store_full` and `disk_full` keep their codes (the caller must free space, not retry), anything else is
    /// `attachment_failed`, and the message keeps the cause; a failure of another family is itself.
    public func whileStoring(fileID: StaticString = #fileID) -> CounterKitError {
        guard family == .attachments else { return self }
        return CounterKitError(code == .storeFull || code == .diskFull ? code : .attachmentFailed, description, fileID: fileID)
    }
}

extension CounterKitError: Codable {
    private enum CodingKeys: String, CodingKey { case code, message }

    /// Reads `{"code": …, "message": …}` (a job's error, a scan worker's report); the family is ``ErrorFamily/reported``.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            try container.decode(ErrorCode.self, forKey: .code), try container.decode(String.self, forKey: .message),
            family: .reported)
    }

    /// Writes `{"code": …, "message": …}`, the API's error shape (the family is not part of the contract).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(code, forKey: .code)
        try container.encode(message, forKey: .message)
    }
}

/// Which part of CounterKit raised an error: its module's name.
public struct ErrorFamily: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The module's name (`Scanning`, `Cameras`…).
    public var rawValue: String

    /// A family by its module's name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The family of the module a `#fileID` (`Module/File.swift`) is in.
    public init(fileID: StaticString) {
        let text = fileID.description
        self.init(rawValue: text.firstIndex(of: "/").map { String(text[..<$0]) } ?? text)
    }

    public var description: String { rawValue }

    /// Encoding and storing attachments.
    public static let attachments = ErrorFamily(rawValue: "Attachments")
    /// Scanners (SANE).
    public static let scanning = ErrorFamily(rawValue: "Scanning")
    /// Cameras (V4L2).
    public static let cameras = ErrorFamily(rawValue: "Cameras")
    /// Signature pads (USB HID).
    public static let signaturePads = ErrorFamily(rawValue: "SignaturePads")
    /// Finding, flattening and finishing pages.
    public static let documentImaging = ErrorFamily(rawValue: "DocumentImaging")
    /// The device hub: jobs, sessions, discovery.
    public static let deviceHub = ErrorFamily(rawValue: "DeviceHub")
    /// The device service: requests, and answers read from a running service.
    public static let deviceService = ErrorFamily(rawValue: "DeviceService")
    /// An error read back from its JSON (a job's error, a scan worker's report): its code and message are the raiser's.
    public static let reported = ErrorFamily(rawValue: "reported")
}
