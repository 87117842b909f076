import ESCL
import Foundation
import TOMLKit

/// What `counterkit serve` can be told, from its flags or from its configuration file (TOML, `--config FILE`,
/// by default `/etc/counterkit/counterkit.toml` when present). A value left nil takes the flag's, then the default.
///
/// ```toml
/// socket = "/run/counterkit/api.sock"
/// max-store-mb = 2048
/// allow-group = ["clerks"]
///
/// [devices."test:0".options]         # default options of one scanner; a request's own options win
/// "test-picture" = "Color pattern"
///
/// [seal]
/// key = "/etc/counterkit/seal.key"    # every attachment's manifest is signed with this counter key
/// recipient = "/etc/counterkit/back-office.pem"   # and its data encrypted for the back office
/// certificate = "/etc/counterkit/seal-chain.pem"  # the CA's chain for the key (default: seal.crt beside it)
/// plaintext-retention = "24h"         # after which only the envelope stays ("0": no plaintext is ever written)
/// tsa = "http://tsa.example/tsr"      # signed documents are timestamped (PAdES B-T)
/// tsa-required = false                # without a timestamp, sign B-B and say so (default: fail)
/// ```
public struct ServiceSettings: Sendable, Equatable {
    /// `socket`: the Unix socket path to create.
    public var socket: String?
    /// `group`: the group owning the socket.
    public var group: String?
    /// `mode`: the socket file's mode, octal text such as "0660".
    public var mode: String?
    /// `listen`: a loopback `HOST:PORT` to serve over TCP too.
    public var listen: String?
    /// `allow-origin`: web origins the loopback bridge (`listen`) admits besides the paired ones.
    public var allowOrigins: [String]?
    /// `ui`: serve the device console at `/ui/` on the `listen` address.
    public var ui: Bool?
    /// `allow-user`: the only users (names or uids) that may use the API.
    public var allowUsers: [String]?
    /// `allow-group`: the only groups whose members may use the API.
    public var allowGroups: [String]?
    /// `max-connections`.
    public var maxConnections: Int?
    /// `max-queued`: jobs waiting per device.
    public var maxQueued: Int?
    /// `max-subscribers`: open event streams.
    public var maxSubscribers: Int?
    /// `max-request-kb`: the largest request body, KiB.
    public var maxRequestKb: Int?
    /// `max-store-mb`: the attachment store's size, MiB.
    public var maxStoreMb: Int?
    /// `max-upload-mb`: the largest document counter software may upload to be signed, MiB.
    public var maxUploadMb: Int?
    /// `idle-timeout`: seconds before an idle connection is closed.
    public var idleTimeout: Int?
    /// `scan-timeout`: seconds of scanner silence before a scan is abandoned.
    public var scanTimeout: Int?
    /// `journal-jobs`: how many ended jobs and signature sessions the journal keeps across restarts.
    public var journalJobs: Int?
    /// `journal-days`: how many days the journal keeps an ended job or session.
    public var journalDays: Int?
    /// `escl`: serve eSCL (AirScan) at `PORT` on loopback, or at `HOST:PORT` (a LAN address only when given).
    public var escl: String?
    /// `escl-device`: the scanner at `/eSCL/` (default: the first found).
    public var esclDevice: String?
    /// `preview-linger-ms`: how long a camera stays open after its last preview viewer leaves (default 2000).
    public var previewLingerMs: Int?
    /// `log-level`: trace, debug, info, notice, warning, error or critical.
    public var logLevel: String?
    /// `spool`: the attachment spool directory.
    public var spool: String?
    /// `[devices."ID".options]`: default backend options per device id, as SANE option text.
    public var deviceOptions: [String: [String: String]] = [:]
    /// `[seal] key`: the counter key (PKCS#8 PEM, mode 0600, or a `pkcs11:` URI naming a key in a token) that signs
    /// every attachment's manifest.
    public var sealKey: String?
    /// `[seal] recipient`: the back office's certificate (PEM) every attachment is also encrypted for.
    public var sealRecipient: String?
    /// `[seal] certificate`: the counter key's certificate chain (PEM, the counter's certificate first), when it is not
    /// `seal.crt` beside the key.
    public var sealCertificate: String?
    /// `[seal] plaintext-retention`: how long a sealed attachment's plaintext stays (`30s`, `15m`, `24h`, `7d`).
    public var plaintextRetention: String?
    /// `[seal] tsa`: the RFC 3161 time-stamping authority (http://…) that timestamps signed documents (PAdES B-T).
    public var sealTSA: String?
    /// `[seal] tsa-required` (default true): whether a document is left unsigned when the TSA gives no timestamp; false
    /// signs it B-B and its manifest says why.
    public var sealTSARequired: Bool?

