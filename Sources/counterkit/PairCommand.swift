import ArgumentParser
import DeviceService
import Foundation

struct PairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pair",
        abstract: "Let a web page's origin use the loopback bridge: issue it a token (or list and revoke tokens).",
        discussion: """
            Talks to the running service over its Unix socket, so only those who may use the socket (a technician, \
            root) can pair. The token is printed once, on the last line; the service keeps only its SHA-256. The page \
            sends it as `Authorization: Bearer TOKEN` to the service's --listen address. Tokens survive restarts \
            until revoked.
              counterkit pair https://counter.example.gov.cn
              counterkit pair --list
              counterkit pair --revoke https://counter.example.gov.cn
            """)

    @Argument(help: ArgumentHelp("The web origin to pair: scheme://host[:port].", valueName: "ORIGIN"))
    var origin: String?

    @Flag(help: "List the paired origins (tokens are never shown again).")
    var list = false

    @Option(help: ArgumentHelp("Revoke every token of this origin.", valueName: "ORIGIN"))
    var revoke: String?

    @Option(help: ArgumentHelp("The service's socket (default: \(ListenAddress.defaultSocketPath)).", valueName: "PATH"))
    var socket: String?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        let actions = [origin != nil, list, revoke != nil].filter { $0 }.count
        guard actions == 1 else { throw ValidationError("give exactly one of ORIGIN, --list or --revoke ORIGIN") }
    }

    func run() async throws {
        let path = socket ?? ListenAddress.defaultSocketPath
        guard ServiceClient.isServing(at: path) else {
            throw fail(
                .serviceUnavailable,
                "no service answers on \(path): pairing goes through the service's socket. Start "
                    + "`counterkit serve`, or name its socket with --socket PATH if it listens elsewhere")
        }
        let client = ServiceClient(socketPath: path, idleTimeout: .seconds(30))
        do {
            if list {
                let reply = try await client.send("GET", "/v1/pairings")
                let listed = try reply.decode(PairingListing.self)
                if json { return try printJSON(listed) }
                if listed.pairings.isEmpty { print("no origin is paired") }
                for pairing in listed.pairings {
                    print("\(pairing.origin)  paired \(ISO8601DateFormatter().string(from: pairing.createdAt))  token sha256 \(pairing.tokenHash)…")
                }
            } else if let revoke {
                let query = revoke.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? revoke
                let reply = try await client.send("DELETE", "/v1/pairings?origin=\(query)")
                let revoked = try reply.decode(Revoked.self)
                if json { return try printJSON(revoked) }
                print("revoked \(revoked.revoked) token(s) of \(revoked.origin)")
            } else if let origin {
                let body = try JSONEncoder().encode(["origin": origin])
                let reply = try await client.send("POST", "/v1/pairings", json: body)
                let issued = try reply.decode(Issued.self)
                if json { return try printJSON(issued) }
                print("paired \(issued.origin): its pages send this token as `Authorization: Bearer TOKEN`")
                print("(shown once; `counterkit pair\(socket.map { " --socket \($0)" } ?? "") --revoke \(issued.origin)` withdraws it)")
                print(issued.token)
            }
        } catch let error as ServiceClientError {
            throw fail(code: error.code, error.message)
        }
    }

    struct Issued: Codable { var origin: String; var token: String; var createdAt: Date }
    struct Revoked: Codable { var origin: String; var revoked: Int }
    struct PairingListing: Codable {
        struct Entry: Codable { var origin: String; var createdAt: Date; var tokenHash: String }
        var pairings: [Entry]
    }
}
