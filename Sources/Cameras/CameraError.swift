import CounterKitCore

/// The Cameras family's errors: a `CounterKitError` raised in this module (its `family` is `.cameras`).
public typealias CameraError = CounterKitError
