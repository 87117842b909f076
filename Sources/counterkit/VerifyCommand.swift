import ArgumentParser
import CounterKitCore
import DeviceService
import Foundation
import Sealing
import SignedDocuments
import SwiftASN1

/// `counterkit verify`: checks a sealed attachment's signature, manifest and data, through the service or offline.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check a sealed attachment (signature, manifest, data) or a signed PDF.",
        discussion: """
            Through the service: counterkit verify --key PUB.pem ID. Offline, on the files the back office received: \
            counterkit verify --key PUB.pem --manifest M --signature S [--data FILE]. Prints `valid: …` (exit 0), or \
            `error: seal_invalid: …` naming what failed (exit 1). A signed PDF: counterkit verify --document SIGNED.pdf \
            [--ca CA.pem]: each signature's signer, time, coverage and timestamp, and with --ca whether a trusted \
            certificate issued the signer's.
            """)

    @Option(help: ArgumentHelp("The counter's public key (PEM, `counterkit keys show`) or its certificate.", valueName: "PUB.pem"))
    var key: String?

    @Option(help: ArgumentHelp("A signed PDF to check: every signature in it.", valueName: "SIGNED.pdf")) var document: String?
    @Option(help: ArgumentHelp("A trusted certificate (PEM) for --document: the signer's must be it or issued by it.", valueName: "CA.pem"))
    var ca: [String] = []

    @Option(help: ArgumentHelp("The manifest file (offline).", valueName: "FILE")) var manifest: String?
    @Option(help: ArgumentHelp("The signature record (offline).", valueName: "FILE")) var signature: String?
    @Option(help: ArgumentHelp("The attachment's data, to check its bytes too (offline).", valueName: "FILE")) var data: String?

    @Option(help: ArgumentHelp("The service's socket (default: the default socket).", valueName: "PATH")) var socket: String?

    @Argument(help: "An attachment id, checked through the service.") var id: String?

    func validate() throws {
        if document != nil {
            if id != nil || manifest != nil || signature != nil || data != nil || key != nil {
                throw ValidationError("--document checks a signed PDF by itself: give no attachment id, --key, --manifest or --signature with it")
            }
            return
        }
        if !ca.isEmpty { throw ValidationError("--ca goes with --document") }
        if key == nil { throw ValidationError("give --key PUB.pem (the counter's public key), or --document SIGNED.pdf") }
        if id != nil && (manifest != nil || signature != nil || data != nil) {
            throw ValidationError("give an attachment ID (through the service) or --manifest and --signature (offline), not both")
        }
        if id == nil && (manifest == nil || signature == nil) {
            throw ValidationError("give an attachment ID, or --manifest FILE and --signature FILE")
        }
    }

    func run() async throws {
        if let document {
            try verifyDocument(document)
            return
        }
        let publicKey: CounterPublicKey
        do { publicKey = try CounterPublicKey.load(from: key!) } catch { throw fail(error.code, error.message) }
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

    /// Every signature of the PDF at `path`, one line each; `seal_invalid` (exit 1) naming the first that fails.
    private func verifyDocument(_ path: String) throws {
        guard let bytes = FileManager.default.contents(atPath: path) else { throw fail(.notFound, "cannot read \(path)") }
        var roots: [[UInt8]] = []
        for file in ca {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8),
                let documents = try? PEMDocument.parseMultiple(pemString: text), !documents.isEmpty
            else { throw fail(.invalidValue, "\(file) is not a PEM certificate") }
            roots += documents.filter { $0.discriminator == "CERTIFICATE" }.map(\.derBytes)
        }
        let reports: [DocumentSignatureReport]
        do throws(DocumentError) { reports = try DocumentVerifier.verify([UInt8](bytes), trusting: roots, name: path) } catch {
            throw fail(error.code, error.message)
        }
        for report in reports { print("valid: " + report.summary) }
        if reports.contains(where: { $0.trusted == false }) {
            throw fail(.sealInvalid, "a signer's certificate was not issued by \(ca.joined(separator: ", "))")
        }
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