    /// Settings with nothing set.
    public init() {}

    /// The file `serve` reads when `--config` is not given and the file exists.
    public static let defaultPath = "/etc/counterkit/counterkit.toml"

    /// The keys a file may hold at its top level, with what each expects.
    static var keys:
        [(
            name: String, kind: Kind, path: WritableKeyPath<ServiceSettings, String?>?,
            number: WritableKeyPath<ServiceSettings, Int?>?, list: WritableKeyPath<ServiceSettings, [String]?>?
        )]
    {
        [
            ("socket", .text, \.socket, nil, nil), ("group", .text, \.group, nil, nil), ("mode", .text, \.mode, nil, nil),
            ("listen", .text, \.listen, nil, nil), ("log-level", .text, \.logLevel, nil, nil), ("spool", .text, \.spool, nil, nil),
            ("allow-origin", .textList, nil, nil, \.allowOrigins), ("allow-user", .textList, nil, nil, \.allowUsers),
            ("allow-group", .textList, nil, nil, \.allowGroups),
            ("max-connections", .count, nil, \.maxConnections, nil), ("max-queued", .count, nil, \.maxQueued, nil),
            ("max-subscribers", .count, nil, \.maxSubscribers, nil), ("max-request-kb", .count, nil, \.maxRequestKb, nil),
            ("max-store-mb", .count, nil, \.maxStoreMb, nil), ("max-upload-mb", .count, nil, \.maxUploadMb, nil),
            ("idle-timeout", .count, nil, \.idleTimeout, nil),
            ("scan-timeout", .count, nil, \.scanTimeout, nil), ("journal-jobs", .count, nil, \.journalJobs, nil),
            ("journal-days", .count, nil, \.journalDays, nil), ("escl", .text, \.escl, nil, nil),
            ("escl-device", .text, \.esclDevice, nil, nil), ("preview-linger-ms", .count, nil, \.previewLingerMs, nil),
        ]
    }

    enum Kind { case text, textList, count }

