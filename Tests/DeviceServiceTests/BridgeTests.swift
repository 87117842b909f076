import Attachments
import ChildProcesses
import CounterKitTestSupport
import Foundation
import Testing

@testable import DeviceService

/// An answer from the bridge as curl saw it.
struct CurlReply {
    var status: Int
    /// Header names lowercased.
    var headers: [String: String]
    var body: String

    /// The API error code in the body.
    var code: String? {
        struct Envelope: Decodable { struct Detail: Decodable { var code: String }; var error: Detail }
        return try? JSONDecoder().decode(Envelope.self, from: Data(body.utf8)).error.code
    }
}

/// One request to the loopback bridge through curl (a real HTTP client over real TCP).
func curlBridge(
    _ port: Int, method: String = "GET", _ path: String, headers: [String: String] = [:], body: String? = nil,
    contentType: String = "application/json"
) async throws -> CurlReply {
    var arguments = ["curl", "-sS", "-i", "--max-time", "60", "-X", method]
    for (name, value) in headers.sorted(by: { $0.key < $1.key }) { arguments += ["-H", "\(name): \(value)"] }
    if let body { arguments += ["-H", "Content-Type: \(contentType)", "--data-binary", body] }
    arguments.append("http://127.0.0.1:\(port)\(path)")
    let output = try await runCommandAsync(arguments).output
    guard let split = output.range(of: "\r\n\r\n") else { throw ServiceSetupError("no HTTP answer: \(output)") }
    let head = output[..<split.lowerBound].split(separator: "\r\n")
    let status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
    var fields: [String: String] = [:]
    for line in head.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return CurlReply(status: status, headers: fields, body: String(output[split.upperBound...]))
}

@Suite("The loopback bridge: Host, Origin, token, CORS and media-type rules over real TCP", .serialized)
struct BridgeTests {
    static let page = "https://counter.example.gov.cn"

    @Test("every rule of the bridge, as curl sees it")
    func everyRule() async throws {
        let service = try await RunningService.start(tcp: true, bridge: BridgeConfiguration(allowedOrigins: ["https://allowed-only.example"]))
        let port = try #require(service.tcpPort)
        let token = try await service.pair(Self.page)
        #expect(token.hasPrefix("ckt_") && token.count > 40)
        let bearer = ["Authorization": "Bearer \(token)"]

        // Host: the listener's own names only (DNS rebinding sends the attacker's name).
        for host in ["127.0.0.1:\(port)", "localhost:\(port)", "[::1]:\(port)"] {
            #expect(try await curlBridge(port, "/v1/health", headers: bearer.merging(["Host": host]) { $1 }).status == 200, "Host \(host)")
        }
        for host in ["evil.example:\(port)", "127.0.0.1", "127.0.0.1:1", "counter.example.gov.cn"] {
            let reply = try await curlBridge(port, "/v1/health", headers: bearer.merging(["Host": host, "Origin": Self.page]) { $1 })
            #expect(reply.status == 403 && reply.code == "forbidden_host", "Host \(host): \(reply.status) \(reply.body)")
            #expect(reply.headers["access-control-allow-origin"] == nil)
        }

        // A token is needed, valid, and of the origin that sends it.
        let none = try await curlBridge(port, "/v1/devices")
        #expect(none.status == 401 && none.code == "unauthorized" && none.headers["www-authenticate"] == "Bearer")
        let forged = try await curlBridge(port, "/v1/devices", headers: ["Authorization": "Bearer ckt_forged"])
        #expect(forged.status == 401 && forged.code == "unauthorized")
        let inQuery = try await curlBridge(port, "/v1/devices?token=\(token)&access_token=\(token)")
        #expect(inQuery.status == 401, "a token in the URL is never taken")
        #expect(try await curlBridge(port, "/v1/devices", headers: bearer).status == 200)

        // Origin: allowed ones get exactly their origin back, and Vary; others 403 with no CORS headers at all.
        let allowed = try await curlBridge(port, "/v1/health", headers: bearer.merging(["Origin": Self.page]) { $1 })
        #expect(allowed.status == 200 && allowed.headers["access-control-allow-origin"] == Self.page)
        #expect(allowed.headers["vary"]?.contains("Origin") == true)
        for origin in ["https://evil.example", "null", "https://counter.example.gov.cn.evil.example", "http://counter.example.gov.cn"] {
            let reply = try await curlBridge(port, "/v1/devices", headers: bearer.merging(["Origin": origin]) { $1 })
            #expect(reply.status == 403 && reply.code == "forbidden_origin", "Origin \(origin): \(reply.status)")
            #expect(!reply.headers.keys.contains { $0.hasPrefix("access-control-") }, "no CORS headers for \(origin)")
        }
        // An origin allowed by --allow-origin but never paired: CORS lets it read the 401, and the other page's token is refused.
        let unpaired = try await curlBridge(port, "/v1/devices", headers: bearer.merging(["Origin": "https://allowed-only.example"]) { $1 })
        #expect(unpaired.status == 401 && unpaired.headers["access-control-allow-origin"] == "https://allowed-only.example")
        #expect(unpaired.body.contains("another origin"))
        // Without a token, an allowed origin reads the 401 (so the page can say what is wrong).
        let noToken = try await curlBridge(port, "/v1/devices", headers: ["Origin": Self.page])
        #expect(noToken.status == 401 && noToken.headers["access-control-allow-origin"] == Self.page)

        // Preflights: allowed origin 204 with the methods, headers and Private Network Access; others 403 bare.
        let preflight = try await curlBridge(
            port, method: "OPTIONS", "/v1/scans",
            headers: [
                "Origin": Self.page, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type", "Access-Control-Request-Private-Network": "true",
            ])
        #expect(preflight.status == 204)
        #expect(preflight.headers["access-control-allow-origin"] == Self.page)
        #expect(preflight.headers["access-control-allow-methods"]?.contains("POST") == true)
        #expect(preflight.headers["access-control-allow-headers"]?.lowercased().contains("authorization") == true)
        #expect(preflight.headers["access-control-allow-private-network"] == "true")
        #expect(
            try await curlBridge(port, method: "OPTIONS", "/v1/scans", headers: ["Origin": Self.page, "Access-Control-Request-Method": "POST"])
                .headers["access-control-allow-private-network"] == nil, "only when the browser asks")
        let foreignPreflight = try await curlBridge(
            port, method: "OPTIONS", "/v1/scans",
            headers: [
                "Origin": "https://evil.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Private-Network": "true",
            ])
        #expect(foreignPreflight.status == 403 && foreignPreflight.code == "forbidden_origin")
        #expect(!foreignPreflight.headers.keys.contains { $0.hasPrefix("access-control-") })

