import CounterKitCore

/// The SignaturePads family's errors: a `CounterKitError` raised in this module (its `family` is `.signaturePads`).
public typealias SignaturePadError = CounterKitError
