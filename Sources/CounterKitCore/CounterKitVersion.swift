/// CounterKit's version: what `counterkit version`, `GET /v1/health` and the diagnostic report show. It lives in the
/// lowest module so that every layer can name it without depending on another.
public enum CounterKitVersion: Sendable {
    /// The version of this build.
    public static let current = "0.1.0"
}