    /// Reads the file at `path`.
    public static func load(path: String) throws(ServiceSettingsError) -> ServiceSettings {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServiceSettingsError(file: path, line: nil, "cannot read the file")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    /// Parses a file's text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(ServiceSettingsError) -> ServiceSettings {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw ServiceSettingsError(file: file, line: error.source.begin.line, "not valid TOML: \(error.description)")
        } catch {
            throw ServiceSettingsError(file: file, line: nil, "not valid TOML: \(error)")
        }
        let lines = SourceLines(text)
        var settings = ServiceSettings()
        for key in table.keys {
            guard let value = table[key] else { continue }
            if key == "devices" {
                settings.deviceOptions = try deviceOptions(value, file: file, lines: lines)
                continue
            }
            if key == "seal" {
                try settings.seal(value, file: file, lines: lines)
                continue
            }
            if key == "ui" {
                guard let on = value.bool else { throw ServiceSettingsError(file: file, line: lines.key(key), "'ui' must be true or false") }
                settings.ui = on
                continue
            }
            guard let known = keys.first(where: { $0.name == key }) else {
                let allowed = (keys.map(\.name) + ["ui", "devices", "seal"]).joined(separator: ", ")
                throw ServiceSettingsError(file: file, line: lines.key(key), "unknown key '\(key)'; allowed: \(allowed)")
            }
            let keyLine = lines.key(key)
            switch known.kind {
            case .text:
                guard let text = value.string else { throw ServiceSettingsError(file: file, line: keyLine, "'\(key)' must be a string") }
                settings[keyPath: known.path!] = text
            case .textList:
                if let text = value.string {
                    settings[keyPath: known.list!] = [text]
                } else if let array = value.array, array.allSatisfy({ $0.string != nil }) {
                    settings[keyPath: known.list!] = array.map { $0.string! }
                } else {
                    throw ServiceSettingsError(file: file, line: keyLine, "'\(key)' must be a string or a list of strings")
                }
            case .count:
                guard let number = value.int else { throw ServiceSettingsError(file: file, line: keyLine, "'\(key)' must be a whole number") }
                guard number >= 1 else { throw ServiceSettingsError(file: file, line: keyLine, "'\(key)' must be at least 1, got \(number)") }
                settings[keyPath: known.number!] = number
            }
        }
        try settings.validate(file: file, lines: lines)
        return settings
    }

    /// The `[seal]` table: `key = PATH`, `recipient = PATH`, `certificate = PATH`, `plaintext-retention = DURATION`.
    private mutating func seal(_ value: TOMLValueConvertible, file: String, lines: SourceLines) throws(ServiceSettingsError) {
        guard let table = value.table else {
            throw ServiceSettingsError(file: file, line: lines.key("seal"), "'seal' must be a table: [seal] key = \"/etc/counterkit/seal.key\"")
        }
        let header = lines.table("seal")
        let allowed: [(String, WritableKeyPath<ServiceSettings, String?>, String)] = [
            ("key", \.sealKey, "the counter key file's path"), ("recipient", \.sealRecipient, "the back office certificate's path"),
            ("certificate", \.sealCertificate, "the counter's certificate chain's path"),
            ("plaintext-retention", \.plaintextRetention, "a duration such as \"24h\""), ("tsa", \.sealTSA, "the TSA's http:// URL"),
        ]
        for key in table.keys {
            if key == "tsa-required" {
                guard let required = table[key]?.bool else {
                    throw ServiceSettingsError(file: file, line: lines.key(key, after: header), "[seal] 'tsa-required' must be true or false")
                }
                sealTSARequired = required
                continue
            }
            guard let (_, path, what) = allowed.first(where: { $0.0 == key }) else {
                throw ServiceSettingsError(
                    file: file, line: lines.key(key, after: header),
                    "unknown key '\(key)' in [seal]; allowed: key, recipient, certificate, plaintext-retention, tsa, tsa-required"
                )
            }
            guard let text = table[key]?.string, !text.isEmpty else {
                throw ServiceSettingsError(file: file, line: lines.key(key, after: header), "[seal] '\(key)' must be \(what)")
            }
            self[keyPath: path] = text
        }
        if let text = plaintextRetention, Self.duration(text) == nil {
            throw ServiceSettingsError(
                file: file, line: lines.key("plaintext-retention", after: header), Self.durationProblem(text))
        }
    }

    /// A duration: a whole number with `s`, `m`, `h` or `d` (`90s`, `15m`, `24h`, `7d`), at least one second; or `0`
    /// (no plaintext is ever written).
    public static func duration(_ text: String) -> TimeInterval? {
        if text == "0" { return 0 }
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let unit = text.last.flatMap({ units[$0] }), let count = Int(text.dropLast()), count >= 1 else { return nil }
        return TimeInterval(count) * unit
    }

    /// Why `text` is not a plaintext retention.
    public static func durationProblem(_ text: String) -> String {
        "plaintext-retention must be 0 (no plaintext ever written) or a duration such as 90s, 15m, 24h or 7d, got '\(text)'"
    }

    /// `[devices."ID".options]` tables: each value a string, number or boolean, kept as SANE option text.
    private static func deviceOptions(
        _ value: TOMLValueConvertible, file: String, lines: SourceLines
    ) throws(ServiceSettingsError)
        -> [String: [String: String]]
    {
        guard let devices = value.table else {
            throw ServiceSettingsError(file: file, line: lines.key("devices"), "'devices' must be a table of devices: [devices.\"ID\".options]")
        }
        var result: [String: [String: String]] = [:]
        for id in devices.keys {
            guard let device = devices[id]?.table else {
                throw ServiceSettingsError(file: file, line: lines.header(id), "devices.\"\(id)\" must be a table")
            }
            for key in device.keys where key != "options" {
                throw ServiceSettingsError(
                    file: file, line: lines.key(key, after: lines.header(id)),
                    "unknown key '\(key)' for device \"\(id)\"; allowed: options")
            }
            guard let options = device["options"]?.table else {
                throw ServiceSettingsError(file: file, line: lines.header(id), "devices.\"\(id)\".options must be a table")
            }
            var texts: [String: String] = [:]
            for name in options.keys {
                let option = options[name]!
                let text: String? =
                    option.string ?? option.int.map(String.init) ?? option.bool.map { $0 ? "yes" : "no" }
                    ?? option.double.map { String($0) }
                guard let text else {
                    throw ServiceSettingsError(
                        file: file, line: lines.key(name, after: lines.header(id)),
                        "option '\(name)' of device \"\(id)\" must be a string, number or boolean")
                }
                texts[name] = text
            }
            result[id] = texts
        }
        return result
    }

    private func validate(file: String, lines: SourceLines) throws(ServiceSettingsError) {
        if let mode, mode_t(mode, radix: 8).map({ $0 > 0o777 }) ?? true {
            throw ServiceSettingsError(file: file, line: lines.key("mode"), "'mode' must be an octal mode such as \"0660\", got \"\(mode)\"")
        }
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        if let logLevel, !levels.contains(logLevel) {
            throw ServiceSettingsError(file: file, line: lines.key("log-level"), "'log-level' must be one of \(levels.joined(separator: ", "))")
        }
        if let escl {
            do throws(ESCLError) { _ = try ESCLConfiguration(parsing: escl) } catch {
                throw ServiceSettingsError(file: file, line: lines.key("escl"), "'escl': \(error.message)")
            }
        }
        for origin in allowOrigins ?? [] where PairingStore.normalizedOrigin(origin) == nil {
            throw ServiceSettingsError(
                file: file, line: lines.key("allow-origin"),
                "'allow-origin': '\(origin)' is not a web origin (scheme://host[:port])")
        }
        if ui == true && listen == nil {
            throw ServiceSettingsError(file: file, line: lines.key("ui"), "'ui' needs 'listen': the console is served on the loopback bridge")
        }
        if let listen {
            do { _ = try ListenAddress.parseTCP(listen) } catch {
                throw ServiceSettingsError(file: file, line: lines.key("listen"), "'listen': \((error as? ServiceSetupError)?.message ?? "\(error)")")
            }
        }
    }

    /// These settings with `overrides` laid over them: what the command line gives wins.
    public func overridden(by overrides: ServiceSettings) -> ServiceSettings {
        var merged = self
        for key in Self.keys {
            if let path = key.path, let value = overrides[keyPath: path] { merged[keyPath: path] = value }
            if let path = key.number, let value = overrides[keyPath: path] { merged[keyPath: path] = value }
            if let path = key.list, let value = overrides[keyPath: path] { merged[keyPath: path] = value }
        }
        if let ui = overrides.ui { merged.ui = ui }
        if let sealKey = overrides.sealKey { merged.sealKey = sealKey }
        if let recipient = overrides.sealRecipient { merged.sealRecipient = recipient }
        if let certificate = overrides.sealCertificate { merged.sealCertificate = certificate }
        if let retention = overrides.plaintextRetention { merged.plaintextRetention = retention }
        if let tsa = overrides.sealTSA { merged.sealTSA = tsa }
        if let required = overrides.sealTSARequired { merged.sealTSARequired = required }
        merged.deviceOptions.merge(overrides.deviceOptions) { _, flag in flag }
        return merged
    }
}

