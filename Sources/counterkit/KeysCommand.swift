import ArgumentParser
import CounterKitCore
import Foundation
import Sealing

/// `counterkit keys`: the counter's signing key, which seals what leaves the counter.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Make or show the counter's signing key.", subcommands: [InitCommand.self, ShowCommand.self])

    /// Where the key lives unless `--out`/`--key` says: /etc/counterkit/seal.key as root, else
    /// $XDG_CONFIG_HOME/counterkit/seal.key (~/.config by default).
    static var defaultPath: String {
        if getuid() == 0 { return "/etc/counterkit/seal.key" }
        let environment = ProcessInfo.processInfo.environment
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() + "/.config"
        return config + "/counterkit/seal.key"
    }

    /// Prints the key's algorithm, id and public key, and its certificate chain when there is one (text, or JSON with
    /// `json`).
    static func describe(_ key: CounterKey, path: String, certificate: String?, chain: CounterCertificateChain? = nil, json: Bool) {
        let issued = chain.map { chain in
            chain.isSelfSigned ? "self-signed" : "issued by \(chain.issuer), \(chain.certificates.count) certificates"
        }
        let until = chain.map { $0.notValidAfter.formatted(Date.ISO8601FormatStyle()) }
        if json {
            var fields = ["algorithm": key.algorithm.rawValue, "keyId": key.keyID, "publicKey": key.publicKeyPEM, "path": CounterKey.printableLocation(path)]
            if let certificate { fields["certificate"] = certificate }
            if let chain, let until {
                fields["certificateIssuer"] = chain.isSelfSigned ? "self-signed" : chain.issuer
                fields["certificateValidUntil"] = until
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: (try? encoder.encode(fields)) ?? Data(), as: UTF8.self))
            return
        }
        print("key: \(CounterKey.printableLocation(path))" + (key.isInToken ? " (in a PKCS#11 token)" : ""))
        print("algorithm: \(key.algorithm.rawValue)")
        print("key id: \(key.keyID)")
        if let certificate { print("certificate: \(certificate)" + (issued.map { " (\($0); valid until \(until ?? ""))" } ?? "")) }
        print(key.publicKeyPEM, terminator: key.publicKeyPEM.hasSuffix("\n") ? "" : "\n")
    }

    struct InitCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init", abstract: "Make a new signing key (PKCS#8 PEM, mode 0600).",
            discussion: """
                Prints the public key and its key id (the hex SHA-256 of the public key's SubjectPublicKeyInfo DER): give \
                both to the back office. An existing key is kept unless --force; attachments an old key signed still verify \
                with its public key.
                """)

        @Option(help: "ed25519, p256 or sm2 (SM2 with SM3; manifests then carry the data's SM3 too).") var algorithm: String = "ed25519"
        @Option(help: ArgumentHelp("Where to write the key.", discussion: "Default: /etc/counterkit/seal.key as root, else ~/.config/counterkit/seal.key."))
        var out: String?
        @Option(help: "Also write a self-signed certificate beside the key (same name, .crt), for this subject: \"CN=…, O=…, C=…\".")
        var cert: String?
        @Flag(help: "Replace an existing key.") var force = false
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            guard let chosen = SealAlgorithm(rawValue: algorithm) else {
                throw fail(.invalidValue, "--algorithm is ed25519, p256 or sm2, not '\(algorithm)'")
            }
            let path = out ?? KeysCommand.defaultPath
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
                do {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                } catch { throw fail(.ioError, "cannot create \(directory): \(error.localizedDescription)") }
            }
            let key = try CounterKey.generate(chosen)
            var certificatePath: String?
            do throws(SealError) {
                // The certificate's subject is checked before anything is written.
                let certificate = try cert.map { subject throws(SealError) in try key.selfSignedCertificate(subject: subject) }
                try key.write(to: path, replacing: force)
                if let certificate {
                    let crt = (path as NSString).deletingPathExtension + ".crt"
                    do { try Data(certificate.utf8).write(to: URL(fileURLWithPath: crt), options: .atomic) } catch {
                        throw SealError(.ioError, "cannot write the certificate \(crt): \(error.localizedDescription)")
                    }
                    certificatePath = crt
                }
            } catch {
                throw fail(error.code, error.message)
            }
            KeysCommand.describe(key, path: path, certificate: certificatePath, json: json)
        }
    }

    struct ShowCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Print the signing key's algorithm, key id and public key.")

        @Option(help: ArgumentHelp("The key file.", discussion: "Default: /etc/counterkit/seal.key as root, else ~/.config/counterkit/seal.key."))
        var key: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let path = key ?? KeysCommand.defaultPath
            let loaded: CounterKey
            do throws(SealError) { loaded = try CounterKey.load(from: path) } catch { throw fail(error.code, error.message) }
            // The chain beside the key (the self-signed certificate, or the CA's chain put in its place) must fit it.
            let crt = CounterCertificateChain.defaultPath(forKey: path)
            var chain: CounterCertificateChain?
            if FileManager.default.fileExists(atPath: crt) {
                do throws(SealError) { chain = try CounterCertificateChain.load(from: crt, for: loaded.publicKey) } catch {
                    throw fail(error.code, error.message)
                }
            }
            KeysCommand.describe(loaded, path: path, certificate: chain != nil ? crt : nil, chain: chain, json: json)
        }
    }
}