        // Bodies must be JSON: a form or text/plain post (what a foreign page can send without a preflight) starts nothing.
        for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
            let reply = try await curlBridge(port, method: "POST", "/v1/scans", headers: bearer, body: #"{"device":"test:0"}"#, contentType: type)
            #expect(reply.status == 415 && reply.code == "unsupported_media_type", "\(type): \(reply.status)")
        }
        let jobs = String(decoding: try await service.get("/v1/jobs").body, as: UTF8.self)
        #expect(jobs == #"{"jobs":[]}"#, "no job was started: \(jobs)")

        // Pairing is for the Unix socket only; the client and the API description are public; the console is off.
        let pairOverTCP = try await curlBridge(port, method: "POST", "/v1/pairings", headers: bearer, body: #"{"origin":"https://evil.example"}"#)
        #expect(pairOverTCP.status == 403 && pairOverTCP.code == "forbidden")
        #expect(try await curlBridge(port, "/v1/pairings", headers: bearer).status == 403)
        let client = try await curlBridge(port, "/v1/client.js", headers: ["Origin": Self.page])
        #expect(client.status == 200 && client.headers["content-type"]?.hasPrefix("text/javascript") == true)
        #expect(client.headers["access-control-allow-origin"] == Self.page, "a module script loads cross-origin under CORS")
        #expect(client.body == String(decoding: try Data(contentsOf: repositoryRoot().appendingPathComponent("clients/js/counterkit.js")), as: UTF8.self))
        #expect(try await curlBridge(port, "/v1/openapi.json").status == 200)
        #expect(try await curlBridge(port, "/ui/", headers: bearer).code == "not_found", "the console needs --ui")

        // The Unix socket is as before: no token, no Origin rules.
        #expect(try await service.get("/v1/devices").status == 200)
        try await service.stop()
    }

