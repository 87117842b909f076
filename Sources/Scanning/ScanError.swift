import CounterKitCore

/// The Scanning family's errors: a `CounterKitError` raised in this module (its `family` is `.scanning`).
public typealias ScanError = CounterKitError