/// A configuration file that cannot be used: the file, the line when known, and what is wrong.
public struct ServiceSettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file's path.
    public var file: String
    /// The 1-based line of the problem, when it can be told.
    public var line: Int?
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(file: String, line: Int?, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file)\(line.map { " line \($0)" } ?? ""): \(message)" }
}

/// Finds where a key or a table header stands in the file, so that an error names its line (the TOML library
/// reports lines for syntax errors only).
private struct SourceLines {
    private let lines: [Substring]

    init(_ text: String) { lines = text.split(separator: "\n", omittingEmptySubsequences: false) }

    /// The first line at or after `start` that assigns `key` (bare or quoted).
    func key(_ key: String, after start: Int? = nil) -> Int? {
        let first = max((start ?? 1) - 1, 0)
        guard first < lines.count else { return nil }
        for index in first..<lines.count {
            var line = lines[index].drop { $0 == " " || $0 == "\t" }
            for form in [key, "\"\(key)\"", "'\(key)'"] where line.hasPrefix(form) {
                line = line.dropFirst(form.count).drop { $0 == " " || $0 == "\t" }
                if line.hasPrefix("=") { return index + 1 }
            }
        }
        return nil
    }

    /// The line of the table header `[name]`.
    func table(_ name: String) -> Int? {
        lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "[\(name)]" }.map { $0 + 1 }
    }

    /// The line of the table header that names device `id`.
    func header(_ id: String) -> Int? {
        lines.firstIndex { $0.contains("[") && $0.contains("devices") && $0.contains(id) }.map { $0 + 1 }
    }
}
