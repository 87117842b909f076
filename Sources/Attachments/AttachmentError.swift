/// Every module that stores attachments shares the core's error, code vocabulary, version and cancellation.
@_exported import CounterKitCore

/// The Attachments family's errors: a `CounterKitError` raised in this module (its `family` is `.attachments`).
public typealias AttachmentError = CounterKitError