    @Test("a scan over the bridge: the page's token starts it, and its attachment comes back byte for byte")
    func scanOverTheBridge() async throws {
        let service = try await RunningService.start(tcp: true)
        let port = try #require(service.tcpPort)
        let token = try await service.pair(Self.page)
        let headers = ["Authorization": "Bearer \(token)", "Origin": Self.page]
        let reply = try await curlBridge(
            port, method: "POST", "/v1/scans?wait=true", headers: headers,
            body: #"{"device":"test:0","resolution":50,"paper":"ID1","format":"png"}"#)
        #expect(reply.status == 200 && reply.headers["access-control-allow-origin"] == Self.page)
        let job = try AttachmentManifest.makeDecoder().decode(JobSnapshot.self, from: Data(reply.body.utf8))
        #expect(job.state == .completed)
        let attachment = try #require(job.attachments.first)
        let path = service.directory.path("download.png")
        let download = try await runCommandAsync([
            "curl", "-sS", "-o", path, "-H", "Authorization: Bearer \(token)",
            "http://127.0.0.1:\(port)/v1/attachments/\(attachment.id)",
        ])
        #expect(download.status == 0)
        let (size, digest) = try AttachmentStore.hashFile(atPath: path)
        #expect(size == attachment.byteCount && digest == attachment.sha256)
        let image = try DecodedImage.png(atPath: path)
        #expect(image.width == attachment.pixelWidth && image.height == attachment.pixelHeight)
        try await service.stop()
    }

    @Test("tokens survive a restart, only their hashes are on disk, and a revoked token is refused at once")
    func pairingsPersistAndRevoke() async throws {
        let directory = try TemporaryDirectory("ck-bridge")
        var service = try await RunningService.start(in: directory, tcp: true)
        let token = try await service.pair(Self.page)
        let second = try await service.pair(Self.page)
        #expect(token != second)
        let other = try await service.pair("http://localhost:8080")
        let file = service.spool.appendingPathComponent("bridge/pairings.json")
        let stored = try String(contentsOf: file, encoding: .utf8)
        #expect(!stored.contains(token) && !stored.contains(second) && !stored.contains(other), "tokens are never stored")
        #expect(stored.contains(PairingStore.hash(token)) && stored.contains(Self.page))
        var info = stat()
        #expect(stat(file.path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        try await service.stop()

        service = try await RunningService.start(in: directory, tcp: true)
        let port = try #require(service.tcpPort)
        for key in [token, second, other] {
            #expect(try await curlBridge(port, "/v1/health", headers: ["Authorization": "Bearer \(key)"]).status == 200)
        }
        struct Listing: Decodable { struct Entry: Decodable { var origin: String; var tokenHash: String }; var pairings: [Entry] }
        let listing = try await service.get("/v1/pairings").decode(Listing.self)
        #expect(listing.pairings.map(\.origin) == [Self.page, Self.page, "http://localhost:8080"])
        #expect(listing.pairings[0].tokenHash == String(PairingStore.hash(token).prefix(12)))

        // Revoking the page removes both its tokens at once; the other origin's keeps working.
        let encoded = try #require(Self.page.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        let revoked = try await service.delete("/v1/pairings?origin=\(encoded)")
        #expect(revoked.status == 200 && String(decoding: revoked.body, as: UTF8.self).contains("\"revoked\":2"))
        for key in [token, second] {
            #expect(try await curlBridge(port, "/v1/health", headers: ["Authorization": "Bearer \(key)"]).code == "unauthorized")
        }
        #expect(try await curlBridge(port, "/v1/health", headers: ["Authorization": "Bearer \(other)"]).status == 200)
        #expect(
            try await curlBridge(port, "/v1/health", headers: ["Authorization": "Bearer \(other)", "Origin": Self.page]).code == "forbidden_origin",
            "a revoked origin is no longer allowed")
        #expect(try await service.delete("/v1/pairings?origin=\(encoded)").status == 404)
        // Origins are checked and normalized.
        for bad in ["counter.example.gov.cn", "javascript:alert(1)", "https://user@host.example", "https://host.example/path", "null", ""] {
            let reply = try await service.post("/v1/pairings", #"{"origin":"\#(bad)"}"#)
            #expect(reply.status == 400, "origin '\(bad)'")
        }
        #expect(PairingStore.normalizedOrigin("HTTPS://Counter.Example.GOV.cn:443/") == Self.page)
        #expect(PairingStore.normalizedOrigin("http://[::1]:8080") == "http://[::1]:8080")
        try await service.stop()

        // A pairings file that cannot be read stops the start-up: it is never silently emptied.
        try Data("{not json".utf8).write(to: file)
        await #expect(throws: ServiceSetupError.self) { _ = try await RunningService.start(in: directory, tcp: true) }
    }

    @Test("counterkit pair issues, lists and revokes through the socket; serve takes --allow-origin and --ui")
    func pairCommand() async throws {
        let service = try await RunningService.start(tcp: true)
        let port = try #require(service.tcpPort)
        let counterkit = SANETestEnvironment.counterkitExecutable
        let paired = try await runCommandAsync([counterkit, "pair", Self.page, "--socket", service.socket])
        #expect(paired.status == 0)
        // The revoke hint works as printed: it names the socket the pairing went through.
        #expect(paired.output.contains("`counterkit pair --socket \(service.socket) --revoke \(Self.page)` withdraws it"), "\(paired.output)")
        let token = try #require(paired.output.split(separator: "\n").last.map(String.init))
        #expect(try await curlBridge(port, "/v1/health", headers: ["Authorization": "Bearer \(token)", "Origin": Self.page]).status == 200)
        let listed = try await runCommandAsync([counterkit, "pair", "--list", "--socket", service.socket])
        #expect(listed.output.contains(Self.page) && !listed.output.contains(token))
        let revoked = try await runCommandAsync([counterkit, "pair", "--revoke", Self.page, "--socket", service.socket])
        #expect(revoked.status == 0 && revoked.output.contains("revoked 1 token"))
        #expect(try await curlBridge(port, "/v1/health", headers: ["Authorization": "Bearer \(token)"]).code == "unauthorized")
        let bad = try await runCommandAsync(["/bin/sh", "-c", "'\(counterkit)' pair not-an-origin --socket '\(service.socket)' 2>&1"])
        #expect(bad.status == 1 && bad.output.contains("error: invalid_value:"))
        let noService = try await runCommandAsync(["/bin/sh", "-c", "'\(counterkit)' pair \(Self.page) --socket /nonexistent/api.sock 2>&1"])
        #expect(
            noService.status == 1 && noService.output.contains("error: service_unavailable:") && noService.output.contains("--socket PATH"),
            "\(noService.output)")
        try await service.stop()

        // A LAN address is refused saying why, and what to do instead.
        let lan = try await runCommandAsync(["/bin/sh", "-c", "'\(counterkit)' serve --listen 0.0.0.0:0 --socket /tmp/ck-unused.sock 2>&1"])
        #expect(
            lan.status != 0 && lan.output.contains("loopback addresses only") && lan.output.contains("no network credential")
                && lan.output.contains("--escl") && !lan.output.contains("no authentication over TCP"), "\(lan.output)")
        // --allow-origin's help says it does not authorize by itself.
        let help = try await runCommandAsync([counterkit, "serve", "--help"])
        let flowing = help.output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(flowing.contains("still needs the origin's paired token, or the answer is 401"), "\(help.output)")
        // With --ui the start-up log gives the console's address.
        let directory = try TemporaryDirectory("ck-ui-log")
        let logged = try ChildProcess(
            executable: "/bin/sh",
            arguments: [
                "-c", "exec \"$0\" serve --ui --listen 127.0.0.1:0 --socket \"$1\" --spool \"$2\" 2>\"$3\"",
                counterkit, directory.path("api.sock"), directory.path("spool"), directory.path("log"),
            ],
            environment: SANETestEnvironment.environment, pipeInput: false, pipeOutput: false, discardErrors: true)
        #expect(
            await eventually(within: .seconds(20)) {
                ((try? String(contentsOfFile: directory.path("log"), encoding: .utf8)) ?? "").contains("/ui/")
            }, "the log names the console")
        let log = (try? String(contentsOfFile: directory.path("log"), encoding: .utf8)) ?? ""
        #expect(log.contains("the device console is at http://127.0.0.1:") && log.contains("counterkit pair http://127.0.0.1:"), "\(log)")
        logged.signal(SIGTERM)
        _ = await logged.ended()

        let misuse = try await runCommandAsync(["/bin/sh", "-c", "'\(counterkit)' serve --ui --socket /tmp/ck-unused.sock 2>&1"])
        #expect(misuse.status != 0 && misuse.output.contains("--ui needs --listen"))
        let badOrigin = try await runCommandAsync([
            "/bin/sh", "-c",
            "'\(counterkit)' serve --listen 127.0.0.1:0 --allow-origin counter.example --socket /tmp/ck-unused.sock 2>&1",
        ])
        #expect(badOrigin.status != 0 && badOrigin.output.contains("--allow-origin expects a web origin"))
        let settings = try ServiceSettings.parse("listen = \"127.0.0.1:8990\"\nallow-origin = [\"https://a.example\"]\nui = true\n", file: "t.toml")
        #expect(settings.allowOrigins == ["https://a.example"] && settings.ui == true)
        #expect(throws: ServiceSettingsError.self) { try ServiceSettings.parse("ui = true\n", file: "t.toml") }
        #expect(throws: ServiceSettingsError.self) { try ServiceSettings.parse("listen = \"127.0.0.1:1\"\nallow-origin = \"nope\"\n", file: "t.toml") }
    }
}
