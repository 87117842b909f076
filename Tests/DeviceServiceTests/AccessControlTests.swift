import ChildProcesses
import CounterKitTestSupport
import Foundation
import Testing

/// `--allow-user`, `--allow-group`, `--group` and `--mode` seen from other users over the real socket: the service runs
/// as root (as CI does), the clients as users this test creates, switched to with `runuser`. Root only.
@Suite(.serialized, .enabled(if: getuid() == 0, "creating users and switching to them needs root"))
struct AccessControlTests {
    /// Users and a group made for the test, removed at the end: a clerk allowed by name, a member of the allowed group,
    /// and an outsider who is neither.
    final class Accounts {
        static let group = "ckt-counter"
        static let clerk = "ckt-clerk", member = "ckt-member", outsider = "ckt-outsider"

        init() throws {
            _ = try runCommand(["groupadd", "-f", Self.group])
            for user in [Self.clerk, Self.member, Self.outsider] where (try? runCommand(["id", user]).status) != 0 {
                let added = try runCommand(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", user])
                #expect(added.status == 0, "useradd \(user): \(added.output)")
            }
            _ = try runCommand(["usermod", "-a", "-G", Self.group, Self.member])
        }

        deinit {
            for user in [Self.clerk, Self.member, Self.outsider] { _ = try? runCommand(["userdel", user]) }
            _ = try? runCommand(["groupdel", Self.group])
        }
    }

    /// `curl` as `user` against the socket: the HTTP status, or 0 when it could not connect (and curl's exit status).
    static func status(as user: String, socket: String, path: String = "/v1/devices?refresh=false") async throws -> (http: Int, curl: Int32) {
        let run = try await runCommandAsync([
            "runuser", "-u", user, "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
            "--max-time", "20", "--unix-socket", socket, "http://localhost\(path)",
        ])
        return (Int(run.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, run.status)
    }

    /// The service as its own process, as root, with `arguments`; stopped by the caller.
    static func serve(_ arguments: [String], in directory: TemporaryDirectory, socket: String? = nil) async throws -> (ChildProcess, String) {
        let socket = socket ?? directory.path("api.sock")
        let service = try ChildProcess(
            executable: SANETestEnvironment.counterkitExecutable,
            arguments: ["serve", "--socket", socket, "--spool", directory.path("spool"), "--log-level", "error"] + arguments,
            environment: SANETestEnvironment.environment, pipeInput: false, pipeOutput: false, discardErrors: true)
        #expect(await eventually(within: .seconds(20)) { FileManager.default.fileExists(atPath: socket) }, "the service starts")
        return (service, socket)
    }

    static func directory() throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory("ck-access")
        chmod(directory.url.path, 0o755)  // the other users must reach the socket inside
        return directory
    }

    @Test func onlyAllowedUsersAndGroupsGetAnAnswer() async throws {
        let accounts = try Accounts()
        let directory = try Self.directory()
        // Mode 0666: everyone can connect, so what refuses the outsider is the API's allow-list, not the file mode.
        let (service, socket) = try await Self.serve(
            ["--allow-user", Accounts.clerk, "--allow-group", Accounts.group, "--mode", "0666"],
            in: directory)
        for (user, expected) in [(Accounts.clerk, 200), (Accounts.member, 200), (Accounts.outsider, 403)] {
            let answer = try await Self.status(as: user, socket: socket)
            #expect(answer.http == expected, "\(user): \(answer)")
        }
        // The refusal's body names the stable code.
        let body = try await runCommandAsync(["runuser", "-u", Accounts.outsider, "--", "curl", "-s", "--unix-socket", socket, "http://localhost/v1/health"])
        #expect(body.output.contains("\"forbidden\""), "\(body.output)")
        service.signal(SIGTERM)
        #expect(await service.ended() == .exited(0))
        withExtendedLifetime(accounts) {}
    }

    @Test func theSocketsGroupAndModeDecideWhoCanConnect() async throws {
        let accounts = try Accounts()
        let directory = try Self.directory()
        let (service, socket) = try await Self.serve(["--group", Accounts.group, "--mode", "0660"], in: directory)
        var info = stat()
        #expect(stat(socket, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660, "mode \(String(info.st_mode & 0o777, radix: 8))")
        #expect(getgrgid(info.st_gid).map { String(cString: $0.pointee.gr_name) } == Accounts.group, "the socket's group")
        // A member connects and is served; the outsider cannot connect at all (curl's exit 7, no HTTP status).
        #expect(try await Self.status(as: Accounts.member, socket: socket).http == 200)
        let outsider = try await Self.status(as: Accounts.outsider, socket: socket)
        #expect(outsider.http == 0 && outsider.curl == 7, "\(outsider)")
        service.signal(SIGTERM)
        #expect(await service.ended() == .exited(0))
        withExtendedLifetime(accounts) {}
    }

    /// Neither `--socket` nor `--direct`: the CLI finds the service at the default socket, `$XDG_RUNTIME_DIR/counterkit/
    /// api.sock` for a user and `/run/counterkit/api.sock` for root. The CLI runs without the test scanner's SANE
    /// configuration, so listing `test:0` proves the answer came from the service.
    @Test func theCLIFindsTheServiceAtTheDefaultSocket() async throws {
        let accounts = try Accounts()
        let directory = try Self.directory()
        try FileManager.default.createDirectory(atPath: directory.path("counterkit"), withIntermediateDirectories: true)
        chmod(directory.path("counterkit"), 0o755)
        let (service, _) = try await Self.serve(["--mode", "0666"], in: directory, socket: directory.path("counterkit/api.sock"))
        let listed = try await runCommandAsync([
            "runuser", "-u", Accounts.clerk, "--", "env", "-u", "SANE_CONFIG_DIR",
            "XDG_RUNTIME_DIR=\(directory.url.path)", SANETestEnvironment.counterkitExecutable, "devices", "--json",
        ])
        #expect(listed.status == 0 && listed.output.contains("\"test:0\""), "as a user: \(listed.output)")
        service.signal(SIGTERM)
        _ = await service.ended()
        // As root: /run/counterkit/api.sock, in a mount namespace of its own with a private /run/counterkit, so that
        // neither a service of the machine's nor the other tests' CLI runs (which look there too) see this one.
        try FileManager.default.createDirectory(atPath: "/run/counterkit", withIntermediateDirectories: true)
        let counterkit = SANETestEnvironment.counterkitExecutable
        let script = """
            mount -t tmpfs -o mode=0755 counterkit /run/counterkit || exit 97
            SANE_CONFIG_DIR='\(SANETestEnvironment.configDirectory)' '\(counterkit)' serve --spool '\(directory.path("root-spool"))' --log-level error &
            served=$!
            for _ in $(seq 200); do [ -S /run/counterkit/api.sock ] && break; sleep 0.1; done
            env -u SANE_CONFIG_DIR '\(counterkit)' devices --json
            status=$?
            kill -TERM $served; wait $served
            exit $status
            """
        let asRoot = try await runCommandAsync(["unshare", "--mount", "--propagation", "private", "sh", "-c", script])
        #expect(asRoot.status == 0 && asRoot.output.contains("\"test:0\""), "as root, at /run/counterkit/api.sock: \(asRoot.output)")
        withExtendedLifetime(accounts) {}
    }
}
