import ArgumentParser
import CounterKitCore
import DeviceService
import Foundation
import Sealing

/// `counterkit verify`: checks a sealed attachment's signature, manifest and data, through the service or offline.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check a sealed attachment: its signature, its manifest and its data.",
        discussion: """
            Through the service: counterkit verify --key PUB.pem ID. Offline, on the files the back office received: \
            counterkit verify --key PUB.pem --manifest M --signature S [--data FILE]. Prints `valid: …` (exit 0), or \
            `error: seal_invalid: …` naming what failed (exit 1).
            """)

    @Option(help: ArgumentHelp("The counter's public key (PEM, `counterkit keys show`) or its certificate.", valueName: "PUB.pem"))
    var key: String

    @Option(help: ArgumentHelp("The manifest file (offline).", valueName: "FILE")) var manifest: String?
    @Option(help: ArgumentHelp("The signature record (offline).", valueName: "FILE")) var signature: String?
    @Option(help: ArgumentHelp("The attachment's data, to check its bytes too (offline).", valueName: "FILE")) var data: String?

    @Option(help: ArgumentHelp("The service's socket (default: the default socket).", valueName: "PATH")) var socket: String?

    @Argument(help: "An attachment id, checked through the service.") var id: String?

    func validate() throws {
        if id != nil && (manifest != nil || signature != nil || data != nil) {
            throw ValidationError("give an attachment ID (through the service) or --manifest and --signature (offline), not both")
        }
        if id == nil && (manifest == nil || signature == nil) {
            throw ValidationError("give an attachment ID, or --manifest FILE and --signature FILE")
        }
    }

    func run() async throws {
        let publicKey: CounterPublicKey
        do { publicKey = try CounterPublicKey.load(from: key) } catch { throw fail(error.code, error.message) }
        let report: SealReport
        do throws(SealError) {
            if let id {
                report = try await viaService(id, key: publicKey)
            } else {
                report = try SealCheck.verifyFiles(manifest: manifest!, signature: signature!, data: data, key: publicKey)
            }
        } catch {
            throw fail(error.code, error.message)
        }
        print(report.summary)
    }

    private func viaService(_ id: String, key: CounterPublicKey) async throws(SealError) -> SealReport {
        let client = ServiceClient(socketPath: socket ?? ListenAddress.defaultSocketPath, idleTimeout: .seconds(60))
        func fetch(_ what: String, _ get: () async throws -> [UInt8]) async throws(SealError) -> [UInt8] {
            do { return try await get() } catch let error as ServiceClientError {
                let code = ErrorCode(rawValue: error.code) ?? .ioError
                throw SealError(code, "\(what) of \(id): \(error.message)")
            } catch {
                throw SealError(.serviceUnavailable, "no service answers at \(client.socketPath): \(error)")
            }
        }
        let manifest = try await fetch("the manifest") { try await client.manifestBytes(of: id) }
        let signature = try await fetch("the signature") { try await client.signatureBytes(of: id) }
        // The signature and manifest first: what the data must match is settled before the data is asked for.
        let signed = try SealCheck.verify(manifest: manifest, signature: signature, key: key)
        let data: [UInt8]
        do throws(SealError) {
            data = try await fetch("the data") { try await client.data(of: id) }
        } catch  where error.code == .sealedOnly {
            // Only the envelope is left: its bytes are what the signed manifest vouches for.
            return try SealCheck.checkEnvelope(try await fetch("the envelope") { try await client.sealedEnvelope(of: id) }, of: signed)
        }
        return try SealCheck.verify(manifest: manifest, signature: signature, key: key, data: [data])
    }
}
