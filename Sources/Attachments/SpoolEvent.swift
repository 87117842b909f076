/// Something that changed a spool's set of attachments, told to the store's observer (the service's audit log).
public enum SpoolEvent: Sendable, Equatable {
    /// An attachment was committed.
    case stored(AttachmentManifest)
    /// An attachment was deleted on request; `detail` says by whom when the caller knows.
    case deleted(AttachmentManifest, detail: [String: String])
    /// The retention policy removed an attachment.
    case expired(AttachmentManifest)
    /// The plaintext retention removed an attachment's data; its envelope, manifest and signature stay.
    case plaintextRemoved(AttachmentManifest)
}
